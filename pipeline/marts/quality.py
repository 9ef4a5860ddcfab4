"""The follow-up of the data-quality flags (marts.quality_flags, docs/quality.md): reading
them with the words the office reads, and confirming a flagged value as genuine.

- `read_flags` — the flags of a month (or every month), open ones or all, with the
  institution's name, the area's name and the confirmation's note;
- `confirm_flag` — records in `audit.quality_confirmations` that a flag was checked and its
  value is genuine (`tuoyu quality confirm`); the flag then shows as 已核实 with its note;
- `flag_counts` — open and confirmed flags per month (`tuoyu status`);
- the Chinese names of the checks and measures, the expected range as text, and what to
  verify, shared by the command, the report, the XLSX and the Dagster asset checks.

A flag never changes a figure. Nothing here holds personal data: institutions appear by id
and name, areas by code and name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from pipeline.warehouse.connection import table_exists

# check_id → (its name in Chinese, what to verify), in the order of marts.quality_flags.
CHECKS_ZH: dict[str, tuple[str, str]] = {
    "OUT-SERIES": ("机构数字异常", "与机构核实该数字是否填报有误（如多打或少打一位数）"),
    "CON-OVERCAPACITY": ("超额收托", "核实托位数是否填报偏低，或幼儿名单是否有重复、已离园的幼儿"),
    "CON-NO-CAREGIVER": ("无保育人员", "核实是否漏报保育人员，或岗位是否填错"),
    "CON-VANISHED": ("机构消失", "核实该机构是否停办、改了机构编号或被漏报"),
    "AREA-JUMP": ("区域合计突变", "核实是否有机构漏报、重复报送或数字填错"),
}
CHECK_IDS = tuple(CHECKS_ZH)

MEASURES_ZH = {"places": "核定托位数", "children": "在托幼儿数", "staff": "从业人员数",
               "caregivers": "保育人员数"}

# The indicators each measure's figures go into (docs/indicators.md); CON-VANISHED (no
# measure) takes an institution out of every institution-based figure, as `places` does.
MEASURE_INDICATORS: dict[str | None, tuple[str, ...]] = {
    "places": ("places_per_1000", "affordable_place_share", "place_utilization", "town_coverage",
               "rural_town_coverage", "filing_rate", "cctv_coverage", "fire_safety_rate",
               "demo_institutions", "service_type_count", "kindergarten_nursery_count",
               "employer_institution_count", "mch_institution_count"),
    "children": ("enrolled_children", "enrollment_rate", "place_utilization", "ratio_compliance_rate"),
    "staff": ("staff_trained_rate", "criminal_check_rate"),
    "caregivers": ("caregiver_certified_rate", "ratio_compliance_rate"),
}
MEASURE_INDICATORS[None] = MEASURE_INDICATORS["places"]

CONFIRMED_ZH = "已核实"
OPEN_ZH = "待核实"
HOW_TO_FIND_KEYS = ("用 tuoyu quality list 列出待核实的提示及其提示键"
                    "（加 --period YYYY-MM 只看一个月，加 --all 连同已核实的）。")


class UnknownFlag(ValueError):
    """A flag key that marts.quality_flags does not hold."""


@dataclass(frozen=True)
class FlagCounts:
    period: str
    open: int
    confirmed: int


def check_zh(check_id: str) -> str:
    return CHECKS_ZH.get(check_id, (check_id, ""))[0]


def verify_zh(check_id: str) -> str:
    return CHECKS_ZH.get(check_id, ("", ""))[1]


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    rounded = round(value)
    return str(int(rounded)) if abs(value - rounded) < 0.05 else f"{value:.1f}"


def value_text(flag: dict[str, Any]) -> str:
    return _number(flag["value"])


def expected_text(flag: dict[str, Any]) -> str:
    """The range in which the value would not have been flagged, as the office reads it."""
    low, high = flag["expected_low"], flag["expected_high"]
    if low is None and high is None:
        return "—"
    if high is None:
        return f"≥{_number(low)}"
    if flag["check_id"] == "CON-OVERCAPACITY":
        return f"≤{_number(high)}"
    return f"{_number(max(low, 0.0))}–{_number(high)}"


def who_zh(flag: dict[str, Any], separator: str = " ") -> str:
    """The institution (id and name), or the area of an area check."""
    if flag["institution_id"] is None:
        return flag.get("area_name") or flag["area_code"]
    name = flag.get("institution_name")
    return f"{flag['institution_id']}{separator}{name}" if name else flag["institution_id"]


def _flags_sql(where: str) -> str:
    # The institution's name as the latest month up to the flag's listed it operating (a
    # vanished institution: the month before).
    return f"""
        select flags.period, flags.area_code, areas.area_name, flags.institution_id,
               (select operating.name from marts.operating_institutions as operating
                where operating.institution_id = flags.institution_id
                  and operating.period <= flags.period
                order by operating.period desc limit 1) as institution_name,
               flags.check_id, flags.measure, flags.value, flags.expected_low, flags.expected_high,
               flags.score, flags.message_zh, flags.flag_key,
               confirmations.flag_key is not null as confirmed, confirmations.note, confirmations.confirmed_at
        from marts.quality_flags as flags
        left join audit.quality_confirmations as confirmations
            on confirmations.flag_key = flags.flag_key
        left join reference.areas as areas
            on areas.area_code = flags.area_code
        where {where}
        order by flags.period, list_position({list(CHECK_IDS)}, flags.check_id), flags.area_code,
                 flags.institution_id, flags.measure
    """


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def has_flags(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse has been built with the quality checks (a run since they came)."""
    return table_exists(con, "marts", "quality_flags") and table_exists(con, "audit", "quality_confirmations")


