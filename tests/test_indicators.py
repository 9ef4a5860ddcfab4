"""marts.indicator_values on the main fixture: every indicator at every level, by hand.

The fixture (tests/test_indicators_fixture.py) has 3 镇街: 甲街道 (城镇, 10,000 residents,
300 under 3), 乙镇 (乡村, 5,000 / 100) and 丙镇 (乡村, 5,000 / 100, no operating
institution); the county has 20,000 residents, 500 under 3. O(2024-01) = I1, I2 in
甲街道 and I3, I4 in 乙镇; I5 (暂停运营) and I6 (已注销) are left out everywhere.
"""

from __future__ import annotations

import math
from datetime import date

import pytest

from tests.indicator_fixtures import COUNTY, TOWN_A, TOWN_B, TOWN_C, Warehouse, main_warehouse

pytestmark = pytest.mark.heavy(seconds=9)

C_ONLY = {"town_coverage", "rural_town_coverage", "service_type_count"}

# (indicator_id, area) -> value in 2024-01, worked out from the fixture's tables.
JANUARY = {
    # I1 is the only operating demo institution (I5 is a demo but 暂停运营).
    ("demo_institutions", COUNTY): 1,
    ("demo_institutions", TOWN_A): 1,
    ("demo_institutions", TOWN_B): 0,
    ("demo_institutions", TOWN_C): 0,
    # places: 甲 30 + 20 = 50; 乙 10 + 40 = 50; 丙 none; county 100.
    ("places_per_1000", COUNTY): 1000 * 100 / 20_000,  # 5.0
    ("places_per_1000", TOWN_A): 1000 * 50 / 10_000,  # 5.0
    ("places_per_1000", TOWN_B): 1000 * 50 / 5_000,  # 10.0
    ("places_per_1000", TOWN_C): 0.0,  # no places, but a population: 0, not NULL
    # affordable places: 甲 I1 30; 乙 I3 10.
    ("affordable_place_share", COUNTY): 100 * 40 / 100,  # 40.0
    ("affordable_place_share", TOWN_A): 100 * 30 / 50,  # 60.0
    ("affordable_place_share", TOWN_B): 100 * 10 / 50,  # 20.0
    ("affordable_place_share", TOWN_C): None,  # 0 places: NULL
    # 甲 and 乙 have operating institutions; 丙 only a 已注销 one.
    ("town_coverage", COUNTY): 100 * 2 / 3,
    ("rural_town_coverage", COUNTY): 100 * 1 / 2,  # 乙 yes, 丙 no
    # 已备案: I1, I3, I4 (I2 未备案).
    ("filing_rate", COUNTY): 100 * 3 / 4,
    ("filing_rate", TOWN_A): 100 * 1 / 2,
    ("filing_rate", TOWN_B): 100 * 2 / 2,
    ("filing_rate", TOWN_C): None,  # no institutions: 0 ÷ 0
    # full CCTV: I1, I3, I4.
    ("cctv_coverage", COUNTY): 100 * 3 / 4,
    ("cctv_coverage", TOWN_A): 100 * 1 / 2,
    ("cctv_coverage", TOWN_B): 100 * 2 / 2,
    ("cctv_coverage", TOWN_C): None,
    # fire safety passed: I1, I2, I4 (I3 failed).
    ("fire_safety_rate", COUNTY): 100 * 3 / 4,
    ("fire_safety_rate", TOWN_A): 100 * 2 / 2,
    ("fire_safety_rate", TOWN_B): 100 * 1 / 2,
    ("fire_safety_rate", TOWN_C): None,
    # children: 甲 c1 c2 c3 c4 c5 c7 = 6; 乙 c7 c8 = 2; county 7 (c7 once; c9's I5 is 暂停).
    ("enrolled_children", COUNTY): 7,
    ("enrolled_children", TOWN_A): 6,
    ("enrolled_children", TOWN_B): 2,
    ("enrolled_children", TOWN_C): 0,
    # under 3 (c4 is exactly 36 months): 甲 5; 乙 2; county 6.
    ("enrollment_rate", COUNTY): 100 * 6 / 500,  # 1.2
    ("enrollment_rate", TOWN_A): 100 * 5 / 300,
    ("enrollment_rate", TOWN_B): 100 * 2 / 100,  # 2.0
    ("enrollment_rate", TOWN_C): 0.0,  # nobody enrolled, 100 children under 3
    # enrollment rows (c7 twice): 甲 4 + 2 = 6; 乙 2; county 8.
    ("place_utilization", COUNTY): 100 * 8 / 100,  # 8.0
    ("place_utilization", TOWN_A): 100 * 6 / 50,  # 12.0
    ("place_utilization", TOWN_B): 100 * 2 / 50,  # 4.0
    ("place_utilization", TOWN_C): None,
    # caregivers (保育人员 rows): I1 s1 s2 s3, I2 s5, I3 s7 s1, I4 s8;
    # certified (保育师/育婴员/幼儿园教师资格证): s1 s2, s5, s7 s1; s3 无, s8 护士执业证.
    ("caregiver_certified_rate", COUNTY): 100 * 5 / 7,
    ("caregiver_certified_rate", TOWN_A): 100 * 3 / 4,
    ("caregiver_certified_rate", TOWN_B): 100 * 2 / 3,
    ("caregiver_certified_rate", TOWN_C): None,
    # staff rows: 甲 I1 4 + I2 2 = 6; 乙 I3 2 + I4 1 = 3; county 9 (s1 twice).
    # trained: 甲 s1 s2 s4 s5 = 4; 乙 s7 s1 = 2.
    ("staff_trained_rate", COUNTY): 100 * 6 / 9,
    ("staff_trained_rate", TOWN_A): 100 * 4 / 6,
    ("staff_trained_rate", TOWN_B): 100 * 2 / 3,
    ("staff_trained_rate", TOWN_C): None,
    # checked: 甲 s1 s3 s4 s5 s6 = 5; 乙 s7 s1 = 2.
    ("criminal_check_rate", COUNTY): 100 * 7 / 9,
    ("criminal_check_rate", TOWN_A): 100 * 5 / 6,
    ("criminal_check_rate", TOWN_B): 100 * 2 / 3,
    ("criminal_check_rate", TOWN_C): None,
    # required caregivers: I1 ⌈2/3⌉ + ⌈1/5⌉ + ⌈1/7⌉ = 3, has 3: yes;
    # I2 ⌈1/5⌉ + ⌈1/7⌉ = 2, has 1: no; I3 ⌈2/5⌉ = 1, has 2: yes; I4 no children: left out.
    ("ratio_compliance_rate", COUNTY): 100 * 2 / 3,
    ("ratio_compliance_rate", TOWN_A): 100 * 1 / 2,
    ("ratio_compliance_rate", TOWN_B): 100 * 1 / 1,
    ("ratio_compliance_rate", TOWN_C): None,
    # 幼儿园托班: I2.
    ("kindergarten_nursery_count", COUNTY): 1,
    ("kindergarten_nursery_count", TOWN_A): 1,
    ("kindergarten_nursery_count", TOWN_B): 0,
    ("kindergarten_nursery_count", TOWN_C): 0,
    # 用人单位办托: I4.
    ("employer_institution_count", COUNTY): 1,
    ("employer_institution_count", TOWN_A): 0,
    ("employer_institution_count", TOWN_B): 1,
    ("employer_institution_count", TOWN_C): 0,
    # 妇幼保健机构办托: I3.
    ("mch_institution_count", COUNTY): 1,
    ("mch_institution_count", TOWN_A): 0,
    ("mch_institution_count", TOWN_B): 1,
    ("mch_institution_count", TOWN_C): 0,
    # types in O(M): 社会办, 幼儿园托班, 妇幼保健机构办托, 用人单位办托 (I5, I6 left out).
    ("service_type_count", COUNTY): 4,
}


