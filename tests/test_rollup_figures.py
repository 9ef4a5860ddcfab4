"""The prefecture's figures from hand-made bundles of three counties the project has never
seen (990101 甲县, 990102 乙市, 990103 丙区; docs/rollup.md §4), and their statuses by the
handbook's progress rule against the prefecture's targets (tests/rollup_fixtures.py TARGETS).

The bundles (numerator, denominator) of each county row:

                        甲县 990101            乙市 990102            丙区 990103
    2024-06
      demo_institutions 2                      1                      0
      filing_rate       80 / 100  (80 %)       5 / 5     (100 %)      3 / 10   (30 %)
      places_per_1000   1200 / 300000 (4.0)    600 / 200000 (3.0)     250 / 100000 (2.5)
      town_coverage     5 / 6                  2 / 4                  1 / 2
      service_type_count 3: 托育中心 4, 幼儿园托班 3, 家庭托育点 1
                                               2: 托育中心 2, 用人单位办托 1
                                                                      1: 幼儿园托班 2
    2024-07
      demo_institutions 2                      1                      (no month: 丙区's bundle ends in June)
      filing_rate       81 / 100  (81 %)       5 / 5
      places_per_1000   1260 / 300000 (4.2)    700 / 200000 (3.5)
      town_coverage     6 / 6                  3 / 4
      service_type_count 2: 托育中心 4, 家庭托育点 1
                                               2: 托育中心 2, 用人单位办托 1
"""

from __future__ import annotations

import duckdb
import pytest

from pipeline.reference import load_prefecture_reference
from pipeline.rollup.build import build
from pipeline.rollup.receive import receive_all
from tests.rollup_fixtures import county_bundle, prefecture_folder

JUNE = {
    "990101": {"demo_institutions": (2, None), "filing_rate": (80, 100), "places_per_1000": (1200, 300000),
               "town_coverage": (5, 6), "service_type_count": (3, None)},
    "990102": {"demo_institutions": (1, None), "filing_rate": (5, 5), "places_per_1000": (600, 200000),
               "town_coverage": (2, 4), "service_type_count": (2, None)},
    "990103": {"demo_institutions": (0, None), "filing_rate": (3, 10), "places_per_1000": (250, 100000),
               "town_coverage": (1, 2), "service_type_count": (1, None)},
}
JULY = {
    "990101": {"demo_institutions": (2, None), "filing_rate": (81, 100), "places_per_1000": (1260, 300000),
               "town_coverage": (6, 6), "service_type_count": (2, None)},
    "990102": {"demo_institutions": (1, None), "filing_rate": (5, 5), "places_per_1000": (700, 200000),
               "town_coverage": (3, 4), "service_type_count": (2, None)},
}
TYPES = {
    "990101": {"2024-06": {"托育中心": 4, "幼儿园托班": 3, "家庭托育点": 1}, "2024-07": {"托育中心": 4, "家庭托育点": 1}},
    "990102": {"2024-06": {"托育中心": 2, "用人单位办托": 1}, "2024-07": {"托育中心": 2, "用人单位办托": 1}},
    "990103": {"2024-06": {"幼儿园托班": 2}},
}
PREFECTURE = "990100"


def rollup(tmp_path, rollup_toml: str | None = None) -> duckdb.DuckDBPyConnection:
    reference = load_prefecture_reference(prefecture_folder(tmp_path, rollup=rollup_toml))
    inbox = tmp_path / "inbox"
    for code in ("990101", "990102", "990103"):
        figures = {"2024-06": JUNE[code]}
        if code in JULY:
            figures["2024-07"] = JULY[code]
        county_bundle(inbox, code, figures, types=TYPES[code])
    receive_all(reference, inbox, tmp_path / "store")
    con = duckdb.connect()
    build(con, reference, tmp_path / "store")
    return con


def row(con, indicator_id: str, period: str, area: str = PREFECTURE) -> dict:
    cursor = con.execute("select * from marts.indicator_values where indicator_id = ? and period = ? and area_code = ?",
                         [indicator_id, period, area])
    names = [d[0] for d in cursor.description]
    found = cursor.fetchall()
    assert len(found) == 1, (indicator_id, period, area, found)
    return dict(zip(names, found[0]))


@pytest.fixture(scope="module")
def every_county(tmp_path_factory):
    return rollup(tmp_path_factory.mktemp("every"))


@pytest.fixture(scope="module")
def sixty_percent(tmp_path_factory):
    return rollup(tmp_path_factory.mktemp("sixty"), "min_county_share = 0.6\n")


def test_june_prefecture_figures_are_the_sums_the_rules_imply(every_county):
    # count: 2 + 1 + 0
    assert row(every_county, "demo_institutions", "2024-06")["value"] == pytest.approx(3, abs=1e-9)
    # percent: 100 × (80 + 5 + 3) ÷ (100 + 5 + 10) = 8800 ÷ 115 = 76.52 (not the mean of 80, 100, 30 = 70)
    filing = row(every_county, "filing_rate", "2024-06")
    assert (filing["numerator"], filing["denominator"]) == (88, 115)
    assert filing["value"] == pytest.approx(8800 / 115, abs=1e-9)
    # per 1,000: 1000 × (1200 + 600 + 250) ÷ (300000 + 200000 + 100000) = 2,050,000 ÷ 600,000
    assert row(every_county, "places_per_1000", "2024-06")["value"] == pytest.approx(2050000 / 600000, abs=1e-9)
    # town coverage: 100 × (5 + 2 + 1) covered ÷ (6 + 4 + 2) towns = 800 ÷ 12
    coverage = row(every_county, "town_coverage", "2024-06")
    assert (coverage["numerator"], coverage["denominator"]) == (8, 12)
    assert coverage["value"] == pytest.approx(800 / 12, abs=1e-9)
    # service types: {托育中心, 幼儿园托班, 家庭托育点, 用人单位办托} = 4, not 3 + 2 + 1 = 6
    assert row(every_county, "service_type_count", "2024-06")["value"] == pytest.approx(4, abs=1e-9)


