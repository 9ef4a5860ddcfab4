"""Deliveries that must never stop the office's run, nor any later run (issue 14).

Each case is run the way the office runs it (`tuoyu run`, a subprocess) with the inputs
of the probe that found it, then run again after the file is removed:

    case 0  June's institutions workbook copied as July's (`托育机构_2024年7月.xlsx`, its
            统计月份 cells still 2024-06): loaded, every row quarantined under INS-PERIOD,
            June untouched; the run after its removal completes too
    case 1  `托育机构_2024-05.csv`: a header and one row holding a single 50 MB cell:
            rejected at the door (cell limit) naming file, row, column and limit; the run
            after its removal completes too

and, loading the inbox in-process (faster, same code):

    limits  a header of a million extra columns; a workbook row wider than the column
            limit; a file of one row more than the row limit → each rejected at the door
            with file, row, column and limit; a header of 150 extra columns loads, and its
            load-log message stays short
    case 3  a file replaced between hashing and reading, or by a symbolic link: the version
            read is the one hashed, archived and staged; a file gone by then is `vanished`
    case 5  `托育机构_2099-01.csv` and `托育机构_1900-01.csv`: rejected (after the current
            month, before the first month); read again once the month is in range
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest.load import ingest_inbox
from pipeline.reference import default_reference_folder, load_reference, write_reference_tables
from tests.conftest import TEST_KEY
from tests.extract_fixtures import (ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row, make_id,
                                    write_csv, write_xlsx)
from tests.hostile_fixtures import TUOYU, csv_text, good_institutions, million_rows_csv, run_tuoyu, tuoyu_env

pytestmark = pytest.mark.heavy(seconds=120)

JUNE_ROWS = 22


def _june_workbook(path: Path) -> Path:
    """22 institutions of 2024-06; JG04 has 250 places (a W finding, INS-PLACES-HIGH)."""
    rows = [institution_row(period="2024-06", iid=f"JG{i:02d}") for i in range(1, JUNE_ROWS + 1)]
    rows[3] = institution_row(period="2024-06", iid="JG04", places="250")
    return write_xlsx(path, INSTITUTION_HEADER, rows)


def _query(root: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(root / "out" / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _completes(root: Path, inbox: Path):
    result = run_tuoyu(tuoyu_env(inbox, root / "out", key=None), timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert "运行完成" in result.output, result.output[-3000:]
    return result


def test_a_month_copied_as_the_next_is_quarantined_and_later_runs_complete(tmp_path):
    """Case 0. The copy has the same bytes as June's file, so the same SHA-256: its rows and
    June's used to be matched to each other's audit rows (GX 22, audit 44 for INS-PERIOD)
    and validation stopped every run, also after the copy was deleted."""
    inbox = tmp_path / "inbox"
    june = _june_workbook(inbox / "托育机构_2024年6月.xlsx")
    _completes(tmp_path, inbox)

    shutil.copyfile(june, inbox / "托育机构_2024年7月.xlsx")
    _completes(tmp_path, inbox)
    by_month = dict(_query(tmp_path, "select period, count(*) from core.institutions group by period"))
    assert by_month == {"2024-06": JUNE_ROWS}  # June's rows are not taken for July's, nor rejected with them
    rejected = _query(tmp_path, "select period, rule_id, count(*) from audit.rejected_rows group by all")
    assert rejected == [("2024-07", "INS-PERIOD", JUNE_ROWS)]
    warnings = _query(tmp_path, "select period, rule_id, count(*) from audit.row_warnings group by all order by 1")
    assert warnings == [("2024-06", "INS-PLACES-HIGH", 1), ("2024-07", "INS-PLACES-HIGH", 1)]
    (message, rows_rejected), = _query(
        tmp_path, "select message, rows_rejected from audit.load_log where file_path = '托育机构_2024年7月.xlsx'")
    assert rows_rejected == JUNE_ROWS
    assert "托育机构_2024年6月.xlsx" in message and "复制" in message  # the clerk is told what it looks like

    (inbox / "托育机构_2024年7月.xlsx").unlink()
    _completes(tmp_path, inbox)


def test_byte_identical_files_of_two_months_validated_together_keep_apart(tmp_path):
    """Case 0 with both months in one validation batch (a first run over both files): the
    rules that compare rows with each other (INS-ID-CONFLICT, ENR-CHILD-REPEAT,
    INS-DUPLICATE) must compare rows of one month only, and GX and the audit agree."""
    from pipeline.validate import validate

    inbox = tmp_path / "inbox"
    june = _june_workbook(inbox / "托育机构_2024年6月.xlsx")
    shutil.copyfile(june, inbox / "托育机构_2024年7月.xlsx")
    children = [child_row(period="2024-06", birth="2023-03-15", start="2024-01-05",
                          number=make_id(birth="20230315", seq=f"{i:03d}")) for i in (11, 13)]
    enrollment = write_csv(inbox / "在托幼儿_2024-06.csv", ENROLLMENT_HEADER, children)
    shutil.copyfile(enrollment, inbox / "在托幼儿_2024-07.csv")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_reference_tables(con, load_reference(default_reference_folder()))
    ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)
    report = validate(con)  # raises GxError when GX and the audit rows disagree
    assert report.rules_for("institutions", "2024-06") == {"INS-PLACES-HIGH": 1}
    assert report.rules_for("institutions", "2024-07") == {"INS-PERIOD": JUNE_ROWS, "INS-PLACES-HIGH": 1}
    assert report.rules_for("enrollment", "2024-06") == {}
    assert report.rules_for("enrollment", "2024-07") == {"ENR-PERIOD": 2, "ENR-INSTITUTION": 2}
    accepted = dict(con.execute("select period, count(*) from core.enrollment group by period").fetchall())
    assert accepted == {"2024-06": 2}
    con.close()


def test_a_50_mb_cell_is_rejected_at_the_door_and_later_runs_complete(tmp_path):
    """Case 1. The cell used to reach validation (DuckDB out of memory, no file named), and
    the staged row and the validation queue made every later run fail the same way."""
    inbox = tmp_path / "inbox"
    _june_workbook(inbox / "托育机构_2024年6月.xlsx")
    huge = tmp_path / "inbox" / "托育机构_2024-05.csv"
    huge.write_bytes(csv_text(INSTITUTION_HEADER, [institution_row(period="2024-05", **{"机构名称": "托" * 10})])
                     .replace(("托" * 10).encode(), b"x" * (50 << 20)))  # one cell of 50 MB in 机构名称
    run = _completes(tmp_path, inbox)
    (status, message), = _query(tmp_path, "select status, message from audit.load_log where file_path = ?",
                                [huge.name])
    assert status == "file_rejected"
    for words in (huge.name, "第 2 行", "机构名称", "52,428,800", "4,096"):  # file, row, column, length, limit
        assert words in message, message
    assert _query(tmp_path, "select count(*) from staging.institutions where period_file = '2024-05'") == [(0,)]
    assert _query(tmp_path, "select count(*) from audit.pending_validation") == [(0,)]
    assert 0 < run.peak_rss_mb < 2048, f"the run took {run.peak_rss_mb:.0f} MiB"  # its own peak (wait4)

    huge.unlink()
    _completes(tmp_path, inbox)


# ------------------------------------------------------------------ in-process


def _ingest(tmp_path: Path, inbox: Path, **kw):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        result = ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY, **kw)
        log = {p: (status, message) for p, status, message in
               con.execute("select file_path, status, message from audit.load_log").fetchall()}
        return result, log
    finally:
        con.close()


def test_limits_are_checked_at_the_door(tmp_path):
    inbox = tmp_path / "inbox"
    wide = INSTITUTION_HEADER + [f"备注{i}" for i in range(1_000_000)]  # a header of a million extra columns
    (inbox / "托育机构_2024-01.csv").parent.mkdir(parents=True)
    (inbox / "托育机构_2024-01.csv").write_bytes(csv_text(wide, [institution_row(period="2024-01")]))
    row = institution_row(period="2024-02") + [""] * 233 + ["右侧的单元格"]  # a workbook row 250 columns wide
    write_xlsx(inbox / "托育机构_2024-02.xlsx", INSTITUTION_HEADER, [institution_row(period="2024-02"), row])
    million_rows_csv(inbox / "在托幼儿_2024-03.csv", 1_000_001, period="2024-03")  # one row beyond the limit
    some = INSTITUTION_HEADER + [f"备注{i}" for i in range(150)]  # 150 extra columns: within the limit
    (inbox / "托育机构_2024-04.csv").write_bytes(csv_text(some, [institution_row(period="2024-04")]))
    result, log = _ingest(tmp_path, inbox)
    expected = {
        "托育机构_2024-01.csv": ["第 1 行", "1,000,016 列", "200 列"],
        "托育机构_2024-02.xlsx": ["第 3 行", "250 列", "200 列"],
        "在托幼儿_2024-03.csv": ["1,000,000 行", "第 1,000,002 行"],
    }
    for name, words in expected.items():
        status, message = log[name]
        assert status == "file_rejected" and name in message, (name, message)
        assert all(word in message for word in words), (name, message)
        assert len(message) < 2_000
    status, message = log["托育机构_2024-04.csv"]
    assert status == "loaded" and "等共 150 列" in message and len(message) < 2_000
    assert result.loaded == ["托育机构_2024-04.csv"]


def test_the_version_read_is_the_version_hashed_archived_and_staged(tmp_path, monkeypatch):
    """Case 3. Hashing (discovery) and reading were two openings: a file replaced in between
    was loaded with the other content under the first one's hash, and a link swapped in was
    followed. Now the bytes read once are hashed, archived and parsed."""
    import pipeline.ingest.load as ingest

    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    good_institutions(inbox / "托育机构_2024-01.csv", period="2024-01", n=2)
    good_institutions(inbox / "托育机构_2024-02.csv", period="2024-02", n=2)
    good_institutions(inbox / "托育机构_2024-03.csv", period="2024-03", n=2)
    secret = good_institutions(outside / "托育机构_2024-02.csv", period="2024-02", n=5)
    real_discover = ingest.discover

    def discover_then_swap(folder):
        found = real_discover(folder)
        good_institutions(folder / "托育机构_2024-01.csv", period="2024-01", n=3)  # replaced by a new version
        (folder / "托育机构_2024-02.csv").unlink()
        (folder / "托育机构_2024-02.csv").symlink_to(secret)  # replaced by a link to a file outside
        (folder / "托育机构_2024-03.csv").unlink()  # gone
        return found

    monkeypatch.setattr(ingest, "discover", discover_then_swap)
    result, log = _ingest(tmp_path, inbox)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    rows = dict(con.execute("select period, rows_read from audit.load_log where status = 'loaded'").fetchall())
    (sha,), = con.execute("select sha256 from audit.load_log where period = '2024-01'").fetchall()
    staged = con.execute("select distinct sha256 from staging.institutions").fetchall()
    con.close()
    new_version = (inbox / "托育机构_2024-01.csv").read_bytes()
    assert rows == {"2024-01": 3}  # the version read, whole
    assert sha == hashlib.sha256(new_version).hexdigest() and staged == [(sha,)]
    assert (tmp_path / "raw-archive" / f"{sha}.csv").read_bytes() == new_version
    archived = {p.read_bytes() for p in (tmp_path / "raw-archive").iterdir()}
    assert secret.read_bytes() not in archived  # nothing from outside the inbox
    for name in ("托育机构_2024-02.csv", "托育机构_2024-03.csv"):
        status, message = log[name]
        assert status == "vanished" and name in message and "放回收件箱" in message, message
    assert sorted(result.vanished) == ["托育机构_2024-02.csv", "托育机构_2024-03.csv"]

    monkeypatch.setattr(ingest, "discover", real_discover)
    (inbox / "托育机构_2024-02.csv").unlink()
    good_institutions(inbox / "托育机构_2024-03.csv", period="2024-03", n=2)  # back, as it was
    result, log = _ingest(tmp_path, inbox)
    assert log["托育机构_2024-03.csv"][0] == "loaded" and result.loaded == ["托育机构_2024-03.csv"]


def test_months_out_of_range_are_rejected_until_they_are_in_range(tmp_path):
    """Case 5. `托育机构_2099-01.csv` made the warehouse span 896 months; 1900-01 likewise."""
    inbox = tmp_path / "inbox"
    good_institutions(inbox / "托育机构_2099-01.csv", period="2099-01")
    good_institutions(inbox / "托育机构_1900-01.csv", period="1900-01")
    good_institutions(inbox / "托育机构_2024-06.csv", period="2024-06")
    result, log = _ingest(tmp_path, inbox, this_month="2024-07")
    assert result.loaded == ["托育机构_2024-06.csv"]
    assert log["托育机构_2099-01.csv"][0] == "file_rejected" and "晚于本月" in log["托育机构_2099-01.csv"][1]
    assert log["托育机构_1900-01.csv"][0] == "file_rejected" and "早于监测的起始月份" in log["托育机构_1900-01.csv"][1]
    assert "托育机构_2099-01.csv" in log["托育机构_2099-01.csv"][1]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    periods = con.execute("select period from audit.load_log where status = 'file_rejected'").fetchall()
    con.close()
    assert periods == [(None,), (None,)]  # no month span (status, marts) reaches out to 1900 or 2099
    result, log = _ingest(tmp_path, inbox, this_month="2024-07")  # again: recorded once, not read
    assert result.loaded == [] and len(log) == 3
    result, log = _ingest(tmp_path, inbox, this_month="2099-01", first_month="1900-01")  # now in range
    assert sorted(result.loaded) == ["托育机构_1900-01.csv", "托育机构_2099-01.csv"]
    assert {status for status, _ in log.values()} == {"loaded"} and len(log) == 3


def test_a_first_month_setting_that_is_not_a_month_is_said_in_chinese():
    from pipeline.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="TUOYU_FIRST_MONTH"):
        Settings.from_env({"TUOYU_FIRST_MONTH": "2019年"})
    assert Settings.from_env({}).first_month == "2019-01"
    assert Settings.from_env({"TUOYU_FIRST_MONTH": "2021-07"}).first_month == "2021-07"


def test_a_wrong_revision_is_withdrawn_and_the_earlier_version_comes_back(tmp_path):
    """Case 5's way back: `tuoyu withdraw KIND MONTH` / `FILE`, here as the module it wraps."""
    from pipeline.ingest.withdraw import WithdrawError, withdraw
    from pipeline.validate import validate

    inbox = tmp_path / "inbox"
    first = good_institutions(inbox / "托育机构_2024-06.csv", period="2024-06", n=2)
    os.utime(first, (1_717_000_000, 1_717_000_000))
    _ingest(tmp_path, inbox)
    wrong = good_institutions(inbox / "更正" / "托育机构_2024-06.csv", period="2024-06", n=5)  # the wrong revision
    good_institutions(inbox / "托育机构_2024-07.csv", period="2024-07", n=3)
    _ingest(tmp_path, inbox)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_reference_tables(con, load_reference(default_reference_folder()))
    con.execute("delete from audit.pending_validation")

    done = withdraw(con, inbox, tmp_path / "raw-archive", TEST_KEY, "托育机构", "2024-06")
    assert (done.file_path, done.restored) == ("更正/托育机构_2024-06.csv", "托育机构_2024-06.csv")
    assert "已撤回" in done.text() and "托育机构_2024-06.csv" in done.text()
    log = dict(con.execute("select file_path, status from audit.load_log").fetchall())
    assert log == {"托育机构_2024-06.csv": "loaded", "更正/托育机构_2024-06.csv": "withdrawn",
                   "托育机构_2024-07.csv": "loaded"}
    sha = hashlib.sha256(first.read_bytes()).hexdigest()
    assert con.execute("select distinct sha256, count(*) from staging.institutions where period_file = '2024-06' "
                       "group by all").fetchall() == [(sha, 2)]
    assert (tmp_path / "raw-archive" / f"{hashlib.sha256(wrong.read_bytes()).hexdigest()}.csv").exists()  # kept
    assert set(con.execute("select kind, period from audit.pending_validation").fetchall()) == {
        ("institutions", "2024-06"), ("enrollment", "2024-06"), ("staffing", "2024-06")}  # recomputed next

    done = withdraw(con, inbox, tmp_path / "raw-archive", TEST_KEY, str(inbox / "托育机构_2024-07.csv"))
    assert (done.file_path, done.restored) == ("托育机构_2024-07.csv", None) and "暂缺" in done.text()
    with pytest.raises(WithdrawError, match="没有在用"):
        withdraw(con, inbox, tmp_path / "raw-archive", TEST_KEY, "托育机构_2024-07.csv")
    with pytest.raises(WithdrawError, match="无法识别"):
        withdraw(con, inbox, tmp_path / "raw-archive", TEST_KEY, "机构", "2024-06")
    validate(con, {"institutions": ["2024-06", "2024-07"]})
    assert con.execute("select period, count(*) from core.institutions group by all").fetchall() == [("2024-06", 2)]
    con.close()

    result, log = _ingest(tmp_path, inbox)  # the withdrawn files are still in the inbox: not read again
    assert result.loaded == [] and sorted(result.withdrawn) == ["托育机构_2024-07.csv", "更正/托育机构_2024-06.csv"]


