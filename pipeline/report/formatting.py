"""How figures, dates and statuses are written in the report.

The indicator handbook's rounding rule lives here and nowhere else: counts as integers,
per-1,000 figures to 2 decimals, percentages to 1 decimal (the catalog's `decimals`),
rounded half up as in printed statistics (2.675 → 2.68, not banker's 2.67). A value
that is NULL is written "—" and never 0.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

DASH = "—"
DASH_NOTE = "“—”表示无数据（该月未报送相关报表，或计算所需的分母为0），不表示0。"

DECIMALS_BY_KIND = {"count": 0, "per_1000": 2, "percent": 1}

STATUS_ZH = {
    "attained": "已达成",
    "not_attained": "未达成",
    "on_track": "按期推进",
    "needs_acceleration": "需加快",
    "limited_progress": "进展有限",
    "regressing": "倒退",
    "insufficient_data": "数据不足",
    "no_data": "无数据",
}
# Statuses in the order the report lists them, best first.
STATUS_ORDER = tuple(STATUS_ZH)
BEHIND_STATUSES = ("not_attained", "regressing", "limited_progress", "needs_acceleration")

KIND_ZH = {"institutions": "托育机构", "enrollment": "在托幼儿", "staffing": "从业人员"}


def round_half_up(value: float, decimals: int) -> float:
    """`value` rounded half up to `decimals` places, as a float."""
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))


def rounded(value: float | None, decimals: int) -> float | None:
    return None if value is None else round_half_up(value, decimals)


def fmt_value(value: float | None, decimals: int) -> str:
    """A figure as printed: rounded per the handbook, or "—" for NULL."""
    if value is None:
        return DASH
    r = round_half_up(value, decimals)
    if r == 0:
        r = 0.0  # no "-0.0"
    return f"{r:.{decimals}f}"


def fmt_change(now: float | None, before: float | None, decimals: int) -> str:
    """Change between two printed figures, signed ("+0.35", "-1", "0.0"); "—" if either is NULL.

    Computed from the rounded figures, so that it always equals the difference of the
    two numbers a reader sees side by side.
    """
    if now is None or before is None:
        return DASH
    diff = round_half_up(round_half_up(now, decimals) - round_half_up(before, decimals), decimals)
    if diff == 0:
        return f"{0:.{decimals}f}"
    return f"{diff:+.{decimals}f}"


def fmt_target(target: float | None, comparison: str | None, unit: str = "") -> str:
    """A target as "≥4.5" or "100%": the fewest decimals that show it exactly."""
    if target is None:
        return DASH
    text = f"{target:f}".rstrip("0").rstrip(".")
    unit = "%" if unit in ("%", "％") else unit
    sign = "≥" if comparison == ">=" else ""
    return f"{sign}{text}{unit}"


def date_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