def read_flags(con: duckdb.DuckDBPyConnection, period: str | None = None, *,
               include_confirmed: bool = False) -> list[dict[str, Any]]:
    """The flags of `period` (every month when None): open ones, or all of them.

    The confirmation is read from audit.quality_confirmations itself, so a flag confirmed
    since the last run already shows as 已核实."""
    if not has_flags(con):
        return []
    where = "(? is null or flags.period = ?)"
    if not include_confirmed:
        where += " and confirmations.flag_key is null"
    return _rows(con, _flags_sql(where), [period, period])


def confirm_flag(con: duckdb.DuckDBPyConnection, flag_key: str, note: str,
                 now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """Record that the flag `flag_key` was checked and its value is genuine.

    Returns the flag and whether it was confirmed before (its note is then replaced).
    Raises UnknownFlag when marts.quality_flags has no such key, ValueError on an empty note."""
    note = (note or "").strip()
    if not note:
        raise ValueError("请用 --note 写明核实情况（如“已电话核实，机构扩建”）。")
    flag_key = flag_key.strip()
    found = _rows(con, _flags_sql("flags.flag_key = ?"), [flag_key]) if has_flags(con) else []
    if not found:
        raise UnknownFlag(f"没有提示键为“{flag_key}”的数据核查提示。{HOW_TO_FIND_KEYS}"
                          f" No flag with key {flag_key!r}: `tuoyu quality list` shows the keys.")
    flag = found[0]
    when = (now or datetime.now()).replace(microsecond=0)
    con.execute("begin transaction")
    try:
        con.execute("delete from audit.quality_confirmations where flag_key = ?", [flag_key])
        con.execute("insert into audit.quality_confirmations (flag_key, note, confirmed_at) values (?, ?, ?)",
                    [flag_key, note, when])
        # What the next build would give: the mart shows it at once (it is rebuilt whole).
        con.execute("update marts.quality_flags set confirmed = true where flag_key = ?", [flag_key])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    was_confirmed = bool(flag["confirmed"])
    flag.update(confirmed=True, note=note, confirmed_at=when)
    return flag, was_confirmed


def flag_counts(con: duckdb.DuckDBPyConnection) -> dict[str, FlagCounts]:
    """Open and confirmed flags per month (months without a flag are absent)."""
    if not has_flags(con):
        return {}
    rows = con.execute("""
        select flags.period,
               count(*) filter (where confirmations.flag_key is null),
               count(*) filter (where confirmations.flag_key is not null)
        from marts.quality_flags as flags
        left join audit.quality_confirmations as confirmations
            on confirmations.flag_key = flags.flag_key
        group by flags.period
    """).fetchall()
    return {period: FlagCounts(period, open_, confirmed) for period, open_, confirmed in rows}


def touches_indicators(flag: dict[str, Any], indicator_ids: set[str]) -> bool:
    """Whether the flagged figure goes into any of `indicator_ids`."""
    return bool(indicator_ids & set(MEASURE_INDICATORS.get(flag["measure"], ())))


def flags_frame_rows(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flags as the rows of `tuoyu quality list` (Chinese column names)."""
    return [{
        "月份": f["period"],
        "核查": check_zh(f["check_id"]),
        "机构或地区": who_zh(f),
        "数字": MEASURES_ZH.get(f["measure"], "—"),
        "数值": value_text(f),
        "正常范围": expected_text(f),
        "状态": f"{CONFIRMED_ZH}：{f['note']}" if f["confirmed"] else OPEN_ZH,
        "提示键": f["flag_key"],
    } for f in flags]


def format_flags(flags: list[dict[str, Any]], period: str | None, include_confirmed: bool) -> str:
    """`tuoyu quality list`: the flags as a Chinese text table, then how to confirm one."""
    import polars as pl

    from pipeline.analysts.export import format_table

    which = "数据核查提示" if include_confirmed else "待核实的数据核查提示"
    scope = f"{period} " if period else ""
    if not flags:
        return f"{scope}没有{which}。"
    lines = [f"{scope}{which}（{len(flags)} 条）：",
             format_table(pl.DataFrame(flags_frame_rows(flags)), max_rows=len(flags), max_width=60)]
    if any(not f["confirmed"] for f in flags):
        lines.append("核实后确认数字无误的，运行 tuoyu quality confirm <提示键> --note \"核实说明\"，"
                     "该提示即显示为“已核实”。各项核查的含义见 README 操作手册第九节。")
    return "\n".join(lines)


PREVIEW_ROWS = 5


def open_flags_of_check(con: duckdb.DuckDBPyConnection, check_id: str) -> tuple[bool, dict[str, Any], str | None]:
    """The Dagster asset check of one check id (non-blocking, WARN): passed when it has no
    open flag in any month; the counts and the latest open flags (ids and figures only,
    no personal data) as metadata; a line in Chinese for the run's summary."""
    flags = [f for f in read_flags(con) if f["check_id"] == check_id]
    confirmed = len([f for f in read_flags(con, include_confirmed=True) if f["check_id"] == check_id]) - len(flags)
    latest = max((f["period"] for f in flags), default=None)
    in_latest = sum(1 for f in flags if f["period"] == latest)
    preview = [{"period": f["period"], "institution_or_area": f["institution_id"] or f["area_code"],
                "measure": f["measure"] or "—", "value": value_text(f), "expected": expected_text(f),
                "flag_key": f["flag_key"]} for f in reversed(flags[-PREVIEW_ROWS:])]
    metadata = {"open_flags": len(flags), "confirmed_flags": confirmed,
                "months_with_open_flags": len({f["period"] for f in flags}),
                "latest_month": latest or "—", "open_in_latest_month": in_latest, "preview": preview}
    description = None
    if flags:
        # No full-width colon: the run's summary lists rejected files as "  path：reason".
        description = (f"数据核查“{check_zh(check_id)}”有 {len(flags)} 条提示待核实（最近为 {latest}，{in_latest} 条），"
                       "用 tuoyu quality list 查看，核实无误的用 tuoyu quality confirm 确认。")
    return not flags, metadata, description
