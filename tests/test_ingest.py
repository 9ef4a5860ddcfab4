"""The inbox into the warehouse: load log statuses, revisions, re-runs, the raw archive,
and the conformance set's row counts."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path


from pipeline.ingest.load import ingest_inbox, pending_scope
from tests.conftest import CONFORMANCE, TEST_KEY, scan_tables
from tests.extract_fixtures import (ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row, make_id,
                                    write_csv)


def _ingest(con, inbox: Path, tmp_path: Path):
    return ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)


def _log(con):
    return con.execute(
        "select file_path, kind, period, status, rows_read, rows_duplicate from audit.load_log order by file_path, status"
    ).fetchall()


def _touch(path: Path, mtime: int) -> None:
    os.utime(path, (mtime, mtime))


def test_statuses_of_every_kind_of_file(con, tmp_path):
    inbox = tmp_path / "inbox"
    write_csv(inbox / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row(), institution_row(iid="JG02")])
    # the same month again, older: superseded by the newer file above
    _touch(write_csv(inbox / "old" / "institutions_202306.csv", INSTITUTION_HEADER, [institution_row()]), 1_600_000_000)
    # a file whose name matches no kind: unrecognised, never read
    (inbox / "说明.txt").write_text("note", encoding="utf-8")
    # a file missing its required headers: rejected as a whole
    write_csv(inbox / "在托幼儿_2023-06.csv", ENROLLMENT_HEADER[:3], [child_row()[:3]])
    _ingest(con, inbox, tmp_path)
    assert _log(con) == [
        ("old/institutions_202306.csv", "institutions", "2023-06", "superseded", None, None),
        ("在托幼儿_2023-06.csv", "enrollment", "2023-06", "file_rejected", None, None),
        ("托育机构_2023-06.csv", "institutions", "2023-06", "loaded", 2, 0),
        ("说明.txt", None, None, "unrecognised", None, None),
    ]
    message = con.execute("select message from audit.load_log where status = 'file_rejected'").fetchone()[0]
    assert "幼儿身份证号" in message and "在托幼儿_2023-06.csv" in message


def test_rerun_changes_nothing(con, tmp_path):
    inbox = tmp_path / "inbox"
    write_csv(inbox / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row()])
    _ingest(con, inbox, tmp_path)
    before = (con.execute("select * from audit.load_log").fetchall(),
              con.execute("select * from staging.institutions").fetchall())
    con.execute("delete from audit.pending_validation")
    result = _ingest(con, inbox, tmp_path)
    after = (con.execute("select * from audit.load_log").fetchall(),
             con.execute("select * from staging.institutions").fetchall())
    assert before == after
    assert result.loaded == [] and pending_scope(con) == {}


def test_revision_replaces_the_month_and_keeps_the_old_version(con, tmp_path):
    inbox = tmp_path / "inbox"
    first = write_csv(inbox / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row(places="30")])
    _touch(first, 1_700_000_000)
    _ingest(con, inbox, tmp_path)
    # the office re-delivers the month with corrected places, in another folder, later
    second = write_csv(inbox / "resend" / "institutions_2023-06.csv", INSTITUTION_HEADER,
                       [institution_row(places="40"), institution_row(iid="JG02")])
    _touch(second, 1_700_000_100)
    result = _ingest(con, inbox, tmp_path)
    assert result.loaded == ["resend/institutions_2023-06.csv"]
    assert con.execute("select institution_id, places from staging.institutions order by 1").fetchall() == [
        ("JG01", 40), ("JG02", 30)]
    statuses = dict(con.execute("select file_path, status from audit.load_log").fetchall())
    assert statuses == {"托育机构_2023-06.csv": "superseded", "resend/institutions_2023-06.csv": "loaded"}
    archived = sorted(p.name for p in (tmp_path / "raw-archive").iterdir())
    assert len(archived) == 2  # both versions kept, by sha256


def test_identical_copy_is_a_no_op(con, tmp_path):
    inbox = tmp_path / "inbox"
    path = write_csv(inbox / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row()])
    _ingest(con, inbox, tmp_path)
    copy = inbox / "again" / "institutions_2023-06.csv"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    _touch(copy, int(path.stat().st_mtime) + 60)  # newer, so it is the current version, same bytes
    result = _ingest(con, inbox, tmp_path)
    assert result.loaded == []
    assert dict(con.execute("select file_path, status from audit.load_log").fetchall()) == {
        "托育机构_2023-06.csv": "loaded", "again/institutions_2023-06.csv": "unchanged"}


def test_symlink_is_listed_not_followed(con, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outside = write_csv(tmp_path / "elsewhere" / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row()])
    (inbox / "托育机构_2023-06.csv").symlink_to(outside)
    _ingest(con, inbox, tmp_path)
    assert _log(con) == [("托育机构_2023-06.csv", None, None, "unrecognised", None, None)]
    assert con.execute("select count(*) from staging.institutions").fetchone()[0] == 0


def test_raw_archive_is_owner_only(con, tmp_path):
    inbox = tmp_path / "inbox"
    write_csv(inbox / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row()])
    _ingest(con, inbox, tmp_path)
    archive = tmp_path / "raw-archive"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in archive.iterdir())


def test_no_name_or_clear_id_reaches_the_warehouse(con, tmp_path):
    inbox = tmp_path / "inbox"
    number = make_id(birth="20220101", seq="555")
    write_csv(inbox / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row()])
    # a lower-case x and a malformed id: both must be pseudonymised, neither stored in clear
    write_csv(inbox / "在托幼儿_2023-06.csv", ENROLLMENT_HEADER,
              [child_row(name="欧阳娜娜", number=number.lower(), birth="2022-01-01"),
               child_row(name="司马光明", number="37078120220101")])
    _ingest(con, inbox, tmp_path)
    secrets = ("欧阳娜娜", "司马光明", number, number.lower(), "37078120220101")
    # every text cell of every table (compression could hide a string from a byte scan) ...
    assert scan_tables(con, secrets) == []
    assert con.execute("select count(child_pseudonym) from staging.enrollment").fetchone()[0] == 2
    con.close()
    # ... and the file's bytes, freed pages included
    raw = (tmp_path / "warehouse.duckdb").read_bytes()
    for secret in secrets:
        assert secret.encode("utf-8") not in raw


def test_conformance_inbox_loads_with_expected_row_counts(con, tmp_path):
    _ingest(con, CONFORMANCE / "inbox", tmp_path)
    got = {(k, p): (r, d) for k, p, r, d in con.execute(
        "select kind, period, rows_read, rows_duplicate from audit.load_log where status = 'loaded'").fetchall()}
    with open(CONFORMANCE / "expected_load.csv", encoding="utf-8") as f:
        expected = {(r["kind"], r["period"]): (int(r["rows_read"]), int(r["rows_duplicate"])) for r in csv.DictReader(f)}
    assert got == expected
