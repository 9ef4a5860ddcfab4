"""The file-trust checks: a file whose own rows are mostly bad is named, in Chinese, as
untrustworthy, and the run still completes (extract-format.md §5: exit 0 when rows are
quarantined, every asset brought up to date)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import duckdb
import pytest

from pipeline.orchestration.console_log import explained_by_summary
from pipeline.commands.run import run_pipeline
from pipeline.settings import Settings
from tests.conftest import CONFORMANCE
from pipeline.report.data import untrusted_kinds_of
from pipeline.validate.trust import file_trust
from tests.extract_fixtures import (ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row, make_id,
                                    write_csv)

pytestmark = pytest.mark.heavy(seconds=12)


def _settings(tmp_path):
    return Settings(inbox=tmp_path / "inbox", reference=CONFORMANCE / "reference",
                    warehouse=tmp_path / "warehouse.duckdb", reports=tmp_path / "reports",
                    pseudonym_key=None, demo=True, lock_wait=0)


def test_mostly_rejected_file_is_named_and_the_run_completes(tmp_path, capfd):
    write_csv(tmp_path / "inbox" / "托育机构_2023-06.csv", INSTITUTION_HEADER, [
        institution_row(area="379902001"),
        institution_row(iid="JG02", area="999"),   # planted: unknown area code (R)
        institution_row(iid="JG03", area="998"),   # planted: unknown area code (R) → 2 of 3 rejected > 50%
    ])
    outcome = run_pipeline(_settings(tmp_path))
    assert outcome.success, outcome.text()
    assert "托育机构_2023-06.csv" in outcome.text() and "不可信" in outcome.text()
    # the month's figures stand on the one accepted row: 1 institution, its 30 places
    assert (tmp_path / "reports" / "2023-06" / "report_2023-06.pdf").exists()
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        institutions, places = con.execute(
            "select institutions, places from marts.area_measures where period = '2023-06' and is_county").fetchone()
    finally:
        con.close()
    assert (institutions, places) == (1, 30)
    err = capfd.readouterr().err
    assert "Stack Trace" not in err and "Not executing" not in err


def test_enrollment_without_its_institutions_file_does_not_block(tmp_path):
    # 2023-06 has institutions; 2023-07 has only an enrollment file: all its rows are rejected
    # by the institution rule (no accepted institution that month), which is "no data", not distrust.
    write_csv(tmp_path / "inbox" / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row(area="379902001")])
    write_csv(tmp_path / "inbox" / "在托幼儿_2023-07.csv", ENROLLMENT_HEADER, [child_row(period="2023-07")])
    outcome = run_pipeline(_settings(tmp_path))
    assert outcome.success, outcome.text()
    assert (tmp_path / "reports" / "2023-06" / "report_2023-06.pdf").exists()


def _record(message: str, error_class: str | None = None) -> logging.LogRecord:
    record = logging.LogRecord("dagster", logging.ERROR, __file__, 1, message, None, None)
    if error_class is not None:
        error = SimpleNamespace(cls_name=error_class)
        record.dagster_meta = {"dagster_event": SimpleNamespace(event_specific_data=SimpleNamespace(error=error))}
    return record


def test_console_keeps_real_failures_and_drops_what_the_summary_explains():
    assert explained_by_summary(_record("STEP_FAILURE", "DagsterAssetCheckFailedError"))
    assert explained_by_summary(_record("Dependencies for step marts failed: ['x']. Not executing."))
    assert not explained_by_summary(_record("STEP_FAILURE", "ZeroDivisionError"))  # a real failure
    # a step's warning that a file was rejected: the summary lists the file with its reason
    rejected = _record("tuoyu_pipeline - 1234 - staging__extracts - file rejected: 托育机构_2023-06.csv")
    rejected.dagster_meta = {"orig_message": "file rejected: 托育机构_2023-06.csv", "dagster_event": None}
    assert explained_by_summary(rejected)
    other = _record("tuoyu_pipeline - 1234 - reports__monthly_report - no institutions extract for 2023-07")
    other.dagster_meta = {"orig_message": "no institutions extract for 2023-07", "dagster_event": None}
    assert not explained_by_summary(other)


def test_file_trust_counts_a_files_own_defects_against_the_suites_share(tmp_path):
    # 2023-06: institutions 3 rows, 2 rejected (unknown area) → 2/3 > 0.5: not trusted.
    # Its enrollment: 2 rows, both rejected only because their institution was rejected
    # (ENR-INSTITUTION, excluded) → 0 own defects: trusted ("no data", not distrust).
    write_csv(tmp_path / "inbox" / "托育机构_2023-06.csv", INSTITUTION_HEADER, [
        institution_row(area="379902001"),
        institution_row(iid="JG02", area="999"),   # planted: unknown area code (R)
        institution_row(iid="JG03", area="998"),   # planted: unknown area code (R)
    ])
    write_csv(tmp_path / "inbox" / "在托幼儿_2023-06.csv", ENROLLMENT_HEADER, [
        child_row(iid="JG02"), child_row(iid="JG03", number=make_id(seq="015")),  # institutions rejected
    ])
    run_pipeline(_settings(tmp_path))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        (institutions,) = file_trust(con, "institutions", "2023-06")
        (enrollment,) = file_trust(con, "enrollment", "2023-06")
        kinds = untrusted_kinds_of(con, "2023-06")
    finally:
        con.close()
    assert (institutions.rows_read, institutions.rows_rejected_own, institutions.trusted) == (3, 2, False)
    assert (enrollment.rows_read, enrollment.rows_rejected_own, enrollment.trusted) == (2, 0, True)
    assert kinds == ["institutions"]
