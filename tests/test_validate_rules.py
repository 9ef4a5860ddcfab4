"""One tiny fixture per rule: a clean row lands nowhere, a row with one planted defect lands
in quarantine (R) or warnings (W) under the right rule id, and nothing else fires.

Every case stages a clean row (row 1) followed by its dirty rows (rows 2, 3, …) for month
2023-06 (month end 2023-06-30), validates that kind only, and compares every finding of the
file with the expected set of (row_number, rule_id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.validate import validate
from pipeline.validate.suites import load_suites
from tests.validate_fixtures import (
    PERIOD,
    clean_enrollment,
    clean_institution,
    clean_staffing,
    findings,
    new_warehouse,
    pseudonym,
    stage,
)

pytestmark = pytest.mark.heavy(seconds=27)


def ins(**overrides: Any) -> dict[str, Any]:
    """A second clean institution (JG0002), to spoil."""
    return clean_institution(**{"institution_id": "JG0002", "name": "新华街道第2托育园", **overrides})


def enr(**overrides: Any) -> dict[str, Any]:
    """A second clean child at JG0001, to spoil."""
    return clean_enrollment(**{"child_pseudonym": pseudonym("child-dirty"), **overrides})


def stf(**overrides: Any) -> dict[str, Any]:
    """A second clean staff member at JG0001, to spoil."""
    return clean_staffing(**{"staff_pseudonym": pseudonym("staff-dirty"), **overrides})


@dataclass(frozen=True)
class Case:
    label: str
    kind: str
    rows: list[dict[str, Any]]  # staged after the clean row, so they are rows 2, 3, …
    expected: set[tuple[int, str]] = field(default_factory=set)  # every (row_number, rule_id) found


D = dt.date
CASES = [
    # --- §2.1 institutions ---------------------------------------------------------------
    Case("INS-PERIOD missing", "institutions", [ins(period_raw=None, period=None)], {(2, "INS-PERIOD")}),
    Case("INS-PERIOD unparseable", "institutions", [ins(period_raw="2023年13月", period=None)], {(2, "INS-PERIOD")}),
    Case("INS-PERIOD other month", "institutions", [ins(period_raw="2023-05", period="2023-05")], {(2, "INS-PERIOD")}),
    Case("INS-ID missing", "institutions", [ins(institution_id=None)], {(2, "INS-ID")}),
    # two rows share JG0002 but differ in places: both rejected
    Case("INS-ID-CONFLICT", "institutions", [ins(places_raw="60", places=60), ins(places_raw="80", places=80)],
         {(2, "INS-ID-CONFLICT"), (3, "INS-ID-CONFLICT")}),
    # row 3 is an exact copy of row 2, collapsed by the ingest: the kept row 2 is warned
    Case("INS-DUPLICATE", "institutions", [ins(), ins(is_duplicate=True)], {(2, "INS-DUPLICATE")}),
    Case("INS-NAME missing", "institutions", [ins(name=None)], {(2, "INS-NAME")}),
    Case("INS-CREDIT-CODE wrong", "institutions", [ins(credit_code="52379902A4C12H3B1X", credit_code_valid=False)],
         {(2, "INS-CREDIT-CODE")}),
    Case("INS-CREDIT-CODE missing", "institutions", [ins(credit_code=None, credit_code_valid=False)],
         {(2, "INS-CREDIT-CODE")}),
    Case("INS-AREA unknown code", "institutions", [ins(area_code="379999001")], {(2, "INS-AREA")}),
    # the county's own code is an area of reference.areas (extract-format.md §2.1): accepted
    Case("INS-AREA county code", "institutions", [ins(area_code="379902")], set()),
    Case("INS-AREA missing", "institutions", [ins(area_code=None)], {(2, "INS-AREA")}),
    Case("INS-TYPE outside list", "institutions", [ins(institution_type="托儿所")], {(2, "INS-TYPE")}),
    Case("INS-TYPE missing", "institutions", [ins(institution_type=None)], {(2, "INS-TYPE")}),
    Case("INS-AFFORDABLE unparseable", "institutions", [ins(affordable_raw="部分", affordable=None)],
         {(2, "INS-AFFORDABLE")}),
    Case("INS-DEMONSTRATION unparseable", "institutions", [ins(demonstration_raw="省级", demonstration=None)],
         {(2, "INS-DEMONSTRATION")}),
    # 是否示范 = 是 without a 示范认定日期: kept, warned
    Case("INS-DEMO-DATE-MISSING", "institutions", [ins(demonstration_raw="是", demonstration=True)],
         {(2, "INS-DEMO-DATE-MISSING")}),
    Case("INS-DEMO-DATE unparseable", "institutions",
         [ins(demonstration_raw="是", demonstration=True, demonstration_date_raw="2023-02-30")], {(2, "INS-DEMO-DATE")}),
    Case("INS-DEMO-DATE after month end", "institutions",
         [ins(demonstration_raw="是", demonstration=True, demonstration_date_raw="2023-07-01",
              demonstration_date=D(2023, 7, 1))], {(2, "INS-DEMO-DATE")}),
    Case("INS-REG-DATE missing", "institutions", [ins(registration_date_raw=None, registration_date=None)],
         {(2, "INS-REG-DATE")}),
    Case("INS-REG-DATE unparseable", "institutions", [ins(registration_date_raw="去年", registration_date=None)],
         {(2, "INS-REG-DATE")}),
    Case("INS-REG-DATE after month end", "institutions",
         [ins(registration_date_raw="2023-07-01", registration_date=D(2023, 7, 1))], {(2, "INS-REG-DATE")}),
    Case("INS-FILING-STATUS outside list", "institutions", [ins(filing_status="备案中")], {(2, "INS-FILING-STATUS")}),
    # 已备案 without a 备案日期: kept, warned
    Case("INS-FILING-DATE-MISSING", "institutions", [ins(filing_date_raw=None, filing_date=None)],
         {(2, "INS-FILING-DATE-MISSING")}),
    Case("INS-FILING-DATE unparseable", "institutions", [ins(filing_date_raw="2023/13/01", filing_date=None)],
         {(2, "INS-FILING-DATE")}),
    Case("INS-FILING-DATE after month end", "institutions",
         [ins(filing_date_raw="2023-07-15", filing_date=D(2023, 7, 15))], {(2, "INS-FILING-DATE")}),
    Case("INS-PLACES missing", "institutions", [ins(places_raw=None, places=None)], {(2, "INS-PLACES")}),
    Case("INS-PLACES not an integer", "institutions", [ins(places_raw="120.5", places=None)], {(2, "INS-PLACES")}),
    Case("INS-PLACES negative", "institutions", [ins(places_raw="-5", places=-5)], {(2, "INS-PLACES")}),
    Case("INS-PLACES-HIGH", "institutions", [ins(places_raw="201", places=201)], {(2, "INS-PLACES-HIGH")}),
    Case("INS-CCTV unparseable", "institutions", [ins(cctv_full_coverage_raw="部分", cctv_full_coverage=None)],
         {(2, "INS-CCTV")}),
    Case("INS-FIRE unparseable", "institutions", [ins(fire_safety_passed_raw="待验收", fire_safety_passed=None)],
         {(2, "INS-FIRE")}),
    Case("INS-STATUS outside list", "institutions", [ins(operating_status="停业")], {(2, "INS-STATUS")}),
    # boundaries that must stay clean
    Case("clean: 200 places", "institutions", [ins(places_raw="200", places=200)]),
    Case("clean: 未备案 without date", "institutions", [ins(filing_status="未备案", filing_date_raw=None, filing_date=None)]),
    Case("clean: empty flag (the contract rejects unparseable flags only)", "institutions",
         [ins(affordable_raw=None, affordable=None)]),
    Case("clean: dates on month end", "institutions",
         [ins(registration_date_raw="2023-06-30", registration_date=D(2023, 6, 30),
              filing_date_raw="2023-06-30", filing_date=D(2023, 6, 30))]),
    # --- §2.2 enrollment ----------------------------------------------------------------
    Case("ENR-PERIOD other month", "enrollment", [enr(period_raw="202305", period="2023-05")], {(2, "ENR-PERIOD")}),
    Case("ENR-INSTITUTION unknown", "enrollment", [enr(institution_id="JG0099")], {(2, "ENR-INSTITUTION")}),
    Case("ENR-INSTITUTION missing", "enrollment", [enr(institution_id=None)], {(2, "ENR-INSTITUTION")}),
    Case("ENR-CHILD-ID-MISSING", "enrollment",
         [enr(child_pseudonym=None, child_id_problem="missing", birth_date_matches_id=None, sex_matches_id=None)],
         {(2, "ENR-CHILD-ID-MISSING")}),
    Case("ENR-CHILD-ID-SCIENTIFIC", "enrollment",
         [enr(child_pseudonym=None, child_id_problem="scientific", birth_date_matches_id=None, sex_matches_id=None)],
         {(2, "ENR-CHILD-ID-SCIENTIFIC")}),
    Case("ENR-CHILD-ID-FORMAT", "enrollment",
         [enr(child_pseudonym=None, child_id_problem="format", birth_date_matches_id=None, sex_matches_id=None)],
         {(2, "ENR-CHILD-ID-FORMAT")}),
    Case("ENR-CHILD-ID-CHECK", "enrollment",
         [enr(child_pseudonym=None, child_id_problem="check_digit", birth_date_matches_id=None, sex_matches_id=None)],
         {(2, "ENR-CHILD-ID-CHECK")}),
    Case("ENR-BIRTH-DATE missing", "enrollment",
         [enr(birth_date_raw=None, birth_date=None, birth_date_matches_id=None)], {(2, "ENR-BIRTH-DATE")}),
    Case("ENR-BIRTH-DATE unparseable", "enrollment",
         [enr(birth_date_raw="2021-02-29", birth_date=None, birth_date_matches_id=None)], {(2, "ENR-BIRTH-DATE")}),
    # born after month end: the enrollment date is then before the birth date as well
    Case("ENR-BIRTH-DATE after month end", "enrollment",
         [enr(birth_date_raw="2023-07-02", birth_date=D(2023, 7, 2), birth_date_matches_id=False)],
         {(2, "ENR-BIRTH-DATE"), (2, "ENR-BIRTH-DATE-ID"), (2, "ENR-ENROLL-DATE")}),
    Case("ENR-BIRTH-DATE-ID", "enrollment", [enr(birth_date_matches_id=False)], {(2, "ENR-BIRTH-DATE-ID")}),
    Case("ENR-SEX outside list", "enrollment", [enr(sex="M", sex_matches_id=None)], {(2, "ENR-SEX")}),
    Case("ENR-SEX missing", "enrollment", [enr(sex=None, sex_matches_id=None)], {(2, "ENR-SEX")}),
    Case("ENR-SEX-ID", "enrollment", [enr(sex="男", sex_matches_id=False)], {(2, "ENR-SEX-ID")}),
    Case("ENR-CLASS-TYPE outside list", "enrollment", [enr(class_type="大班")], {(2, "ENR-CLASS-TYPE")}),
    Case("ENR-CARE-MODE outside list", "enrollment", [enr(care_mode="周末托")], {(2, "ENR-CARE-MODE")}),
    Case("ENR-ENROLL-DATE missing", "enrollment", [enr(enrollment_date_raw=None, enrollment_date=None)],
         {(2, "ENR-ENROLL-DATE")}),
    Case("ENR-ENROLL-DATE unparseable", "enrollment", [enr(enrollment_date_raw="九月", enrollment_date=None)],
         {(2, "ENR-ENROLL-DATE")}),
    Case("ENR-ENROLL-DATE after month end", "enrollment",
         [enr(enrollment_date_raw="2023-07-01", enrollment_date=D(2023, 7, 1))], {(2, "ENR-ENROLL-DATE")}),
    # enrolled 2021-09-01, born 2021-09-15
    Case("ENR-ENROLL-DATE before birth", "enrollment",
         [enr(enrollment_date_raw="2021-09-01", enrollment_date=D(2021, 9, 1))], {(2, "ENR-ENROLL-DATE")}),
    # born 2020-06-30: 36 months on 2023-06-30
    Case("ENR-AGE-36 exactly 36 months", "enrollment",
         [enr(birth_date_raw="2020-06-30", birth_date=D(2020, 6, 30))], {(2, "ENR-AGE-36")}),
    # born 2020-05-31: 12×3 + 1 − 1 (day 30 < day 31) = 36 months
    Case("ENR-AGE-36 day-of-month rule", "enrollment",
         [enr(birth_date_raw="2020-05-31", birth_date=D(2020, 5, 31))], {(2, "ENR-AGE-36")}),
    # born 2020-07-01: 35 months on 2023-06-30
    Case("clean: 35 months", "enrollment", [enr(birth_date_raw="2020-07-01", birth_date=D(2020, 7, 1))]),
    # the same child twice in the month: both rows kept and warned
    Case("ENR-CHILD-REPEAT", "enrollment", [enr(), enr(class_type="托大班")],
         {(2, "ENR-CHILD-REPEAT"), (3, "ENR-CHILD-REPEAT")}),
    # --- §2.3 staffing ------------------------------------------------------------------
    Case("STF-PERIOD missing", "staffing", [stf(period_raw=None, period=None)], {(2, "STF-PERIOD")}),
    Case("STF-INSTITUTION unknown", "staffing", [stf(institution_id="JG0099")], {(2, "STF-INSTITUTION")}),
    Case("STF-STAFF-ID-MISSING", "staffing", [stf(staff_pseudonym=None, staff_id_problem="missing")],
         {(2, "STF-STAFF-ID-MISSING")}),
    Case("STF-STAFF-ID-SCIENTIFIC", "staffing", [stf(staff_pseudonym=None, staff_id_problem="scientific")],
         {(2, "STF-STAFF-ID-SCIENTIFIC")}),
    Case("STF-STAFF-ID-FORMAT", "staffing", [stf(staff_pseudonym=None, staff_id_problem="format")],
         {(2, "STF-STAFF-ID-FORMAT")}),
    Case("STF-STAFF-ID-CHECK", "staffing", [stf(staff_pseudonym=None, staff_id_problem="check_digit")],
         {(2, "STF-STAFF-ID-CHECK")}),
    Case("STF-ROLE outside list", "staffing", [stf(role="教师")], {(2, "STF-ROLE")}),
    Case("STF-CERTIFICATE outside list", "staffing", [stf(certificate="教师资格证")], {(2, "STF-CERTIFICATE")}),
    Case("STF-CERTIFICATE missing", "staffing", [stf(certificate=None)], {(2, "STF-CERTIFICATE")}),
    Case("STF-TRAINING unparseable", "staffing", [stf(pre_service_training_raw="已培训", pre_service_training=None)],
         {(2, "STF-TRAINING")}),
    Case("STF-CRIMINAL-CHECK unparseable", "staffing",
         [stf(criminal_record_check_raw="有", criminal_record_check=None)], {(2, "STF-CRIMINAL-CHECK")}),
    Case("STF-HIRE-DATE missing", "staffing", [stf(hire_date_raw=None, hire_date=None)], {(2, "STF-HIRE-DATE")}),
    Case("STF-HIRE-DATE unparseable", "staffing", [stf(hire_date_raw="2022-00-01", hire_date=None)],
         {(2, "STF-HIRE-DATE")}),
    Case("STF-HIRE-DATE after month end", "staffing",
         [stf(hire_date_raw="2023-07-03", hire_date=D(2023, 7, 3))], {(2, "STF-HIRE-DATE")}),
    Case("clean: second staff member", "staffing", [stf()]),
]

CLEAN_ROW = {"institutions": clean_institution, "enrollment": clean_enrollment, "staffing": clean_staffing}


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_rule_finds_the_planted_defect_and_nothing_else(tmp_path, case: Case) -> None:
    con = new_warehouse(tmp_path)
    if case.kind != "institutions":
        stage(con, "institutions", [clean_institution()])  # JG0001, accepted
    stage(con, case.kind, [CLEAN_ROW[case.kind](), *case.rows])

    report = validate(con, {case.kind: [PERIOD]}, cascade=False)

    rules = {rule.rule_id: rule for rule in load_suites()[case.kind].rules}
    rejected = {(n, rule) for kind, n, rule in findings(con, "rejected_rows") if kind == case.kind}
    warned = {(n, rule) for kind, n, rule in findings(con, "row_warnings") if kind == case.kind}
    assert rejected | warned == case.expected
    assert all(rules[rule].severity == "R" for _, rule in rejected)
    assert all(rules[rule].severity == "W" for _, rule in warned)
    assert not any(n == 1 for n, _ in rejected | warned), "the clean row must land nowhere"
    result = report.file(case.kind, PERIOD)
    assert result.rows_rejected == len({n for n, _ in rejected})


def test_every_row_rule_has_a_case() -> None:
    covered = {rule for case in CASES for _, rule in case.expected}
    row_rules = {rule.rule_id for suite in load_suites().values() for rule in suite.rules if rule.level == "row"}
    assert row_rules - covered == set()


@pytest.mark.parametrize("kind", ["institutions", "enrollment", "staffing"])
def test_row_count_halving_is_one_file_level_warning(tmp_path, kind: str) -> None:
    con = new_warehouse(tmp_path)
    prefix = {"institutions": "INS", "enrollment": "ENR", "staffing": "STF"}[kind]
    make = {"institutions": clean_institution, "enrollment": clean_enrollment, "staffing": clean_staffing}[kind]
    key = {"institutions": "institution_id", "enrollment": "child_pseudonym", "staffing": "staff_pseudonym"}[kind]

    def rows(period: str, n: int) -> list[dict[str, Any]]:
        return [make(period_raw=period, period=period, **{key: f"{kind}-{i}"}) for i in range(n)]

    if kind != "institutions":
        for period in ("2023-04", "2023-05", "2023-06"):
            stage(con, "institutions", [clean_institution(period_raw=period, period=period)], period=period)
    stage(con, kind, rows("2023-04", 5), period="2023-04")
    stage(con, kind, rows("2023-05", 3), period="2023-05")  # 3 of 5: more than half, no warning
    stage(con, kind, rows("2023-06", 1), period="2023-06")  # 1 of 3: less than half, warned

    report = validate(con, {kind: ["2023-04", "2023-05", "2023-06"]}, cascade=False)

    warnings = con.execute(
        "select period, row_number, source_row, rule_id from audit.row_warnings where kind = ?", [kind]
    ).fetchall()
    assert warnings == [("2023-06", 0, None, f"{prefix}-ROW-COUNT")]
    june = report.file(kind, "2023-06")
    assert june.file_warnings == (f"{prefix}-ROW-COUNT",)
    assert (june.rows_accepted, june.rows_rejected, june.rows_warned) == (1, 0, 0)
    assert report.file(kind, "2023-05").file_warnings == ()