@pytest.fixture
def warehouse(tmp_path):
    w = main_warehouse(tmp_path / "warehouse.duckdb")
    yield w
    w.close()


def assert_close(actual, expected, label=""):
    if expected is None:
        assert actual is None, label
    else:
        assert actual is not None and math.isclose(actual, expected, rel_tol=0, abs_tol=1e-9), (label, actual, expected)
        assert isinstance(actual, float)


@pytest.mark.parametrize("indicator_id", sorted({i for i, _ in JANUARY}))
def test_january_values(warehouse, indicator_id):
    for (expected_id, area_code), expected in JANUARY.items():
        if expected_id == indicator_id:
            assert_close(warehouse.value(indicator_id, "2024-01", area_code), expected, area_code)


def test_every_indicator_of_the_handbook_is_covered_by_the_january_table():
    indicators = {i for i, _ in JANUARY}
    assert len(indicators) == 19
    for indicator_id in indicators:
        areas = {a for i, a in JANUARY if i == indicator_id}
        assert areas == ({COUNTY} if indicator_id in C_ONLY else {COUNTY, TOWN_A, TOWN_B, TOWN_C})


def test_grain_one_row_per_indicator_month_area(warehouse):
    # 4 months × (19 county rows + 16 level-A indicators × 3 镇街) = 4 × 67 = 268
    rows = warehouse.query("select count(*), count(distinct (indicator_id, period, area_code)) from marts.indicator_values")
    assert rows == [(268, 268)]
    c_only_town_rows = warehouse.query(
        "select count(*) from marts.indicator_values where area_code <> ? and indicator_id in ?",
        [COUNTY, sorted(C_ONLY)],
    )
    assert c_only_town_rows == [(0,)]


