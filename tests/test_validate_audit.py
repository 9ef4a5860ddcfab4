"""What validation records: load-log counts, audit rows, re-runs, scope, revisions, the
office's list of rows to fix, the data-quality mart, and the absence of personal values."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.warehouse.sql_models import SQL_DIR, load_model, run_model
from pipeline.validate import rows_to_fix, validate
from tests.validate_fixtures import (
    PERIOD,
    audit_snapshot,
    clean_enrollment,
    clean_institution,
    clean_staffing,
    findings,
    new_warehouse,
    pseudonym,
    stage,
)


def _mixed_month(con, period: str = PERIOD) -> None:
    """Institutions: clean, W (places 250), R (no name), an exact duplicate pair.
    Enrollment: clean, W (birth date vs id), R (check digit), R (unknown institution)."""
    stage(con, "institutions", [
        clean_institution(period_raw=period, period=period),
        clean_institution(period_raw=period, period=period, institution_id="JG0002", places_raw="250", places=250),
        clean_institution(period_raw=period, period=period, institution_id="JG0003", name=None),
        clean_institution(period_raw=period, period=period, institution_id="JG0004"),
        clean_institution(period_raw=period, period=period, institution_id="JG0004", is_duplicate=True),
    ], period=period)
    stage(con, "enrollment", [
        clean_enrollment(period_raw=period, period=period, child_pseudonym=pseudonym("c1")),
        clean_enrollment(period_raw=period, period=period, child_pseudonym=pseudonym("c2"), birth_date_matches_id=False),
        clean_enrollment(period_raw=period, period=period, child_pseudonym=pseudonym("c3"), child_id_problem="check_digit"),
        clean_enrollment(period_raw=period, period=period, child_pseudonym=pseudonym("c4"), institution_id="JG0003"),
    ], period=period)


def test_load_log_reconciles_after_validation(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    _mixed_month(con)

    report = validate(con)

    counts = con.execute(
        "select kind, rows_read, rows_accepted, rows_rejected, rows_duplicate from audit.load_log order by kind"
    ).fetchall()
    assert counts == [("enrollment", 4, 2, 2, 0), ("institutions", 5, 3, 1, 1)]
    for _, read, accepted, rejected, duplicate in counts:
        assert read == accepted + rejected + duplicate
    assert all(result.reconciled for result in report.files)
    institutions = report.file("institutions", PERIOD)
    assert (institutions.rows_warned, institutions.rejected_share) == (2, 1 / 5)  # JG0002 places, JG0004 duplicate
    assert report.rules_for("enrollment", PERIOD) == {
        "ENR-BIRTH-DATE-ID": 1, "ENR-CHILD-ID-CHECK": 1, "ENR-INSTITUTION": 1}
    assert report.counts_by_rule()["INS-NAME"] == 1
    assert (report.rows_rejected, report.rows_warned) == (3, 3)


def test_revalidating_gives_identical_audit_tables(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    _mixed_month(con)
    validate(con)
    first = audit_snapshot(con)
    core_first = con.execute("select * from core.enrollment order by row_number").fetchall()

    validate(con)

    assert audit_snapshot(con) == first
    assert con.execute("select * from core.enrollment order by row_number").fetchall() == core_first


def test_results_carry_counts_and_rule_ids_but_no_row_values(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    _mixed_month(con)
    staff = pseudonym("staff-secret")
    stage(con, "staffing", [clean_staffing(staff_pseudonym=staff, role="教师")])  # STF-ROLE

    report = validate(con)

    secrets = [pseudonym(label) for label in ("c1", "c2", "c3", "c4")] + [staff, "新华街道第1托育园", "2021-09-15"]
    text = json.dumps(report.as_dict(), ensure_ascii=False, default=str)
    gx_text = json.dumps([outcome.result_json for outcome in report.gx.values()], ensure_ascii=False, default=str)
    for secret in secrets:
        assert secret not in text and secret not in gx_text
    for outcome in report.gx.values():
        for result in outcome.result_json["results"]:
            assert set(result["result"]) <= {"observed_value"}  # a count, never rows or values
    # the quarantine keeps the row, with the pseudonym and no clear id or name columns
    row_values = json.loads(con.execute(
        "select row_values from audit.rejected_rows where rule_id = 'STF-ROLE'").fetchone()[0])
    assert row_values["staff_pseudonym"] == staff and row_values["role"] == "教师"
    assert not {"staff_name", "staff_id_number"} & set(row_values)


def test_only_the_months_in_scope_are_touched(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    for period in ("2023-05", "2023-06"):
        stage(con, "institutions", [clean_institution(period_raw=period, period=period, name=None)], period=period)
    validate(con)
    assert findings(con, "rejected_rows") == {("institutions", 1, "INS-NAME")} and len(
        con.execute("select * from audit.rejected_rows").fetchall()) == 2

    con.execute("update staging.institutions set name = '已补填'")  # both months fixed in staging …
    report = validate(con, {"institutions": ["2023-06"]})  # … but only June is re-validated

    assert report.scope == {"institutions": ["2023-06"]}  # no enrollment or staffing file: nothing cascades
    assert con.execute("select period from audit.rejected_rows").fetchall() == [("2023-05",)]
    months = con.execute("select period, rows_accepted from audit.load_log order by period").fetchall()
    assert months == [("2023-05", 0), ("2023-06", 1)]


def test_a_revision_replaces_the_findings_of_the_earlier_version(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    stage(con, "institutions", [clean_institution(institution_type="托儿所")])  # INS-TYPE
    validate(con)
    # the ingest supersedes version 1 and stages version 2, which is clean
    con.execute("update audit.load_log set status = 'superseded'")
    con.execute("delete from staging.institutions")
    stage(con, "institutions", [clean_institution()], version=2)

    validate(con, {"institutions": [PERIOD]})

    assert con.execute("select count(*) from audit.rejected_rows").fetchone() == (0,)
    assert con.execute("select status, rows_accepted, rows_rejected from audit.load_log order by loaded_at").fetchall() == [
        ("superseded", 0, 1), ("loaded", 1, 0)]  # the superseded version keeps its counts


def test_rows_to_fix_lists_one_institutions_findings(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    _mixed_month(con)
    stage(con, "staffing", [clean_staffing(institution_id="JG0003")])  # JG0003 rejected: STF-INSTITUTION
    validate(con)

    rows = rows_to_fix(con, "JG0003")

    assert rows.columns == ["period", "kind", "file_path", "row_number", "source_row", "severity", "rule_id",
                            "message", "row_values"]
    assert rows.select("kind", "row_number", "source_row", "severity", "rule_id").rows() == [
        ("enrollment", 4, 5, "R", "ENR-INSTITUTION"),
        ("institutions", 3, 4, "R", "INS-NAME"),
        ("staffing", 1, 2, "R", "STF-INSTITUTION"),
    ]
    assert rows["file_path"][1] == "2023/institutions_2023-06.csv"
    assert "机构名称为空" in rows["message"][1]
    assert rows_to_fix(con, "JG0002", "2023-06").select("severity", "rule_id").rows() == [("W", "INS-PLACES-HIGH")]
    assert rows_to_fix(con, "JG0002", "2023-05").is_empty()

    # the query docs/validation.md gives the office (for JG0003) lists the same findings
    docs = (Path(__file__).resolve().parents[1] / "docs" / "validation.md").read_text(encoding="utf-8")
    office_query = re.search(r"```sql\n(.*?)```", docs, re.DOTALL).group(1)
    listed = con.execute(office_query).fetchall()
    assert [(kind, source_row, rule_id) for _, kind, _, source_row, _, rule_id, _, _ in listed] == [
        ("enrollment", 5, "ENR-INSTITUTION"), ("institutions", 4, "INS-NAME"), ("staffing", 2, "STF-INSTITUTION")]


def test_data_quality_mart_has_one_row_per_month_and_kind(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    _mixed_month(con, "2023-04")
    # 2023-05: nothing at all; 2023-06: institutions only, delivered twice (a revision)
    stage(con, "institutions", [clean_institution(period_raw="2023-06", period="2023-06")], period="2023-06")
    con.execute("update audit.load_log set status = 'superseded' where period = '2023-06'")
    con.execute("delete from staging.institutions where period_file = '2023-06'")
    stage(con, "institutions", [clean_institution(period_raw="2023-06", period="2023-06", places_raw="300",
                                                  places=300)], period="2023-06", version=2)
    validate(con)

    run_model(con, load_model(SQL_DIR / "marts" / "data_quality.sql"))

    rows = con.execute(
        "select period, kind, file_present, status, versions_received, revised, rows_read, rows_accepted, "
        "rows_rejected, rows_duplicate, rows_warned, top_rules from marts.data_quality"
    ).fetchall()
    assert rows == [
        ("2023-04", "institutions", True, "loaded", 1, False, 5, 3, 1, 1, 2, "INS-DUPLICATE×1; INS-NAME×1; INS-PLACES-HIGH×1"),
        ("2023-04", "enrollment", True, "loaded", 1, False, 4, 2, 2, 0, 1,
         "ENR-BIRTH-DATE-ID×1; ENR-CHILD-ID-CHECK×1; ENR-INSTITUTION×1"),
        ("2023-04", "staffing", False, None, 0, False, None, None, None, None, None, None),
        ("2023-05", "institutions", False, None, 0, False, None, None, None, None, None, None),
        ("2023-05", "enrollment", False, None, 0, False, None, None, None, None, None, None),
        ("2023-05", "staffing", False, None, 0, False, None, None, None, None, None, None),
        ("2023-06", "institutions", True, "loaded", 2, True, 1, 1, 0, 0, 1, "INS-PLACES-HIGH×1"),
        ("2023-06", "enrollment", False, None, 0, False, None, None, None, None, None, None),
        ("2023-06", "staffing", False, None, 0, False, None, None, None, None, None, None),
    ]
