"""Month arithmetic on `YYYY-MM` periods (pipeline/period.py), checked by hand."""

from datetime import date, datetime, timezone

import pytest

from pipeline import period


def test_index_round_trips_and_rejects_other_forms():
    assert period.index("2023-06") == 2023 * 12 + 5
    assert period.from_index(2023 * 12 + 5) == "2023-06"
    for bad in ("2023-6", "2023-13", "2023-00", "202306", "2023年6月", ""):
        assert not period.is_period(bad)
        with pytest.raises(ValueError):
            period.index(bad)


def test_shift_crosses_years_both_ways():
    assert period.shift_month("2024-01", -1) == "2023-12"
    assert period.shift_month("2023-12", 1) == "2024-01"
    assert period.shift_month("2024-06", -12) == "2023-06"


def test_month_end_knows_leap_years():
    assert period.month_end("2024-02") == date(2024, 2, 29)
    assert period.month_end("2023-02") == date(2023, 2, 28)
    assert period.month_end("2023-12") == date(2023, 12, 31)


def test_months_between_is_inclusive_and_empty_when_reversed():
    assert period.months_between("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert period.month_count("2023-11", "2024-02") == 4
    assert period.months_between("2024-02", "2023-11") == []
    assert period.month_count("2024-02", "2023-11") == 0


def test_last_full_and_previous_month_count_in_beijing_time():
    assert period.last_full_month(date(2024, 1, 5)) == "2023-12"
    # 2024-06-30 17:00 UTC is 2024-07-01 01:00 in Beijing: the previous month is June.
    assert period.previous_month(datetime(2024, 6, 30, 17, tzinfo=timezone.utc)) == "2024-06"
    assert period.previous_month(datetime(2024, 6, 30, 15, tzinfo=timezone.utc)) == "2024-05"


def test_month_label():
    assert period.month_label("2024-03") == "2024年3月"
