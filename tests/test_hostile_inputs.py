"""Hostile and broken input: each gives a clear message naming the file, and nothing else
is lost (the rest of the inbox loads).

One inbox holds good extracts for June and, beside them, every hostile file of the
corpus below; `tuoyu run` (a subprocess, as the office runs it) must complete, load the
good files and every readable hostile one, and record each unreadable one in the load
log with a Chinese message. The rest are smaller tests of one file each: a million-row
file, an oversized CSV, a named pipe, and an inbox that disappears in the middle of
loading.

The corpus (file → what is wrong with it → expected standing):

    2023/托育机构_2023-06.csv    good, but one institution is named `=cmd|' /C calc'!A0` → loaded
    2023/在托幼儿_2023-06.csv    good                                               → loaded
    2023/从业人员_2023-06.csv    good                                               → loaded
    托育机构_2023-05.csv         the header row repeated between the data rows       → loaded, that row rejected
    在托幼儿_2023-05.csv         4 KB of random bytes (NUL among them)               → file_rejected (encoding)
    从业人员_2023-05.xlsx        random bytes named .xlsx                            → file_rejected (not a workbook)
    托育机构_2023-04.csv         an institution name of one megabyte, in row 2       → file_rejected (cell limit)
    在托幼儿_2023-04.xlsx        a zip bomb: one entry declaring 1 GiB of zeros      → file_rejected (size)
    从业人员_2023-04.csv         random bytes without NUL                            → file_rejected
    ｉｎｓｔｉｔｕｔｉｏｎｓ_2023-03.csv  full-width letters (NFKC: institutions)         → loaded
    " institutions_2023-02.csv"  a leading space                                     → loaded
    a..b/托育机构_2023-01..csv   `..` in the folder and the name                     → unrecognised
    institutions_2023-01 .csv    a space before the extension                        → unrecognised
    instituti(Cyrillic о)ns_2023-01.csv   a look-alike letter                        → unrecognised, says which
    institu(ZWSP)tions_2023-01.csv        an invisible character                     → unrecognised, says which
    =cmd|' calc'!A0.csv          a formula as a file name                            → unrecognised
    ..托育机构_2023-01.csv       hidden (a leading dot)                              → not a delivery: not listed
    托育机构_2023-01.csv         a symbolic link to a good file outside the inbox    → unrecognised, not followed
    外部/                        a symbolic link to a folder outside the inbox       → unrecognised, not entered
    从业人员_2023-01.csv         a named pipe (reading it would wait forever)        → unrecognised, never opened
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest.extracts.files import discover
from pipeline.ingest.extracts.csv_reader import MAX_CSV_BYTES
from pipeline.ingest.extracts.read import FileRejected, read_extract
from pipeline.ingest.load import InboxMissing, ingest_inbox
from tests.conftest import TEST_KEY
from tests.extract_fixtures import (
    ENROLLMENT_HEADER,
    INSTITUTION_HEADER,
    STAFFING_HEADER,
    child_row,
    institution_row,
    make_id,
    staff_row,
)
from tests.hostile_fixtures import (
    csv_text,
    good_institutions,
    lying_zip_bomb,
    million_rows_csv,
    random_bytes,
    run_tuoyu,
    tuoyu_env,
    zip_bomb,
)

pytestmark = pytest.mark.heavy(seconds=15)

FORMULA = "=cmd|' /C calc'!A0"
MEGABYTE = "托" * (1 << 20)
CYRILLIC = "instituti\u043ens_2023-01.csv"
ZERO_WIDTH = "institu\u200btions_2023-01.csv"
FORMULA_NAME = "=cmd|' calc'!A0.csv"


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def build_corpus(inbox: Path, outside: Path) -> None:
    june = inbox / "2023"
    _put(june / "托育机构_2023-06.csv", csv_text(INSTITUTION_HEADER, [
        institution_row(iid="JG01"), institution_row(iid="JG02", **{"机构名称": FORMULA})]))
    _put(june / "在托幼儿_2023-06.csv", csv_text(ENROLLMENT_HEADER, [
        child_row(number=make_id(birth="20220315", seq=f"{i:03d}")) for i in (11, 13, 15)]))
    _put(june / "从业人员_2023-06.csv", csv_text(STAFFING_HEADER, [staff_row(), staff_row(iid="JG02")]))

    # The header row again between the data rows: a row whose 统计月份 is "统计月份".
    _put(inbox / "托育机构_2023-05.csv", csv_text(INSTITUTION_HEADER, [
        institution_row(period="2023-05", iid="JG01"), INSTITUTION_HEADER,
        institution_row(period="2023-05", iid="JG02")]))
    random_bytes(inbox / "在托幼儿_2023-05.csv", 4096, seed=5)
    random_bytes(inbox / "从业人员_2023-05.xlsx", 4096, seed=6)

    _put(inbox / "托育机构_2023-04.csv", csv_text(INSTITUTION_HEADER, [
        institution_row(period="2023-04", iid="JG01", **{"机构名称": MEGABYTE}),
        institution_row(period="2023-04", iid="JG02")]))
    zip_bomb(inbox / "在托幼儿_2023-04.xlsx", 1 << 30)
    # (A 50 MB cell, once an out-of-memory stop of every run, has a test of its own:
    # tests/test_hostile_deliveries.py, which also checks the run's memory and the next run.)
    random_bytes(inbox / "从业人员_2023-04.csv", 4096, seed=7, nul=False)

    good_institutions(inbox / "ｉｎｓｔｉｔｕｔｉｏｎｓ_2023-03.csv", period="2023-03")
    good_institutions(inbox / " institutions_2023-02.csv", period="2023-02")

    for name in ("a..b/托育机构_2023-01..csv", "institutions_2023-01 .csv", CYRILLIC, ZERO_WIDTH, FORMULA_NAME,
                 "..托育机构_2023-01.csv"):
        good_institutions(inbox / name, period="2023-01")
    target = good_institutions(outside / "托育机构_2023-01.csv", period="2023-01", n=3)  # bytes of its own
    (inbox / "托育机构_2023-01.csv").symlink_to(target)
    good_institutions(outside / "folder" / "institutions_2022-12.csv", period="2022-12")
    (inbox / "外部").symlink_to(outside / "folder", target_is_directory=True)
    os.mkfifo(inbox / "从业人员_2023-01.csv")


# (file, standing, words its message must contain, whether the message names the file
# itself; the load log and `tuoyu status` always show the path beside the message)
EXPECTED = [
    ("2023/托育机构_2023-06.csv", "loaded", [], False),
    ("2023/在托幼儿_2023-06.csv", "loaded", [], False),
    ("2023/从业人员_2023-06.csv", "loaded", [], False),
    ("托育机构_2023-05.csv", "loaded", [], False),
    ("在托幼儿_2023-05.csv", "file_rejected", ["编码"], True),
    ("从业人员_2023-05.xlsx", "file_rejected", ["不是有效的 Excel"], True),
    ("托育机构_2023-04.csv", "file_rejected", ["第 2 行", "机构名称", "4,096"], True),
    ("在托幼儿_2023-04.xlsx", "file_rejected", ["解压后大小"], True),
    ("从业人员_2023-04.csv", "file_rejected", [], True),
    ("ｉｎｓｔｉｔｕｔｉｏｎｓ_2023-03.csv", "loaded", [], False),
    (" institutions_2023-02.csv", "loaded", [], False),
    ("a..b/托育机构_2023-01..csv", "unrecognised", ["文件名不符合规定"], False),
    ("institutions_2023-01 .csv", "unrecognised", ["文件名不符合规定"], False),
    (CYRILLIC, "unrecognised", ["U+043E"], True),
    (ZERO_WIDTH, "unrecognised", ["U+200B"], True),
    (FORMULA_NAME, "unrecognised", ["文件名不符合规定"], False),
    ("托育机构_2023-01.csv", "unrecognised", ["符号链接"], True),
    ("外部", "unrecognised", ["符号链接"], True),
    ("从业人员_2023-01.csv", "unrecognised", ["不是普通文件"], True),
]
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    inbox, outside = root / "inbox", root / "outside"
    outside.mkdir()
    build_corpus(inbox, outside)
    before = {p.relative_to(inbox).as_posix(): (p.lstat().st_mode, p.lstat().st_size) for p in inbox.rglob("*")}
    result = run_tuoyu(tuoyu_env(inbox, root / "out", key=None), timeout=300)
    return root, inbox, outside, before, result


def _log(root: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(root / "out" / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select file_path, status, message, rows_read, rows_rejected, sha256 "
                           "from audit.load_log").fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def test_the_run_completes_and_reports(corpus_run):
    root, _, _, _, result = corpus_run
    assert result.returncode == 0, result.output[-3000:]
    assert 0 < result.peak_rss_mb < 2048, result.peak_rss_mb  # one of each hostile file: under 2 GB
    assert "运行完成" in result.output
    assert (root / "out" / "reports" / "2023-06" / "report_2023-06.pdf").stat().st_size > 10_000


@pytest.mark.parametrize("path, status, words, named", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_each_file_has_its_standing_and_a_clear_message(corpus_run, path, status, words, named):
    log = _log(corpus_run[0])
    assert path in log, sorted(log)
    got_status, message = log[path][0], log[path][1]
    assert got_status == status, message
    if status != "loaded":
        assert _CJK.search(message), message
    if named:
        assert path.rsplit("/", 1)[-1] in message
    for word in words:
        assert word in message


def test_nothing_else_is_lost(corpus_run):
    root, inbox, _, before, _ = corpus_run
    log = _log(root)
    assert set(log) == {e[0] for e in EXPECTED}  # the hidden file is not a delivery, nothing more
    rows = {p: v[2] for p, v in log.items() if v[0] == "loaded"}
    assert rows["2023/托育机构_2023-06.csv"] == 2 and rows["2023/在托幼儿_2023-06.csv"] == 3
    assert rows["托育机构_2023-05.csv"] == 3 and log["托育机构_2023-05.csv"][3] == 1  # the header row, rejected
    con = duckdb.connect(str(root / "out" / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        staged_april = con.execute("select count(*) from staging.institutions where period_file = '2023-04'").fetchone()
        rejected = con.execute("select rule_id from audit.rejected_rows where period = '2023-05'").fetchall()
    finally:
        con.close()
    assert staged_april == (0,)  # a megabyte-long name is beyond the cell limit: nothing of the file is staged
    assert rejected  # the repeated header fails its rules like any bad row
    # Every file is still in the inbox, as it was; nothing outside the inbox was read.
    after = {p.relative_to(inbox).as_posix(): (p.lstat().st_mode, p.lstat().st_size) for p in inbox.rglob("*")}
    assert after == before
    archived = {p.name.split(".")[0] for p in (root / "out" / "warehouse" / "raw-archive").iterdir()}
    outside = {hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus_run[2].rglob("*.csv")}
    assert archived and not archived & outside and not {v[4] for v in log.values()} & outside


def test_the_clerk_sees_each_problem_in_status(corpus_run, capsys):
    from pipeline.commands.status import status_command

    root = corpus_run[0]
    status_command(root / "out" / "warehouse" / "warehouse.duckdb", through="2023-06")
    shown = capsys.readouterr().out
    for path, status, _, _ in EXPECTED:
        if status == "file_rejected":
            assert path in shown
    assert "文件名无法识别" in shown


def test_formula_cells_are_text_and_neutralised_in_every_export(corpus_run, tmp_path):
    """Stored as the text delivered; in CSV and XLSX exports prefixed with ' so that no
    spreadsheet runs it (OWASP CSV injection)."""
    import openpyxl

    from pipeline.analysts.query import sql_command

    root = corpus_run[0]
    con = duckdb.connect(str(root / "out" / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        stored = con.execute("select name from staging.institutions where institution_id = 'JG02' "
                             "and period_file = '2023-06'").fetchone()[0]
    finally:
        con.close()
    assert stored == FORMULA
    published = root / "out" / "warehouse" / "published" / "tuoyu.duckdb"
    quoted_name = FORMULA_NAME.replace("'", "''")
    query = ("select name from marts.operating_institutions where period = '2023-06' and institution_id = 'JG02' "
             f"union all select file_path from audit.load_log where file_path = '{quoted_name}'")
    assert sql_command(published, query=query, fmt="csv", output=tmp_path / "out.csv") == 0
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        cells = [row[0] for row in csv.reader(handle)][1:]
    assert cells == ["'" + FORMULA, "'" + FORMULA_NAME]
    assert sql_command(published, query=query, fmt="xlsx", output=tmp_path / "out.xlsx") == 0
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    values = [(c.value, c.data_type) for (c,) in sheet.iter_rows(min_row=2, max_col=1)]
    assert values == [("'" + FORMULA, "s"), ("'" + FORMULA_NAME, "s")]


# ------------------------------------------------------------------ one file at a time


def _ingest(tmp_path: Path, inbox: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    return con, ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)


def test_a_million_rows_load(tmp_path, record_property):
    """88 MB, one million enrollment rows: loaded, counted, and the rest of the inbox too.
    Measured on the CI machine (2 cores): see docs/reliability.md for the figures."""
    inbox = tmp_path / "inbox"
    million_rows_csv(inbox / "在托幼儿_2023-06.csv", 1_000_000)
    good_institutions(inbox / "托育机构_2023-06.csv")
    started = time.perf_counter()
    con, result = _ingest(tmp_path, inbox)
    seconds = time.perf_counter() - started
    record_property("million_row_ingest_seconds", round(seconds, 1))
    counts = dict(con.execute("select file_path, rows_read from audit.load_log where status = 'loaded'").fetchall())
    assert counts == {"在托幼儿_2023-06.csv": 1_000_000, "托育机构_2023-06.csv": 2}
    assert con.execute("select count(*) from staging.enrollment").fetchone()[0] == 1_000_000
    assert seconds < 120


def test_an_oversized_csv_is_refused_before_reading(tmp_path):
    path = tmp_path / "在托幼儿_2023-06.csv"
    with open(path, "wb") as handle:  # sparse: costs no disk and no time
        handle.truncate(MAX_CSV_BYTES + 1)
    with pytest.raises(FileRejected) as err:
        read_extract(path, "enrollment", "csv", path.name)
    assert path.name in err.value.zh and "上限" in err.value.zh


def test_a_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    path = zip_bomb(tmp_path / "在托幼儿_2023-06.xlsx", 1 << 30)
    assert path.stat().st_size < 2 << 20  # small on disk; a gigabyte once inflated
    started = time.perf_counter()
    with pytest.raises(FileRejected) as err:
        read_extract(path, "enrollment", "xlsx", path.name)
    assert time.perf_counter() - started < 1  # refused before inflating anything
    assert path.name in err.value.zh and "解压后大小 1024 MB" in err.value.zh


def test_a_zip_that_declares_less_than_it_holds_is_refused(tmp_path):
    path = lying_zip_bomb(tmp_path / "托育机构_2023-06.xlsx", inflated=64 << 20, declared=1000)
    started = time.perf_counter()
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "xlsx", path.name)
    assert time.perf_counter() - started < 2  # counted up to the declared size, then stopped
    assert path.name in err.value.zh and "声明的大小" in err.value.zh


def test_an_unclosed_quote_rejects_the_file_and_keeps_the_month(tmp_path):
    """A quote opened and never closed swallows every line after it; such a file used to
    load as zero rows and so replace the month's good version by nothing."""
    inbox = tmp_path / "inbox"
    good = good_institutions(inbox / "托育机构_2023-06.csv", n=3)
    os.utime(good, (1_690_000_000, 1_690_000_000))
    con, _ = _ingest(tmp_path, inbox)
    broken = ",".join(INSTITUTION_HEADER) + "\n" + ",".join(institution_row()) + '\n"JG02,托育园\n'
    revision = _put(inbox / "更正" / "托育机构_2023-06.csv", broken.encode())
    os.utime(revision, (1_690_100_000, 1_690_100_000))
    ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)
    log = dict(con.execute("select file_path, status from audit.load_log").fetchall())
    assert log == {"托育机构_2023-06.csv": "loaded", "更正/托育机构_2023-06.csv": "file_rejected"}
    message = con.execute("select message from audit.load_log where status = 'file_rejected'").fetchone()[0]
    assert "第 3 行" in message and "引号" in message and "托育机构_2023-06.csv" in message
    assert con.execute("select count(*) from staging.institutions").fetchone()[0] == 3
    con.close()