def test_columns_are_exactly_the_handbooks(warehouse):
    columns = warehouse.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'indicator_values' order by ordinal_position"
    )
    assert columns == [
        ("indicator_id", "VARCHAR"),
        ("period", "VARCHAR"),
        ("area_code", "VARCHAR"),
        ("value", "DOUBLE"),
        ("numerator", "DOUBLE"),
        ("denominator", "DOUBLE"),
        ("target_value", "DOUBLE"),
        ("target_deadline", "VARCHAR"),
        ("status", "VARCHAR"),
    ]


def test_numerator_and_denominator(warehouse):
    places = warehouse.row("places_per_1000", "2024-01", COUNTY)
    assert (places["numerator"], places["denominator"]) == (100, 20_000)  # Σ places, residents
    filing = warehouse.row("filing_rate", "2024-01", TOWN_A)
    assert (filing["numerator"], filing["denominator"]) == (1, 2)
    empty_town = warehouse.row("filing_rate", "2024-01", TOWN_C)
    assert (empty_town["value"], empty_town["numerator"], empty_town["denominator"]) == (None, 0, 0)
    children = warehouse.row("enrolled_children", "2024-01", COUNTY)
    assert (children["numerator"], children["denominator"]) == (7, None)  # counts: no denominator
    under3 = warehouse.row("enrollment_rate", "2024-01", COUNTY)
    assert (under3["numerator"], under3["denominator"]) == (6, 500)


def test_a_child_in_two_towns_counts_once_for_the_county(warehouse):
    # c7 is enrolled at I2 (甲街道) and at I3 (乙镇): 6 + 2 = 8 by 镇街, 7 for the county.
    by_town = sum(warehouse.value("enrolled_children", "2024-01", a) for a in (TOWN_A, TOWN_B, TOWN_C))
    assert by_town == 8
    assert warehouse.value("enrolled_children", "2024-01") == 7
    # place_utilization counts enrollment rows, so c7's two places both count: 8 rows.
    assert warehouse.row("place_utilization", "2024-01", COUNTY)["numerator"] == 8


def test_staff_are_counted_as_rows(warehouse):
    # s1 works at I1 and I3: 9 staff rows for 8 people; the rates divide by rows.
    trained = warehouse.row("staff_trained_rate", "2024-01", COUNTY)
    assert (trained["numerator"], trained["denominator"]) == (6, 9)
    caregivers = warehouse.row("caregiver_certified_rate", "2024-01", COUNTY)
    assert (caregivers["numerator"], caregivers["denominator"]) == (5, 7)


def test_month_without_enrollment_extract(warehouse):
    # 2024-02 has institutions and staffing only.
    for indicator_id in ("enrolled_children", "enrollment_rate", "place_utilization", "ratio_compliance_rate"):
        for area_code in (COUNTY, TOWN_A, TOWN_B, TOWN_C):
            row = warehouse.row(indicator_id, "2024-02", area_code)
            assert (row["value"], row["numerator"], row["denominator"]) == (None, None, None), (indicator_id, area_code)
    # the rest is there: I2 is now 已备案, so 4 of 4; staff as in January.
    assert warehouse.value("filing_rate", "2024-02") == 100 * 4 / 4
    assert_close(warehouse.value("caregiver_certified_rate", "2024-02"), 100 * 5 / 7)
    assert warehouse.value("enrollment_rate", "2024-02", TOWN_C) is None  # not 0: no data
    assert warehouse.status("ratio_compliance_rate", "2024-02") == "no_data"