def test_tuoyu_withdraw_recomputes_the_month(tmp_path):
    inbox = tmp_path / "inbox"
    _june_workbook(inbox / "托育机构_2024年6月.xlsx")
    good_institutions(inbox / "托育机构_2024-07.csv", period="2024-07")
    _completes(tmp_path, inbox)
    assert _query(tmp_path, "select max(period) from marts.month_calendar") == [("2024-07",)]
    env = tuoyu_env(inbox, tmp_path / "out", key=None)
    result = run_tuoyu(env, argv=[str(TUOYU), "withdraw", "托育机构_2024-07.csv"], timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert "已撤回 托育机构_2024-07.csv" in result.output and "运行完成" in result.output
    assert _query(tmp_path, "select max(period) from marts.month_calendar") == [("2024-06",)]
    assert _query(tmp_path, "select status from audit.load_log where file_path = '托育机构_2024-07.csv'") == [
        ("withdrawn",)]


def _two_months_with_a_planted_rule(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """June and July institutions, one row without a name in each; and a copy of the suites
    whose INS-NAME query returns July's failing rows twice (the planted defect)."""
    suites = tmp_path / "expectations"
    shutil.copytree(Path(__file__).resolve().parents[1] / "expectations", suites)
    data = (suites / "institutions.json").read_text(encoding="utf-8")
    clean = "select b.sha256, b.period_file, b.row_number from b where b.name is null"
    assert data.count(clean + '"') == 1
    data = data.replace(clean + '"', clean + " union all " + clean + " and b.period_file = '2024-07'\"")
    (suites / "institutions.json").write_text(data, encoding="utf-8")
    inbox = tmp_path / "inbox"
    for period in ("2024-06", "2024-07"):
        (inbox / f"托育机构_{period}.csv").parent.mkdir(parents=True, exist_ok=True)
        (inbox / f"托育机构_{period}.csv").write_bytes(csv_text(INSTITUTION_HEADER, [
            institution_row(period=period, iid="JG01"), institution_row(period=period, iid="JG02", **{"机构名称": ""})]))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_reference_tables(con, load_reference(default_reference_folder()))
    ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)
    return con, suites


def test_gx_and_audit_disagreeing_fails_tests_and_sets_the_file_aside_at_run_time(tmp_path):
    """The agreement check is a guard: loud in tests (strict), and in the office's run it
    names the file and sets it aside instead of stopping the run (and every later one)."""
    from pipeline.validate import validate
    from pipeline.validate.gx_session import GxError

    con, suites = _two_months_with_a_planted_rule(tmp_path)
    with pytest.raises(GxError, match="托育机构_2024-07.csv"):
        validate(con, suites_dir=suites)  # strict: TUOYU_STRICT_CHECKS=1 in the tests
    report = validate(con, suites_dir=suites, strict=False)
    assert report.set_aside == (("institutions", "2024-07", "托育机构_2024-07.csv"),)
    log = {p: (s, m) for p, s, m in con.execute("select file_path, status, message from audit.load_log").fetchall()}
    assert log["托育机构_2024-06.csv"][0] == "loaded"
    status, message = log["托育机构_2024-07.csv"]
    assert status == "file_rejected" and "托育机构_2024-07.csv" in message and "暂不采用" in message
    assert con.execute("select period, rule_id from audit.rejected_rows").fetchall() == [("2024-06", "INS-NAME")]
    assert con.execute("select period, count(*) from core.institutions group by all").fetchall() == [("2024-06", 1)]
    assert con.execute("select count(*) from staging.institutions where period_file = '2024-07'").fetchone() == (0,)
    con.close()
    result, _ = _ingest(tmp_path, tmp_path / "inbox")  # the next run does not read it again
    assert result.loaded == [] and ("托育机构_2024-07.csv", "(earlier run)") in result.rejected


def test_a_file_that_fails_validation_is_set_aside_and_the_run_goes_on(tmp_path):
    """Whatever makes validation fail on one file's values (here a planted rule that cannot
    be evaluated on July's names; in the probe, DuckDB out of memory on a 50 MB cell): each
    month is validated alone, July's file is set aside naming it, June is validated."""
    from pipeline.validate.run import validate_or_set_aside

    con, suites = _two_months_with_a_planted_rule(tmp_path)
    data = (suites / "institutions.json").read_text(encoding="utf-8")
    clean = "select b.sha256, b.period_file, b.row_number from b where b.name is null"
    broken = (clean + " or (case when b.period_file = '2024-07' then cast(b.name as integer) > 0 else false end)")
    data = data.replace(clean + " union all " + clean + " and b.period_file = '2024-07'\"", broken + '"')
    (suites / "institutions.json").write_text(data, encoding="utf-8")  # the planted defect: fails on July only
    con.close()
    warehouse = tmp_path / "warehouse.duckdb"
    scope = {"institutions": ["2024-06", "2024-07"]}
    with pytest.raises(Exception):
        validate_or_set_aside(warehouse, scope, suites_dir=suites, strict=True)
    report = validate_or_set_aside(warehouse, scope, suites_dir=suites, strict=False)
    assert report.set_aside == (("institutions", "2024-07", "托育机构_2024-07.csv"),)
    assert [(f.period, f.rows_rejected) for f in report.files] == [("2024-06", 1)]
    con = duckdb.connect(str(warehouse), read_only=True)
    (status, message), = con.execute("select status, message from audit.load_log "
                                     "where file_path = '托育机构_2024-07.csv'").fetchall()
    con.close()
    assert status == "file_rejected" and "托育机构_2024-07.csv" in message and "校验时出错" in message
