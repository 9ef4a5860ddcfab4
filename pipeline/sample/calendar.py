"""Months and days as plain integers, so that whole columns of dates stay numpy arrays.

A *month* is ``year * 12 + (month - 1)`` (2023-06 is 24281); a *day* is the number of
days since 1970-01-01, as numpy's ``datetime64[D]`` counts them.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

_EPOCH_MONTH = 1970 * 12
_MONTH_TEXT = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> int:
    """``"2023-06"`` → month number."""
    match = _MONTH_TEXT.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"month must be written YYYY-MM, got {text!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_text(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def year_of(month: int) -> int:
    return month // 12


def month_of_year(month: int) -> int:
    """1–12."""
    return month % 12 + 1


def month_start(month: int) -> int:
    """Day number of the first day of the month."""
    return int(np.datetime64(month - _EPOCH_MONTH, "M").astype("datetime64[D]").astype(np.int64))


def month_end(month: int) -> int:
    """Day number of the last day of the month."""
    return month_start(month + 1) - 1


def day_of(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def date_of(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def month_containing(day: int) -> int:
    """Month number of a day number."""
    return int(np.datetime64(int(day), "D").astype("datetime64[M]").astype(np.int64)) + _EPOCH_MONTH


def last_full_month(today: dt.date) -> int:
    """The last month that ended before ``today``."""
    return today.year * 12 + today.month - 2


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1–12) and day (1–31) arrays of an array of day numbers."""
    d64 = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    m64 = d64.astype("datetime64[M]")
    months = m64.astype(np.int64)
    year = months // 12 + 1970
    month = months % 12 + 1
    day = (d64 - m64.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def age_in_months(birth_days: np.ndarray, month: int) -> np.ndarray:
    """Age in whole months at the end of ``month`` (indicator-handbook.md, "Age in months")."""
    end_year, end_month, end_day = ymd(np.array([month_end(month)]))
    year, mon, day = ymd(birth_days)
    return 12 * (end_year[0] - year) + (end_month[0] - mon) - (end_day[0] < day)


def random_day_in_month(rng: np.random.Generator, months: np.ndarray) -> np.ndarray:
    """One uniformly drawn day number inside each month of an array of month numbers."""
    m64 = (np.asarray(months, dtype=np.int64) - _EPOCH_MONTH).astype("datetime64[M]")
    first = m64.astype("datetime64[D]").astype(np.int64)
    length = (m64 + 1).astype("datetime64[D]").astype(np.int64) - first
    return first + (rng.random(len(first)) * length).astype(np.int64)