def test_month_without_staffing_extract(warehouse):
    # 2024-03 has institutions and enrollment only.
    for indicator_id in ("caregiver_certified_rate", "staff_trained_rate", "criminal_check_rate", "ratio_compliance_rate"):
        for area_code in (COUNTY, TOWN_A, TOWN_B, TOWN_C):
            assert warehouse.value(indicator_id, "2024-03", area_code) is None, (indicator_id, area_code)
    assert warehouse.value("enrolled_children", "2024-03") == 7
    # at 2024-03-31, c4 (2021-01-31) is 38 months and c5 (2021-02-01) 37: under 3 are
    # c1 c2 c3 c7 c8 = 5 for the county, c1 c2 c3 c7 = 4 for 甲街道.
    assert warehouse.value("enrollment_rate", "2024-03") == 100 * 5 / 500
    assert_close(warehouse.value("enrollment_rate", "2024-03", TOWN_A), 100 * 4 / 300)
    assert warehouse.value("place_utilization", "2024-03") == 100 * 8 / 100


def test_month_without_institutions_extract_is_all_null(warehouse):
    # 2024-04's only file was rejected: the month is listed, and has no data at all.
    rows = warehouse.query(
        "select count(*), count(value), count(numerator), count(denominator) "
        "from marts.indicator_values where period = '2024-04'"
    )
    assert rows == [(67, 0, 0, 0)]
    statuses = warehouse.query(
        "select distinct status from marts.indicator_values where period = '2024-04' and target_value is not null"
    )
    assert statuses == [("no_data",)]
    untargeted = warehouse.query(
        "select count(*) from marts.indicator_values where period = '2024-04' and target_value is null and status is not null"
    )
    assert untargeted == [(0,)]


def test_calendar_spans_recognised_files_only(warehouse):
    months = warehouse.query("select period, has_institutions, has_enrollment, has_staffing from marts.month_calendar")
    assert months == [
        ("2024-01", True, True, True),
        ("2024-02", True, False, True),
        ("2024-03", True, True, False),
        ("2024-04", False, False, False),  # rejected file: delivered, but no data
    ]


def test_targets_and_status_columns(warehouse):
    filing = warehouse.row("filing_rate", "2024-01", TOWN_A)
    assert (filing["target_value"], filing["target_deadline"]) == (100, "2023-12")
    # 2024-01 is after the 2023-12 deadline: 50 % of 甲街道's institutions filed.
    assert filing["status"] == "not_attained"
    assert warehouse.status("filing_rate", "2024-02") == "attained"  # 4 of 4
    children = warehouse.row("enrolled_children", "2024-01", COUNTY)
    assert (children["target_value"], children["target_deadline"], children["status"]) == (None, None, None)


def test_county_total_targets_have_no_status_in_the_towns(warehouse):
    # The default targets: demo_institutions (≥ 1 by 2023-12) and mch_institution_count
    # (≥ 1 by 2025-12) are county totals. 2024-01: I1 is the one 示范 institution (甲街道),
    # I3 the one 妇幼保健机构办托 (乙镇); both county values are 1.
    demo = warehouse.row("demo_institutions", "2024-01", COUNTY)
    assert (demo["value"], demo["target_value"], demo["target_deadline"], demo["status"]) == (
        1, 1.0, "2023-12", "attained")  # after the deadline, 1 ≥ 1
    mch = warehouse.row("mch_institution_count", "2024-01", COUNTY)
    assert (mch["value"], mch["target_value"], mch["target_deadline"], mch["status"]) == (
        1, 1.0, "2025-12", "attained")  # before the deadline and already met
    for indicator_id, values in (("demo_institutions", (1, 0, 0)), ("mch_institution_count", (0, 1, 0))):
        for town, value in zip((TOWN_A, TOWN_B, TOWN_C), values):
            row = warehouse.row(indicator_id, "2024-01", town)
            assert (row["value"], row["target_value"], row["target_deadline"], row["status"]) == (
                value, None, None, None), (indicator_id, town)
    # A rate is judged in each 镇街 as well: 乙镇 filed 2 of 2 = 100 %, attained.
    assert warehouse.row("filing_rate", "2024-01", TOWN_B)["target_value"] == 100
    assert warehouse.status("filing_rate", "2024-01", TOWN_B) == "attained"
    # No 镇街 row of the whole table has a status for a county-only target.
    assert warehouse.query("""
        select count(*) from marts.indicator_values as v
        join reference.targets as t on t.indicator_id = v.indicator_id and t.applies_to = 'county'
        where v.area_code <> ? and (v.status is not null or v.target_value is not null
                                    or v.target_deadline is not null)""", [COUNTY]) == [(0,)]


