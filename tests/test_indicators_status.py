"""Target status (indicator-handbook.md, "Target status") on hand-made series.

Most cases use places_per_1000 in 甲街道 with one institution and a population chosen so
that the value is simple: with 1,000 residents the value equals the places; with
100,000 residents it is places ÷ 100. The target is set per test.
"""

from __future__ import annotations

import pytest

from tests.indicator_fixtures import COUNTY, TOWN_A, TOWN_B, TOWN_C, Warehouse


def target(indicator_id: str, value: float, comparison: str, deadline: str,
           applies_to: str = "county_and_towns") -> tuple:
    return (indicator_id, value, comparison, deadline, "二", "市卫健局", "", None, applies_to)


def places_series(tmp_path, places_by_month: dict[str, int], *, deadline: str,
                  target_value: float = 100.0, residents: int = 1_000) -> Warehouse:
    """One institution in 甲街道 with the given places each month; a `>=` target."""
    population = [(2023, TOWN_A, residents, 10), (2023, TOWN_B, 5_000, 10), (2023, TOWN_C, 5_000, 10)]
    w = Warehouse(tmp_path / "warehouse.duckdb", population=population,
                  targets=[target("places_per_1000", target_value, ">=", deadline)])
    for period, places in places_by_month.items():
        w.file("institutions", period)
        w.institution(period, "I1", TOWN_A, places=places)
    w.build()
    return w


@pytest.mark.parametrize(
    ("february", "expected"),
    [
        # B = 2024-01 with v(B) = 50; M = 2024-02, one month later; D = 2024-11, ten months
        # after B; T = 100. Required pace (100 − 50) ÷ 10 = 5 a month.
        (55, "on_track"),  # observed (55 − 50) ÷ 1 = 5: R = 1.0
        (54, "needs_acceleration"),  # 4 ÷ 5: R = 0.8
        (53, "needs_acceleration"),  # 3 ÷ 5: R = 0.6, the band's lower edge
        (52, "limited_progress"),  # 2 ÷ 5: R = 0.4
        (50, "limited_progress"),  # 0 ÷ 5: R = 0, still 0 ≤ R
        (45, "regressing"),  # −5 ÷ 5: R = −1
        (100, "attained"),  # meets T before the deadline: attained early
        (120, "attained"),
    ],
)
def test_progress_bands(tmp_path, february, expected):
    w = places_series(tmp_path, {"2024-01": 50, "2024-02": february}, deadline="2024-11")
    assert w.value("places_per_1000", "2024-02", TOWN_A) == february
    assert w.status("places_per_1000", "2024-02", TOWN_A) == expected
    # the first month with a value has nothing to compare with
    assert w.status("places_per_1000", "2024-01", TOWN_A) == "insufficient_data"


def test_on_track_at_exactly_095(tmp_path):
    # 100,000 residents: value = places ÷ 100. v(B) = 50.00, v(M) = 54.75, D − B = 10
    # months: R = (4.75 ÷ 1) ÷ (50 ÷ 10) = 0.95, the on_track edge.
    w = places_series(tmp_path, {"2024-01": 5000, "2024-02": 5475}, deadline="2024-11", residents=100_000)
    assert w.value("places_per_1000", "2024-02", TOWN_A) == 54.75
    assert w.status("places_per_1000", "2024-02", TOWN_A) == "on_track"


def test_on_track_edge_tolerates_floating_point_noise(tmp_path):
    # 10,000 residents: value = places ÷ 10. v(B) = 50.0, v(M) = 51.9, T = 70, D − B = 10:
    # R = (1.9 ÷ 1) ÷ (20 ÷ 10) = 0.95, but 51.9 − 50 is 1.8999999999999986 in floating
    # point, so R comes out as 0.9499999999999993. Within 1e-9 of the edge: on_track.
    w = places_series(tmp_path, {"2024-01": 500, "2024-02": 519}, deadline="2024-11",
                      target_value=70.0, residents=10_000)
    assert w.value("places_per_1000", "2024-02", TOWN_A) - 50.0 < 1.9
    assert w.status("places_per_1000", "2024-02", TOWN_A) == "on_track"


