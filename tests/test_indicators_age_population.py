"""Age in months at month end, and the population year, as indicator-handbook.md defines them.

Age at E(M) for birth date b: 12 × (year(E) − year(b)) + (month(E) − month(b)), minus 1
when day(E) < day(b). Under 3 means under 36 months.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.indicator_fixtures import COUNTY, TOWN_A, TOWN_B, TOWN_C, Warehouse


@pytest.mark.parametrize(
    ("period", "birth", "under3"),
    [
        # E = 2024-01-31: 12 × 3 + 0 = 36, day 31 is not < 31: exactly 36 months.
        ("2024-01", date(2021, 1, 31), False),
        # E = 2024-01-31: 12 × 3 + (1 − 2) = 35.
        ("2024-01", date(2021, 2, 1), True),
        # E = 2023-02-28, born on 29 Feb: 12 × 3 + 0 − 1 (28 < 29) = 35.
        ("2023-02", date(2020, 2, 29), True),
        # E = 2024-02-29, born on 29 Feb four years before: 48.
        ("2024-02", date(2020, 2, 29), False),
        # E = 2024-02-29: 12 × 3 + 0 = 36 (29 is not < 28).
        ("2024-02", date(2021, 2, 28), False),
        # E = 2024-02-29: 12 × 3 + (2 − 1) − 1 (29 < 31) = 36, although February is short.
        ("2024-02", date(2021, 1, 31), False),
        # E = 2024-02-29: 12 × 3 + (2 − 3) = 35.
        ("2024-02", date(2021, 3, 1), True),
        # E = 2023-11-30, born at a month end: 12 × 3 + 0 = 36.
        ("2023-11", date(2020, 11, 30), False),
        # E = 2023-11-30: 12 × 3 + (11 − 12) − 1 (30 < 31) = 34.
        ("2023-11", date(2020, 12, 31), True),
        # E = 2023-12-31: 12 × 3 + 0 = 36.
        ("2023-12", date(2020, 12, 31), False),
        # E = 2024-04-30: 12 × 3 + (4 − 5) = 35.
        ("2024-04", date(2021, 5, 1), True),
    ],
)
def test_under_three_at_month_end(tmp_path, period, birth, under3):
    w = Warehouse(tmp_path / "warehouse.duckdb")
    w.files(period, "institutions", "enrollment")
    w.institution(period, "I1", TOWN_A)
    w.child(period, "I1", "c1", birth)
    w.build()
    # enrolled whatever the age; under 3 only below 36 months
    assert w.value("enrolled_children", period, TOWN_A) == 1
    rate = w.row("enrollment_rate", period, TOWN_A)
    assert rate["numerator"] == (1 if under3 else 0)
    assert rate["denominator"] == 300


def population_case(tmp_path, population, period="2024-06") -> Warehouse:
    """10 places in 甲街道 and 20 in 乙镇, in `period`, with the given population rows."""
    w = Warehouse(tmp_path / "warehouse.duckdb", population=population)
    w.file("institutions", period)
    w.institution(period, "I1", TOWN_A, places=10)
    w.institution(period, "I2", TOWN_B, places=20)
    w.build()
    return w


def test_population_of_the_latest_earlier_year(tmp_path):
    population = [
        (2023, TOWN_A, 10_000, 300), (2023, TOWN_B, 5_000, 100), (2023, TOWN_C, 5_000, 100),
        (2025, TOWN_A, 20_000, 600), (2025, TOWN_B, 10_000, 200), (2025, TOWN_C, 10_000, 200),
    ]
    w = population_case(tmp_path, population)
    # 2024 is missing: 2023 is used, not 2025. 1000 × 10 ÷ 10,000 = 1.0
    assert w.value("places_per_1000", "2024-06", TOWN_A) == 1.0
    # county: 1000 × (10 + 20) ÷ 20,000 = 1.5
    assert w.value("places_per_1000", "2024-06") == 1.5
    assert w.query(
        "select population_year, is_earlier_year from marts.population_by_month where area_code = ?", [COUNTY]
    ) == [(2023, True)]


def test_population_of_the_month_year(tmp_path):
    population = [
        (2023, TOWN_A, 10_000, 300), (2023, TOWN_B, 5_000, 100), (2023, TOWN_C, 5_000, 100),
        (2025, TOWN_A, 20_000, 600), (2025, TOWN_B, 10_000, 200), (2025, TOWN_C, 10_000, 200),
    ]
    w = population_case(tmp_path, population, period="2025-01")
    # 1000 × 10 ÷ 20,000 = 0.5; county 1000 × 30 ÷ 40,000 = 0.75
    assert w.value("places_per_1000", "2025-01", TOWN_A) == 0.5
    assert w.value("places_per_1000", "2025-01") == 0.75


def test_no_population_for_the_year_or_before(tmp_path):
    population = [(2025, TOWN_A, 20_000, 600), (2025, TOWN_B, 10_000, 200), (2025, TOWN_C, 10_000, 200)]
    w = population_case(tmp_path, population)
    row = w.row("places_per_1000", "2024-06", TOWN_A)
    assert (row["value"], row["numerator"], row["denominator"]) == (None, 10, None)


def test_county_population_needs_every_town(tmp_path):
    # 丙镇 has no population row: the county sum would be short, so it is NULL.
    population = [(2023, TOWN_A, 10_000, 300), (2023, TOWN_B, 5_000, 100)]
    w = population_case(tmp_path, population)
    assert w.value("places_per_1000", "2024-06") is None
    assert w.value("places_per_1000", "2024-06", TOWN_B) == 1000 * 20 / 5_000  # 4.0
    assert w.value("places_per_1000", "2024-06", TOWN_C) is None


def test_zero_population_gives_null(tmp_path):
    population = [(2023, TOWN_A, 10_000, 300), (2023, TOWN_B, 0, 0), (2023, TOWN_C, 5_000, 100)]
    w = population_case(tmp_path, population)
    assert w.value("places_per_1000", "2024-06", TOWN_B) is None  # 20 places ÷ 0 residents
    assert w.value("enrollment_rate", "2024-06", TOWN_B) is None  # no enrollment extract anyway
    assert w.value("places_per_1000", "2024-06") == 1000 * 30 / 15_000  # 2.0