def test_rebuilding_gives_identical_marts(warehouse):
    tables = [t for (t,) in warehouse.query(
        "select table_name from information_schema.tables where table_schema = 'marts' order by table_name"
    )]
    assert "indicator_values" in tables and "indicator_values_zh" in tables

    def snapshot():
        return {t: warehouse.query(f'select * from marts."{t}"') for t in tables}

    first = snapshot()
    warehouse.build()
    assert snapshot() == first


def test_required_caregivers_round_up_per_class(tmp_path):
    w = Warehouse(tmp_path / "warehouse.duckdb")
    w.files("2024-01", "institutions", "enrollment", "staffing")
    born = date(2023, 1, 1)
    # (institution, class, children, caregivers): required = ⌈children ÷ 3, 5 or 7⌉
    cases = [
        ("I1", "乳儿班", 3, 1),  # ⌈3/3⌉ = 1, has 1: meets
        ("I2", "乳儿班", 4, 1),  # ⌈4/3⌉ = 2, has 1: fails
        ("I3", "托小班", 6, 2),  # ⌈6/5⌉ = 2, has 2: meets
        ("I4", "托大班", 7, 0),  # ⌈7/7⌉ = 1, has only a 管理人员: fails
        ("I5", "托大班", 8, 2),  # ⌈8/7⌉ = 2, has 2: meets
    ]
    for institution_id, class_type, children, caregivers in cases:
        w.institution("2024-01", institution_id, TOWN_A)
        for number in range(children):
            w.child("2024-01", institution_id, f"{institution_id}-c{number}", born, class_type)
        for number in range(caregivers):
            w.staff("2024-01", institution_id, f"{institution_id}-s{number}")
    w.staff("2024-01", "I4", "I4-manager", role="管理人员")
    w.build()
    required = w.query("select institution_id, required_caregivers from marts.institution_enrollment order by 1")
    assert required == [("I1", 1), ("I2", 2), ("I3", 2), ("I4", 1), ("I5", 2)]
    # 3 of 5 institutions meet the standard
    assert w.value("ratio_compliance_rate", "2024-01") == 100 * 3 / 5


def test_institution_located_at_the_county_code(tmp_path):
    # The county's own code is an area of the reference: such an institution counts for
    # the county but for no 镇街, and covers no 镇街.
    w = Warehouse(tmp_path / "warehouse.duckdb")
    w.file("institutions", "2024-01")
    w.institution("2024-01", "I1", COUNTY, places=40)
    w.institution("2024-01", "I2", TOWN_A, places=10)
    w.build()
    assert w.value("places_per_1000", "2024-01") == 1000 * 50 / 20_000  # 2.5
    assert w.value("places_per_1000", "2024-01", TOWN_A) == 1000 * 10 / 10_000  # 1.0
    assert w.value("town_coverage", "2024-01") == 100 * 1 / 3


def test_staff_with_an_empty_flag_count_as_not_done(tmp_path):
    # 3 staff rows: trained 是, 否 and empty → 1 of 3; checked 是, 是, empty → 2 of 3.
    w = Warehouse(tmp_path / "warehouse.duckdb")
    w.files("2024-01", "institutions", "staffing")
    w.institution("2024-01", "I1", TOWN_A)
    w.staff("2024-01", "I1", "s1", trained=True, checked=True)
    w.staff("2024-01", "I1", "s2", trained=False, checked=True)
    w.staff("2024-01", "I1", "s3", trained=None, checked=None)
    w.build()
    trained = w.row("staff_trained_rate", "2024-01", COUNTY)
    assert (trained["numerator"], trained["denominator"]) == (1, 3)
    checked = w.row("criminal_check_rate", "2024-01", COUNTY)
    assert (checked["numerator"], checked["denominator"]) == (2, 3)