def test_both_sides_of_the_deadline(tmp_path):
    w = places_series(
        tmp_path,
        {"2024-01": 50, "2024-02": 99, "2024-03": 100, "2024-04": 90},
        deadline="2024-02",
    )
    assert w.status("places_per_1000", "2024-01", TOWN_A) == "insufficient_data"  # before D, 1 month
    assert w.status("places_per_1000", "2024-02", TOWN_A) == "not_attained"  # M = D, 99 < 100
    assert w.status("places_per_1000", "2024-03", TOWN_A) == "attained"  # after D, 100 ≥ 100
    assert w.status("places_per_1000", "2024-04", TOWN_A) == "not_attained"  # after D, 90 < 100


@pytest.mark.parametrize("january", [100, 120])
def test_falling_below_a_target_already_met_is_regressing(tmp_path, january):
    # v(B) meets T = 100; v(M) = 90 no longer does. The required pace (100 − v(B)) ÷ 10 is
    # 0 or negative: for 120, R = (−30 ÷ 1) ÷ (−20 ÷ 10) = 15 would read as on_track.
    w = places_series(tmp_path, {"2024-01": january, "2024-02": 90}, deadline="2024-11")
    assert w.status("places_per_1000", "2024-01", TOWN_A) == "attained"
    assert w.status("places_per_1000", "2024-02", TOWN_A) == "regressing"


def test_base_month_is_twelve_months_back(tmp_path):
    # M = 2024-03, D = 2024-12, T = 100. First value 2023-01 (10), M − 12 = 2023-03 (50).
    # B = 2023-03: observed (56 − 50) ÷ 12 = 0.5; required (100 − 50) ÷ 21 = 2.38;
    # R = 0.21: limited_progress. (From 2023-01 it would be (46 ÷ 14) ÷ (90 ÷ 23) = 0.84.)
    w = places_series(tmp_path, {"2023-01": 10, "2023-03": 50, "2024-03": 56}, deadline="2024-12")
    assert w.status("places_per_1000", "2024-03", TOWN_A) == "limited_progress"


def test_base_month_when_twelve_months_back_has_no_value(tmp_path):
    # M − 12 = 2023-03 has no extract; B = 2023-04, the first month with a value in the
    # window: observed (56 − 50) ÷ 11 = 0.545; required (100 − 50) ÷ 20 = 2.5; R = 0.22.
    w = places_series(tmp_path, {"2023-01": 10, "2023-04": 50, "2024-03": 56}, deadline="2024-12")
    assert w.status("places_per_1000", "2023-03", TOWN_A) == "no_data"
    assert w.status("places_per_1000", "2024-03", TOWN_A) == "limited_progress"


def test_insufficient_data_when_the_window_holds_one_month(tmp_path):
    # 2022-12 is more than 12 months before 2024-01: the window 2023-01…2024-01 has only M.
    w = places_series(tmp_path, {"2022-12": 10, "2024-01": 60}, deadline="2025-12")
    assert w.status("places_per_1000", "2024-01", TOWN_A) == "insufficient_data"
    # the months between exist, without data
    assert w.status("places_per_1000", "2023-06", TOWN_A) == "no_data"
    assert w.value("places_per_1000", "2023-06", TOWN_A) is None


def test_status_at_county_level_too(tmp_path):
    # county: 1,000 + 5,000 + 5,000 = 11,000 residents. 2024-01: 1000 × 50 ÷ 11,000 = 4.55;
    # 2024-02: 1000 × 121 ÷ 11,000 = 11.0, meets T = 11 before 2024-11.
    w = places_series(tmp_path, {"2024-01": 50, "2024-02": 121}, deadline="2024-11", target_value=11.0)
    assert w.status("places_per_1000", "2024-01", COUNTY) == "insufficient_data"
    assert w.status("places_per_1000", "2024-02", COUNTY) == "attained"


