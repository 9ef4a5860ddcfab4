"""The cascade: a rejected institution row takes its month's enrollment and staff rows with it."""

from __future__ import annotations

from pipeline.validate import validate
from tests.validate_fixtures import (
    clean_enrollment,
    clean_institution,
    clean_staffing,
    new_warehouse,
    pseudonym,
    stage,
)

MAY, JUNE = "2023-05", "2023-06"


def _month(con, period: str, jg0002_area: str, version: int = 1) -> None:
    stage(con, "institutions", [
        clean_institution(period_raw=period, period=period),
        clean_institution(period_raw=period, period=period, institution_id="JG0002", area_code=jg0002_area),
    ], period=period, version=version)


def _children_and_staff(con, period: str) -> None:
    stage(con, "enrollment", [
        clean_enrollment(period_raw=period, period=period, child_pseudonym=pseudonym("a")),
        clean_enrollment(period_raw=period, period=period, institution_id="JG0002", child_pseudonym=pseudonym("b")),
        clean_enrollment(period_raw=period, period=period, institution_id="JG0002", child_pseudonym=pseudonym("c")),
    ], period=period)
    stage(con, "staffing", [
        clean_staffing(period_raw=period, period=period, staff_pseudonym=pseudonym("s")),
        clean_staffing(period_raw=period, period=period, institution_id="JG0002", staff_pseudonym=pseudonym("t")),
    ], period=period)


def test_a_rejected_institution_takes_its_rows_with_it_in_that_month_only(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    _month(con, MAY, jg0002_area="379902101")
    _month(con, JUNE, jg0002_area="379999999")  # June: JG0002's area code is not a 镇街 -> INS-AREA
    _children_and_staff(con, MAY)
    _children_and_staff(con, JUNE)

    report = validate(con)

    rejected = set(con.execute("select kind, period, row_number, rule_id from audit.rejected_rows").fetchall())
    assert rejected == {
        ("institutions", JUNE, 2, "INS-AREA"),
        ("enrollment", JUNE, 2, "ENR-INSTITUTION"),
        ("enrollment", JUNE, 3, "ENR-INSTITUTION"),
        ("staffing", JUNE, 2, "STF-INSTITUTION"),
    }
    accepted = con.execute(
        "select period, count(*) from core.enrollment group by period order by period").fetchall()
    assert accepted == [(MAY, 3), (JUNE, 1)]
    assert con.execute("select period, institution_id from core.staffing order by all").fetchall() == [
        (MAY, "JG0001"), (MAY, "JG0002"), (JUNE, "JG0001")]
    june = report.file("enrollment", JUNE)
    assert (june.rows_accepted, june.rows_rejected) == (1, 2)
    assert june.blocking  # 2 of 3 rows rejected: above the suite's 0.5


def test_revalidating_the_institutions_of_a_month_revalidates_its_rows(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    _month(con, JUNE, jg0002_area="379999999")
    _children_and_staff(con, JUNE)
    validate(con)
    assert con.execute("select count(*) from core.enrollment").fetchone() == (1,)

    # The office sends a corrected institutions file: the ingest supersedes version 1.
    con.execute("update audit.load_log set status = 'superseded' where kind = 'institutions'")
    con.execute("delete from staging.institutions")
    _month(con, JUNE, jg0002_area="379902101", version=2)

    report = validate(con, {"institutions": [JUNE]})  # enrollment and staffing of June follow

    assert report.scope == {"institutions": [JUNE], "enrollment": [JUNE], "staffing": [JUNE]}
    assert con.execute("select count(*) from audit.rejected_rows").fetchone() == (0,)
    assert con.execute("select count(*) from core.enrollment").fetchone() == (3,)
    assert con.execute("select count(*) from core.staffing").fetchone() == (2,)