def test_a_field_longer_than_the_csv_modules_limit_in_the_first_rows(tmp_path):
    # Python's csv module refuses fields above 128 KiB; the header search must not crash on one.
    # In a data row such a field is beyond the cell limit: the file is rejected naming it.
    path = tmp_path / "托育机构_2023-06.csv"
    path.write_bytes(csv_text(INSTITUTION_HEADER, [institution_row(**{"机构名称": "名" * 300_000})]))
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "csv", path.name)
    assert "第 2 行" in err.value.zh and "机构名称" in err.value.zh and "300,000" in err.value.zh
    path.write_bytes(("x" * 300_000 + "\n").encode() + csv_text(INSTITUTION_HEADER, [institution_row()]))
    assert read_extract(path, "institutions", "csv", path.name).header_row == 2


def test_a_named_pipe_is_listed_without_waiting(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    os.mkfifo(inbox / "托育机构_2023-06.csv")
    found: list = []
    worker = threading.Thread(target=lambda: found.extend(discover(inbox)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "discover() blocked on a named pipe"
    assert [(f.rel_path, f.name, "不是普通文件" in f.problem) for f in found] == [("托育机构_2023-06.csv", None, True)]
    assert stat.S_ISFIFO((inbox / "托育机构_2023-06.csv").lstat().st_mode)  # left as it was


def _small_inbox(inbox: Path) -> None:
    for month in ("2023-04", "2023-05", "2023-06"):
        good_institutions(inbox / f"托育机构_{month}.csv", period=month)
        (inbox / f"在托幼儿_{month}.csv").write_bytes(csv_text(ENROLLMENT_HEADER, [child_row(period=month)]))


def test_an_inbox_that_disappears_while_loading(tmp_path, monkeypatch):
    """The inbox is moved away after the third file was read: loading stops with an error,
    what was staged is whole (each file in its own transaction) and still queued for
    validation, nothing is recorded against the files not read (a `file_rejected` would
    keep them from ever loading), and once the inbox is back every file loads."""
    import pipeline.ingest.load as ingest

    inbox = tmp_path / "inbox"
    _small_inbox(inbox)
    real_read, calls = ingest.read_extract, []

    def read_then_vanish(path, *args):
        calls.append(path)
        table = real_read(path, *args)
        if len(calls) == 3:
            inbox.rename(tmp_path / "moved")
        return table

    monkeypatch.setattr(ingest, "read_extract", read_then_vanish)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    with pytest.raises((InboxMissing, OSError)):
        ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)
    # Whatever was loaded before the inbox went is whole and queued; nothing else is recorded.
    loaded = con.execute("select kind, period, rows_read, status from audit.load_log").fetchall()
    assert loaded and {status for *_, status in loaded} == {"loaded"}
    for kind, period, rows_read, _ in loaded:
        staged = con.execute(f"select count(*) from staging.{kind} where period_file = ?", [period]).fetchone()[0]
        assert staged == rows_read
    pending = set(con.execute("select kind, period from audit.pending_validation").fetchall())
    assert {(kind, period) for kind, period, *_ in loaded} <= pending
    monkeypatch.setattr(ingest, "read_extract", real_read)
    (tmp_path / "moved").rename(inbox)
    ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)
    assert con.execute("select count(*) from audit.load_log where status = 'loaded'").fetchone()[0] == 6
    con.close()


def test_an_inbox_that_disappears_says_so(tmp_path, monkeypatch):
    import pipeline.ingest.load as ingest

    inbox = tmp_path / "inbox"
    _small_inbox(inbox)
    real_read = ingest.read_extract

    def read_then_vanish(path, *args):
        table = real_read(path, *args)
        if inbox.exists():
            inbox.rename(tmp_path / "moved")
        return table

    monkeypatch.setattr(ingest, "read_extract", read_then_vanish)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    with pytest.raises(InboxMissing, match="收件箱"):
        ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)
    con.close()
    assert not [p.name for p in (tmp_path / "raw-archive").iterdir() if p.name.startswith(".")]


def test_a_missing_inbox_stops_the_run_with_a_message(tmp_path):
    result = run_tuoyu(tuoyu_env(tmp_path / "no-such-inbox", tmp_path / "out", key=None), timeout=120)
    assert result.returncode != 0
    assert "收件箱" in result.output and "no-such-inbox" in result.output
    assert not (tmp_path / "out" / "reports").exists()
