"""Months as the pipeline writes them: `YYYY-MM` text (a *period*), and their arithmetic.

The one place for it: the CLI's defaults, the schedule, the report's series and labels
all count months here. (The sample generator counts months as numpy integers for whole
columns at once: `pipeline/sample/calendar.py`.)
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

# Months are counted in the office's time zone: a run at 00:30 on 1 July in Beijing is in July.
TIMEZONE = "Asia/Shanghai"

_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def is_period(text: str) -> bool:
    """True for a well-formed `YYYY-MM` (month 01–12)."""
    return isinstance(text, str) and _PERIOD.fullmatch(text) is not None


def index(period: str) -> int:
    """Months since year 0: `2023-06` → 2023 × 12 + 5. Raises ValueError on another form."""
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise ValueError(f"a month is written YYYY-MM, not {period!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def from_index(months: int) -> str:
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


def shift_month(period: str, months: int) -> str:
    """The month `months` after `period` (before it when negative)."""
    return from_index(index(period) + months)


def month_end(period: str) -> date:
    """The last day of the month."""
    following = index(period) + 1
    return date.fromordinal(date(following // 12, following % 12 + 1, 1).toordinal() - 1)


def month_count(first: str, last: str) -> int:
    """Months from `first` to `last` inclusive; 0 when `last` is before `first`."""
    return max(0, index(last) - index(first) + 1)


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` inclusive."""
    start = index(first)
    return [from_index(start + i) for i in range(month_count(first, last))]


def of_day(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def last_full_month(today: date | None = None) -> str:
    """The last month that ended before `today` (default: today in Beijing)."""
    today = today or datetime.now(ZoneInfo(TIMEZONE)).date()
    return shift_month(of_day(today), -1)


def previous_month(moment: datetime) -> str:
    """The month before `moment`'s month, in Beijing time when `moment` knows its zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(TIMEZONE))
    return shift_month(of_day(moment.date()), -1)


def month_label(period: str) -> str:
    """`2024-03` → `2024年3月`."""
    return f"{int(period[:4])}年{int(period[5:7])}月"


_PERIOD_FORMS = (
    re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})"),  # 2024-06, 2024-6, 2024/6, 2024.06
    re.compile(r"(\d{4})(\d{2})"),  # 202406
    re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月?"),  # 2024年6月
)


def parse_period(text: str) -> str | None:
    """A month as a clerk may type it (`2024-06`, `2024-6`, `202406`, `2024年6月`, `2024/6`,
    full-width digits too) → `2024-06`; None when it is not a month."""
    import unicodedata

    text = unicodedata.normalize("NFKC", str(text)).strip()
    for form in _PERIOD_FORMS:
        match = form.fullmatch(text)
        if match:
            year, month = int(match.group(1)), int(match.group(2))
            if 1 <= month <= 12 and 1900 <= year <= 2999:
                return f"{year:04d}-{month:02d}"
    return None
