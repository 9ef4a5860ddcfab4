"""`tuoyu status`: months × kinds from the load log, incomplete months, the last run."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.analysts.publish import publish
from pipeline.analysts.export import display_width
from pipeline.analysts.query import open_published
from pipeline.warehouse.schema import create_tables
from pipeline.commands.status import (ALL_ROWS_REJECTED, LOADED, MISSING, REJECTED, format_status, record_run,
                             status, status_command)

# (file_path, kind, period, sha256, rows_read, rows_accepted, rows_rejected, status, loaded_at day-hour)
LOG = [
    # 2024-01: complete; staffing not validated yet (rows_accepted NULL)
    ("institutions_2024-01.csv", "institutions", "2024-01", "i1", 10, 9, 1, "loaded", "02-05 09"),
    ("enrollment_2024-01.csv", "enrollment", "2024-01", "e1", 50, 50, 0, "loaded", "02-05 09"),
    ("staffing_2024-01.csv", "staffing", "2024-01", "s1", 20, None, None, "loaded", "02-05 09"),
    # 2024-02: enrollment revised (two versions) plus an identical copy under another name
    # (not a version); staffing missing
    ("institutions_2024-02.csv", "institutions", "2024-02", "i2", 10, 10, 0, "loaded", "03-05 09"),
    ("enrollment_2024-02.csv", "enrollment", "2024-02", "e2a", 50, 50, 0, "superseded", "03-05 09"),
    ("enrollment_2024-02_v2.csv", "enrollment", "2024-02", "e2b", 51, 48, 3, "loaded", "03-08 10"),
    ("copy/enrollment_2024-02_v2.csv", "enrollment", "2024-02", "e2b", None, None, None, "unchanged", "03-09 10"),
    # 2024-03: a revised staffing file could not be read: the earlier version is still used,
    # but the office must deliver it again; institutions: every row rejected
    ("institutions_2024-03.csv", "institutions", "2024-03", "i3", 8, 0, 8, "loaded", "04-05 09"),
    ("enrollment_2024-03.csv", "enrollment", "2024-03", "e3", 50, 50, 0, "loaded", "04-05 09"),
    ("staffing_2024-03.csv", "staffing", "2024-03", "s3a", 20, 20, 0, "loaded", "04-05 09"),
    ("staffing_2024-03_修订.xlsx", "staffing", "2024-03", "s3b", None, None, None, "file_rejected", "04-07 09"),
    # 2024-04 (two months later than 2024-02's gap): only a rejected enrollment file
    ("enrollment_2024-04.csv", "enrollment", "2024-04", "e4", None, None, None, "file_rejected", "05-05 09"),
    ("readme.txt", None, None, None, None, None, None, "unrecognised", "05-05 09"),
]


def make_log(con: duckdb.DuckDBPyConnection, rows=LOG) -> None:
    create_tables(con)
    for path, kind, period, sha, read, accepted, rejected, state, when in rows:
        loaded_at = datetime.strptime(f"2024-{when}", "%Y-%m-%d %H")
        con.execute(
            """insert into audit.load_log (file_path, kind, period, sha256, rows_read, rows_accepted,
               rows_rejected, rows_duplicate, status, message, loaded_at, size_bytes, modified_at)
               values (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 100, ?)""",
            [path, kind, period, sha, read, accepted, rejected, state,
             "缺少表头：岗位。" if state == "file_rejected" else None, loaded_at, loaded_at],
        )


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    make_log(connection)
    yield connection
    connection.close()


def test_months_by_kind(con):
    report = status(con)
    assert [m.period for m in report.months] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    jan, feb, mar, apr = report.months
    assert jan.complete
    assert jan.kinds["institutions"].received_at == datetime(2024, 2, 5, 9)
    assert jan.kinds["institutions"].rows_rejected == 1
    assert jan.kinds["staffing"].rows_rejected is None  # not validated yet
    enrollment = feb.kinds["enrollment"]
    assert (enrollment.state, enrollment.versions, enrollment.revised) == (LOADED, 2, True)
    assert enrollment.file_path == "enrollment_2024-02_v2.csv"
    assert enrollment.received_at == datetime(2024, 3, 8, 10) and enrollment.rows_rejected == 3
    assert feb.kinds["staffing"].state == MISSING
    assert mar.kinds["institutions"].state == ALL_ROWS_REJECTED
    staffing = mar.kinds["staffing"]
    assert (staffing.state, staffing.fallback_path, staffing.versions) == (REJECTED, "staffing_2024-03.csv", 2)
    assert apr.kinds["enrollment"].state == REJECTED and apr.kinds["enrollment"].fallback_path is None
    assert apr.kinds["institutions"].state == MISSING
    assert report.unrecognised == ["readme.txt"]


def test_incomplete_months_and_why(con):
    report = status(con)
    assert [m.period for m in report.incomplete_months] == ["2024-02", "2024-03", "2024-04"]
    feb, mar, apr = report.incomplete_months
    assert feb.problems_zh() == ["缺从业人员"]
    assert mar.problems_zh() == ["托育机构全部数据行被剔除", "从业人员文件被拒收（仍使用此前版本）"]
    assert apr.problems_zh() == ["缺托育机构", "在托幼儿文件被拒收", "缺从业人员"]


def test_through_adds_months_with_nothing_received(con):
    report = status(con, through="2024-06")
    assert [m.period for m in report.months][-2:] == ["2024-05", "2024-06"]
    assert all(k.state == MISSING for k in report.months[-1].kinds.values())


def test_empty_warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        report = status(con)
        assert report.months == [] and report.last_run is None
        assert "尚未收到任何可识别的报表文件" in format_status(report)
        assert "最近一次运行：无记录" in format_status(report)
    finally:
        con.close()


def test_record_run_and_last_run(con):
    record_run(con, "r1", datetime(2024, 4, 5, 8, 0), datetime(2024, 4, 5, 8, 3), True, "运行完成。")
    record_run(con, "r2", datetime(2024, 5, 5, 8, 0))  # started, not finished
    run = status(con).last_run
    assert (run.run_id, run.success, run.finished_at) == ("r2", None, None)
    record_run(con, "r2", datetime(2024, 5, 5, 8, 0), datetime(2024, 5, 5, 8, 4), False, "校验失败。")
    run = status(con).last_run
    assert (run.run_id, run.success, run.summary) == ("r2", False, "校验失败。")
    assert con.execute("select count(*) from audit.runs").fetchone()[0] == 2  # replaced, not added


def test_format_status_in_chinese(con):
    record_run(con, "r1", datetime(2024, 5, 5, 8, 0), datetime(2024, 5, 5, 8, 3), True, "文件 loaded 3。")
    text = format_status(status(con))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("月份"))
    assert header.split() == ["月份", "托育机构", "在托幼儿", "从业人员", "完整"]
    jan = next(line for line in lines if line.startswith("2024-01"))
    assert "2024-02-05 收到，剔除1行" in jan and "待校验" in jan and jan.rstrip().endswith("是")
    feb = next(line for line in lines if line.startswith("2024-02"))
    assert "修订2版，剔除3行" in feb and "缺失" in feb and feb.rstrip().endswith("否")
    mar = next(line for line in lines if line.startswith("2024-03"))
    assert "全部行剔除" in mar and "被拒收，沿用旧版，共2版" in mar
    assert "不完整的月份（3 个）：" in text
    assert "  2024-02：缺从业人员" in lines
    assert "      staffing_2024-03_修订.xlsx：缺少表头：岗位。" in lines  # why, and which file
    assert "收件箱中文件名无法识别、未读取的文件 1 个（请按提示改名后重新运行）：" in text and "  readme.txt" in lines
    assert "最近一次运行：2024-05-05 08:00 开始，2024-05-05 08:03 结束，成功。" in text
    # columns line up although the cells hold Chinese text: the last column starts at one place
    rows = [line.rstrip() for line in lines if line[:5] == "2024-" and line.rstrip()[-1] in "是否"]
    assert len(rows) == 4
    assert {display_width(line[:-1]) for line in rows} == {display_width(header.rstrip()[:-2])}

def test_open_data_quality_flags_per_month(con):
    # marts.quality_flags (only the columns status reads): 2024-01 two flags, one of them
    # confirmed; 2024-03 one open flag; 2024-02 none.
    con.execute("create schema if not exists marts")
    con.execute("create table marts.quality_flags (period varchar, flag_key varchar)")
    con.execute("insert into marts.quality_flags values ('2024-01', 'A'), ('2024-01', 'B'), ('2024-03', 'C')")
    con.execute("insert into audit.quality_confirmations values ('B', '已核实', '2024-02-01 09:00:00')")
    text = format_status(status(con))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("月份"))
    assert header.split() == ["月份", "托育机构", "在托幼儿", "从业人员", "待核实提示", "完整"]
    cells = {line[:7]: line.split()[-2] for line in lines if line[:5] == "2024-" and line.rstrip()[-1] in "是否"}
    assert cells == {"2024-01": "1（另已核实1）", "2024-02": "0", "2024-03": "1", "2024-04": "0"}
    assert "待核实的数据核查提示共 2 条：用 tuoyu quality list 查看" in text


def test_status_works_on_the_published_copy(con, tmp_path):
    record_run(con, "r1", datetime(2024, 5, 5, 8, 0), datetime(2024, 5, 5, 8, 3), True, None)
    database = publish(con, tmp_path / "warehouse.duckdb")
    pub = open_published(database)
    try:
        report = status(pub)
    finally:
        pub.close()
    assert [m.period for m in report.incomplete_months] == ["2024-02", "2024-03", "2024-04"]
    assert report.last_run.run_id == "r1"


HOLD_WRITER = r"""
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
"""


def test_command_reads_the_published_copy_while_a_run_holds_the_warehouse(con, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    database = publish(con, warehouse)
    con.close()
    writer = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(warehouse)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "holding"
        out = io.StringIO()
        assert status_command(warehouse, database, out=out) == 0
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    text = out.getvalue()
    assert text.startswith("（数据仓库正被占用")
    assert "不完整的月份（3 个）" in text


def test_command_reads_the_warehouse_when_free(con, tmp_path):
    con.close()
    out = io.StringIO()
    assert status_command(tmp_path / "warehouse.duckdb", None, through="2024-05", out=out) == 0
    assert out.getvalue().startswith("数据接收情况") and "2024-05" in out.getvalue()
    out = io.StringIO()
    assert status_command(tmp_path / "nowhere.duckdb", None, out=out) == 1
    assert "tuoyu run" in out.getvalue()


def test_months_start_at_the_first_delivered_file_or_from(con):
    make_log(con, [("vanished_early.csv", "institutions", "2021-01", "v", None, None, None, "vanished", "01-01 09")])
    assert status(con).months[0].period == "2024-01"  # not the vanished file's month
    assert [m.period for m in status(con, first="2024-03").months] == ["2024-03", "2024-04"]


def test_unrecognised_files_as_the_inbox_is_now_and_their_look_alikes(con, tmp_path):
    make_log(con, [("从业人员 2024年2月.ett", None, None, "u1", None, None, None, "unrecognised", "03-01 09"),
                   ("renamed_since.txt", None, None, "u2", None, None, None, "unrecognised", "03-01 09")])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("readme.txt", "从业人员 2024年2月.ett"):
        (inbox / name).write_text("x")
    report = status(con, inbox=inbox)
    assert report.unrecognised == ["readme.txt", "从业人员 2024年2月.ett"]  # renamed_since.txt is gone
    feb = report.months[1]
    assert feb.problems_zh() == [
        "缺从业人员（收件箱中的 从业人员 2024年2月.ett 文件名无法识别，可能就是该报表：请另存为 从业人员_2024-02.xlsx）"]
    assert "renamed_since.txt" in status(con).unrecognised  # without the inbox: every one logged


def test_a_stretch_of_months_with_nothing_is_one_line(con):
    text = format_status(status(con, through="2024-09"))
    assert "2024-05 至 2024-09（5 个月）：三类报表均未收到" in text.splitlines()
    assert "  2024-05 至 2024-09（5 个月）：三类报表均未收到" in text.splitlines()
    assert "不完整的月份（8 个）：" in text
    assert not any(line.startswith("2024-07 ") for line in text.splitlines())


def test_the_clerk_reads_a_message_without_its_english_sentence():
    from pipeline.commands.status import chinese_part

    assert chinese_part("第 1 行表头缺少必填列：岗位。该月此类数据暂缺。 File 2024/从业人员_2024-08.csv: header "
                        "row 1 lacks required columns: role. Nothing was loaded.") == "第 1 行表头缺少必填列：岗位。该月此类数据暂缺。"
    assert chinese_part("只有中文。") == "只有中文。"