def test_equals_target_with_float_tolerance(tmp_path):
    # filing_rate "= 100" before its deadline: 3 of 3 filed is 100 → attained; 2 of 3 is not.
    w = Warehouse(tmp_path / "warehouse.duckdb", targets=[target("filing_rate", 100.0, "=", "2024-12")])
    w.file("institutions", "2024-01")
    w.file("institutions", "2024-02")
    for number in (1, 2, 3):
        w.institution("2024-01", f"I{number}", TOWN_A, filed=number != 3)
        w.institution("2024-02", f"I{number}", TOWN_A, filed=True)
    w.build()
    assert w.status("filing_rate", "2024-01") == "insufficient_data"
    assert w.status("filing_rate", "2024-02") == "attained"


ONE_THIRD = (1 / 3) * 100


def one_in_three_filed(tmp_path) -> Warehouse:
    """filing_rate "= (1 ÷ 3) × 100" by 2024-01, and 1 of 3 institutions filed in 2024-01:
    100 × 1 ÷ 3 is 33.333333333333336 in floating point, (1 ÷ 3) × 100 is 33.33333333333333."""
    w = Warehouse(tmp_path / "warehouse.duckdb", targets=[target("filing_rate", ONE_THIRD, "=", "2024-01")])
    w.file("institutions", "2024-01")
    for number in (1, 2, 3):
        w.institution("2024-01", f"I{number}", TOWN_A, filed=number == 1)
    w.build()
    return w


def test_equals_target_tolerates_floating_point_noise(tmp_path):
    # equal within 1e-9, so the deadline month is attained
    w = one_in_three_filed(tmp_path)
    assert w.value("filing_rate", "2024-01") != ONE_THIRD
    assert w.status("filing_rate", "2024-01") == "attained"


def test_one_tolerance_for_status_and_verdict(tmp_path, monkeypatch):
    # The same series built with no tolerance at all (TOLERANCE, bound into the SQL as
    # $tolerance): the last-bit difference now misses "= T", in the month's status and in
    # the verdict at the deadline alike.
    from pipeline.marts import build

    monkeypatch.setattr(build, "TOLERANCE", 0.0)
    w = one_in_three_filed(tmp_path)
    assert w.status("filing_rate", "2024-01") == "not_attained"
    assert w.query("select verdict, attained from marts.target_verdicts") == [("not_attained", False)]


def test_target_checks_hold_the_comparison_gap_and_shortfall(tmp_path):
    # T = 100 (>=) by 2024-11 in 甲街道 (value = places): 50 is short by 50, 100 meets it,
    # 120 exceeds it by 20 and is short by nothing.
    w = places_series(tmp_path, {"2024-01": 50, "2024-02": 100, "2024-03": 120}, deadline="2024-11")
    rows = w.query("select period, value, target_value, comparison, target_deadline, meets_target, gap, shortfall "
                   "from marts.target_checks where indicator_id = 'places_per_1000' and area_code = ? order by period",
                   [TOWN_A])
    assert rows == [
        ("2024-01", 50.0, 100.0, ">=", "2024-11", False, -50.0, 50.0),
        ("2024-02", 100.0, 100.0, ">=", "2024-11", True, 0.0, 0.0),
        ("2024-03", 120.0, 100.0, ">=", "2024-11", True, 20.0, 0.0),
    ]
    # a target for 镇街 too: a row for the county and every 镇街
    assert w.query("select count(*) from marts.target_checks where period = '2024-01'") == [(4,)]
    # 丙镇 has residents but no institution: value 0, short by the whole target
    assert w.query("select meets_target, gap, shortfall from marts.target_checks "
                   "where period = '2024-01' and area_code = ?", [TOWN_C]) == [(False, -100.0, 100.0)]


def test_no_target_no_status(tmp_path):
    w = places_series(tmp_path, {"2024-01": 50}, deadline="2024-11")
    row = w.row("filing_rate", "2024-01", TOWN_A)  # filing_rate has no target here
    assert (row["target_value"], row["target_deadline"], row["status"]) == (None, None, None)


# ---------------------------------------------------------------- where a target applies