def test_each_county_row_is_its_own_bundle_row(every_county):
    assert row(every_county, "filing_rate", "2024-06", "990101")["value"] == pytest.approx(80.0, abs=1e-9)
    assert row(every_county, "filing_rate", "2024-06", "990103")["value"] == pytest.approx(30.0, abs=1e-9)
    assert row(every_county, "places_per_1000", "2024-07", "990102")["value"] == pytest.approx(3.5, abs=1e-9)
    assert row(every_county, "service_type_count", "2024-06", "990102")["value"] == pytest.approx(2, abs=1e-9)
    # 丙区 has no July: its row is there, with no value
    july = row(every_county, "filing_rate", "2024-07", "990103")
    assert july["value"] is None and july["numerator"] is None and july["status"] == "no_data"
    # the prefecture and its three counties, no 镇街 row of a bundle
    areas = {a for (a,) in every_county.execute("select distinct area_code from marts.indicator_values").fetchall()}
    assert areas == {PREFECTURE, "990101", "990102", "990103"}


def test_a_month_missing_for_one_county_is_no_data_by_default(every_county):
    for indicator_id in ("demo_institutions", "filing_rate", "places_per_1000", "town_coverage", "service_type_count"):
        july = row(every_county, indicator_id, "2024-07")
        assert (july["value"], july["numerator"], july["denominator"]) == (None, None, None), indicator_id
    assert row(every_county, "filing_rate", "2024-07")["status"] == "no_data"


def test_with_min_county_share_0_6_two_of_three_counties_give_a_value(sixty_percent):
    # 2 of 3 counties = 0.667 >= 0.6: the July sums over 甲县 and 乙市 only
    assert row(sixty_percent, "demo_institutions", "2024-07")["value"] == pytest.approx(2 + 1, abs=1e-9)
    # 100 × (81 + 5) ÷ (100 + 5)
    assert row(sixty_percent, "filing_rate", "2024-07")["value"] == pytest.approx(8600 / 105, abs=1e-9)
    # 1000 × (1260 + 700) ÷ (300000 + 200000) = 3.92
    assert row(sixty_percent, "places_per_1000", "2024-07")["value"] == pytest.approx(3.92, abs=1e-9)
    # 100 × (6 + 3) ÷ (6 + 4) = 90: the towns of the counties with the month
    assert row(sixty_percent, "town_coverage", "2024-07")["value"] == pytest.approx(90.0, abs=1e-9)
    # {托育中心, 家庭托育点, 用人单位办托}: 幼儿园托班 left 甲县 in July and 丙区 has no July
    assert row(sixty_percent, "service_type_count", "2024-07")["value"] == pytest.approx(3, abs=1e-9)
    # June is the same as with every county
    assert row(sixty_percent, "filing_rate", "2024-06")["value"] == pytest.approx(8800 / 115, abs=1e-9)


def test_an_indicator_no_county_sent_is_no_data_even_with_a_share(sixty_percent):
    assert row(sixty_percent, "enrolled_children", "2024-06")["value"] is None


def test_statuses_follow_the_progress_rule(every_county, sixty_percent):
    # demo_institutions >= 3 by 2025-12: 3 in June 2024 → attained (county total only:
    # applies_to "county", so a county row has no status)
    assert row(every_county, "demo_institutions", "2024-06")["status"] == "attained"
    assert row(every_county, "demo_institutions", "2024-06", "990101")["status"] is None
    # filing_rate >= 100 by 2025-12, judged for each county too: 乙市 100 % → attained
    assert row(every_county, "filing_rate", "2024-06", "990102")["status"] == "attained"
    # 甲县: June 80 is its first month → insufficient_data; July 81, base June:
    # R = ((81 − 80) × 18 months June→deadline) ÷ ((100 − 80) × 1 month) = 18 ÷ 20 = 0.9
    # → 0.6 <= R < 0.95: needs_acceleration
    assert row(every_county, "filing_rate", "2024-06", "990101")["status"] == "insufficient_data"
    assert row(every_county, "filing_rate", "2024-07", "990101")["status"] == "needs_acceleration"
    # the prefecture with share 0.6: June 8800/115 = 76.52, July 8600/105 = 81.90:
    # R = ((81.90 − 76.52) × 18) ÷ ((100 − 76.52) × 1) = 4.13 >= 0.95 → on_track
    june, july = 8800 / 115, 8600 / 105
    assert (july - june) * 18 / ((100 - june) * 1) == pytest.approx(4.127, abs=1e-3)
    assert row(sixty_percent, "filing_rate", "2024-07")["status"] == "on_track"
    # places_per_1000 >= 4.5 by 2024-07: July is the deadline month, 3.92 < 4.5 → not_attained;
    # 甲县's 4.2 is short too, June's 4.0 before the deadline is its first month
    assert row(sixty_percent, "places_per_1000", "2024-07")["status"] == "not_attained"
    assert row(every_county, "places_per_1000", "2024-07", "990101")["status"] == "not_attained"
    assert row(every_county, "places_per_1000", "2024-06", "990101")["status"] == "insufficient_data"
    # no target, no status
    assert row(every_county, "town_coverage", "2024-06")["status"] is None