def demo_warehouse(tmp_path, applies_to: str) -> Warehouse:
    """demo_institutions "≥ 1 by 2024-01" on three 镇街: 甲街道 has 1 示范 institution, 乙镇
    has one that is not, 丙镇 has none. 2024-02's institutions file was rejected."""
    w = Warehouse(tmp_path / "warehouse.duckdb",
                  targets=[target("demo_institutions", 1.0, ">=", "2024-01", applies_to)])
    w.file("institutions", "2024-01")
    w.institution("2024-01", "I1", TOWN_A, demonstration=True)
    w.institution("2024-01", "I2", TOWN_B)
    w.file("institutions", "2024-02", status="file_rejected")
    w.build()
    return w


def test_county_target_is_not_judged_in_each_town(tmp_path):
    # Clause 二's 1-3 示范性机构 are one count for the whole county: county 1 ≥ 1 at the
    # deadline, attained. The 镇街 rows keep their value (甲 1, 乙 0, 丙 0) but carry no
    # target, deadline or status — 乙镇 and 丙镇 are not "not attained".
    w = demo_warehouse(tmp_path, "county")
    county = w.row("demo_institutions", "2024-01", COUNTY)
    assert (county["value"], county["target_value"], county["target_deadline"], county["status"]) == (
        1, 1.0, "2024-01", "attained")
    for town, value in ((TOWN_A, 1), (TOWN_B, 0), (TOWN_C, 0)):
        row = w.row("demo_institutions", "2024-01", town)
        assert (row["value"], row["target_value"], row["target_deadline"], row["status"]) == (
            value, None, None, None), town
    # A month without data: the county is no_data, a 镇街 row still has no status at all.
    assert w.status("demo_institutions", "2024-02", COUNTY) == "no_data"
    assert w.row("demo_institutions", "2024-02", TOWN_A)["status"] is None
    # marts.target_checks has the county's rows alone; without a value nothing is compared
    assert w.query("select period, area_code, meets_target, gap, shortfall from marts.target_checks "
                   "order by period") == [("2024-01", COUNTY, True, 0.0, 0.0), ("2024-02", COUNTY, None, None, None)]


def test_county_and_towns_target_is_judged_in_each_town(tmp_path):
    # The same target set for 镇街 too: 甲 1 ≥ 1 attained; 乙 and 丙 0 < 1 at the deadline.
    w = demo_warehouse(tmp_path, "county_and_towns")
    assert w.status("demo_institutions", "2024-01", COUNTY) == "attained"
    assert w.status("demo_institutions", "2024-01", TOWN_A) == "attained"
    assert w.status("demo_institutions", "2024-01", TOWN_B) == "not_attained"
    assert w.status("demo_institutions", "2024-01", TOWN_C) == "not_attained"
    assert w.row("demo_institutions", "2024-01", TOWN_C)["target_value"] == 1.0
    assert w.status("demo_institutions", "2024-02", TOWN_A) == "no_data"


def test_county_target_progress_uses_the_county_series(tmp_path):
    # places_per_1000 set for the county only, T = 11 by 2024-11 (county: 11,000
    # residents). 2024-01: 1000 × 50 ÷ 11,000 = 4.545; 2024-02: 1000 × 66 ÷ 11,000 = 6.0.
    # R = ((6 − 4.545) ÷ 1) ÷ ((11 − 4.545) ÷ 10) = 1.4545 ÷ 0.6455 = 2.25: on_track.
    # 甲街道 (1,000 residents, value = places) has no status.
    population = [(2023, TOWN_A, 1_000, 10), (2023, TOWN_B, 5_000, 10), (2023, TOWN_C, 5_000, 10)]
    w = Warehouse(tmp_path / "warehouse.duckdb", population=population,
                  targets=[target("places_per_1000", 11.0, ">=", "2024-11", "county")])
    for period, places in (("2024-01", 50), ("2024-02", 66)):
        w.file("institutions", period)
        w.institution(period, "I1", TOWN_A, places=places)
    w.build()
    assert w.value("places_per_1000", "2024-02", COUNTY) == 6.0
    assert w.status("places_per_1000", "2024-01", COUNTY) == "insufficient_data"
    assert w.status("places_per_1000", "2024-02", COUNTY) == "on_track"
    assert w.status("places_per_1000", "2024-02", TOWN_A) is None
    assert w.row("places_per_1000", "2024-02", TOWN_A)["target_value"] is None
