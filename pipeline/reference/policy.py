"""The county's policy as data: its numbered measures with their responsible units
(`measures.toml`) and the indicators' targets (`targets.toml`), validated strictly."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pipeline.marts.catalog import indicator_ids, read_catalog
from pipeline.reference.files import ReferenceDataError, header_line, key_line, read_toml
from pipeline.reference.limits import number_text, reference_limits

COMPARISONS = (">=", "=")
# Where a target applies (targets.toml `applies_to`): to the county figure only, or to the
# county and each 镇街's figure alike.
APPLIES_TO = ("county", "county_and_towns")
NO_DATA_NOTE_ZH = "本数据无法反映"

TARGET_REQUIRED_KEYS = ("value", "comparison", "deadline", "clause")
TARGET_OPTIONAL_KEYS = ("lead_unit", "note", "planned_max", "applies_to")
MEASURE_REQUIRED_KEYS = ("number", "title", "units", "indicators")
MEASURE_OPTIONAL_KEYS = ("coverage_note",)

_MONTH_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Target:
    """One row of the targets file: the indicator must reach `value` by month `deadline`."""

    indicator_id: str
    value: float
    comparison: str  # ">=" or "="
    deadline: str  # "YYYY-MM"
    clause: str  # "二", or a measure number "1".."17"
    lead_unit: str
    note: str
    applies_to: str  # "county" or "county_and_towns" (APPLIES_TO)
    planned_max: float | None = None  # above it: attained, but beyond the planned range


@dataclass(frozen=True)
class Measure:
    """One numbered measure of the policy and the indicators that reflect it."""

    number: int
    title_zh: str
    responsible_units: tuple[str, ...]  # in the policy's order; the first leads
    indicator_ids: tuple[str, ...]  # empty when the extracts hold no data on it
    coverage_note_zh: str

    @property
    def lead_unit(self) -> str:
        return self.responsible_units[0]


def _check_keys(table: dict, required: tuple[str, ...], optional: tuple[str, ...],
                fail: Callable[[str | None, str, str], NoReturn]) -> None:
    """Every key of a TOML table known, every required one present; else `fail` names it."""
    for key in table:
        if key not in required + optional:
            fail(key, f"未知的键“{key}”", f"unknown key '{key}'")
    for key in required:
        if key not in table:
            fail(None, f"缺少 {key}", f"missing key {key}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_measures(path: Path) -> list[Measure]:
    data, lines = read_toml(path)
    for key in data:
        if key != "measure":
            raise ReferenceDataError(path.name, header_line(lines, key), f"未知的段“{key}”，应为 [[measure]]",
                                     f"unknown section '{key}', expected [[measure]]")
    entries = data.get("measure")
    if not isinstance(entries, list) or not entries:
        raise ReferenceDataError(path.name, None, "没有 [[measure]] 段", "no [[measure]] tables")
    known_ids = set(indicator_ids())
    measures: list[Measure] = []
    for index, entry in enumerate(entries):
        at = header_line(lines, "measure", index)

        def fail(key: str | None, zh: str, en: str) -> NoReturn:
            raise ReferenceDataError(path.name, key_line(lines, at, key), zh, en)

        _check_keys(entry, MEASURE_REQUIRED_KEYS, MEASURE_OPTIONAL_KEYS, fail)
        number, title, units, indicators = (entry[k] for k in MEASURE_REQUIRED_KEYS)
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            fail("number", f"措施序号 number 应为正整数：{number!r}", f"number must be a positive integer: {number!r}")
        if any(m.number == number for m in measures):
            fail("number", f"措施序号 {number} 重复", f"duplicate measure number {number}")
        if not isinstance(title, str) or not title.strip():
            fail("title", "标题 title 为空", "title is empty")
        if not isinstance(units, list) or not units or not all(isinstance(u, str) and u.strip() for u in units):
            fail("units", "责任单位 units 应为非空的文字列表", "units must be a non-empty list of names")
        if not isinstance(indicators, list) or not all(isinstance(i, str) for i in indicators):
            fail("indicators", "indicators 应为指标编号列表", "indicators must be a list of indicator ids")
        for indicator_id in indicators:
            if indicator_id not in known_ids:
                fail("indicators", f"未知的指标编号“{indicator_id}”", f"unknown indicator id '{indicator_id}'")
        note = entry.get("coverage_note", "" if indicators else NO_DATA_NOTE_ZH)
        if not isinstance(note, str):
            fail("coverage_note", "coverage_note 应为文字", "coverage_note must be text")
        measures.append(Measure(number, title.strip(), tuple(u.strip() for u in units), tuple(indicators), note))
    return sorted(measures, key=lambda m: m.number)


def default_applies_to(kind: str, levels: str) -> str:
    """Where a target applies when targets.toml does not say: a count (示范性机构数,
    妇幼保健机构办托数, …) is a total for the whole county, as the policy counts it; a rate
    or per-1,000 figure means the same in every 镇街, so it is judged for each 镇街 too.
    An indicator computed for the county only (level C) can only be judged there."""
    if kind == "count" or "A" not in levels.split(","):
        return "county"
    return "county_and_towns"


_KIND_ZH = {"percent": "百分比", "per_1000": "每千人口", "count": "计数"}


def _check_range(fail, key: str, name_zh: str, value: float, kind: str) -> None:
    """`value` within the range of the indicator's kind (limits.toml [target_value])."""
    low, high = reference_limits().target_ranges[kind]
    if not low <= value <= high:
        fail(key, f"{name_zh} {key} = {value!r} 超出{_KIND_ZH.get(kind, kind)}指标的合理范围 "
                  f"{number_text(low)}–{number_text(high)}",
             f"{key} = {value!r} is outside the range of a {kind} indicator, "
             f"{number_text(low)}–{number_text(high)}")


def parse_targets(path: Path, measures: list[Measure], *, every_indicator_below: bool = False) -> list[Target]:
    """The targets of `path`. `every_indicator_below`: the level below the root has a value of
    every indicator (a prefecture's counties, docs/rollup.md §2), so `county_and_towns` is
    allowed for an indicator the handbook computes for the county only."""
    data, lines = read_toml(path)
    leads = {str(m.number): m.lead_unit for m in measures}
    catalog = {row["indicator_id"]: row for row in read_catalog()}
    known_ids = catalog.keys()
    targets: list[Target] = []
    for indicator_id, table in data.items():
        at = header_line(lines, indicator_id)

        def fail(key: str | None, zh: str, en: str) -> NoReturn:
            raise ReferenceDataError(path.name, key_line(lines, at, key), zh, en)

        if indicator_id not in known_ids:
            fail(None, f"未知的指标编号“{indicator_id}”", f"unknown indicator id '{indicator_id}'")
        if not isinstance(table, dict):
            fail(None, f"{indicator_id} 应为一个 [{indicator_id}] 段", f"{indicator_id} must be a table [{indicator_id}]")
        _check_keys(table, TARGET_REQUIRED_KEYS, TARGET_OPTIONAL_KEYS, fail)
        value, comparison, deadline, clause = (table[k] for k in TARGET_REQUIRED_KEYS)
        if not _is_number(value):
            fail("value", f"目标值 value 不是数字：{value!r}", f"value is not a number: {value!r}")
        if comparison not in COMPARISONS:
            fail("comparison", f"比较方式 comparison 应为 \">=\" 或 \"=\"，现为 {comparison!r}",
                 f"comparison must be \">=\" or \"=\", not {comparison!r}")
        if not isinstance(deadline, str) or not _MONTH_RE.fullmatch(deadline):
            fail("deadline", f"期限 deadline 应为 \"YYYY-MM\"，现为 {deadline!r}",
                 f"deadline must be \"YYYY-MM\", not {deadline!r}")
        limits = reference_limits()
        if not limits.first_deadline <= deadline <= limits.last_deadline:
            fail("deadline", f"期限 deadline {deadline} 超出合理范围 {limits.first_deadline} 至 {limits.last_deadline}",
                 f"deadline {deadline} is outside {limits.first_deadline}…{limits.last_deadline}")
        if isinstance(clause, int) and not isinstance(clause, bool):
            clause = str(clause)
        if not isinstance(clause, str) or not clause.strip():
            fail("clause", "条款 clause 应为文字，如 \"二\" 或 \"13\"", "clause must be text such as \"二\" or \"13\"")
        clause = clause.strip()
        if clause.isdigit() and clause not in leads:
            fail("clause", f"条款 {clause} 不是措施文件中的措施序号", f"clause {clause} is not a measure number of the measures file")
        lead_unit = table.get("lead_unit", leads.get(clause, ""))
        note = table.get("note", "")
        planned_max = table.get("planned_max")
        if not isinstance(lead_unit, str):
            fail("lead_unit", "牵头单位 lead_unit 应为文字", "lead_unit must be text")
        if not isinstance(note, str):
            fail("note", "说明 note 应为文字", "note must be text")
        entry = catalog[indicator_id]
        _check_range(fail, "value", "目标值", value, entry["kind"])
        if planned_max is not None and (not _is_number(planned_max) or planned_max < value):
            fail("planned_max", f"计划上限 planned_max 应为不小于目标值的数字：{planned_max!r}",
                 f"planned_max must be a number not below value: {planned_max!r}")
        if planned_max is not None:
            _check_range(fail, "planned_max", "计划上限", planned_max, entry["kind"])
        applies_to = table.get("applies_to", default_applies_to(entry["kind"], entry["levels"]))
        if applies_to not in APPLIES_TO:
            fail("applies_to", f"适用范围 applies_to 应为 \"county\"（只考核全县）或 \"county_and_towns\""
                 f"（全县和各镇街都考核），现为 {applies_to!r}",
                 f"applies_to must be \"county\" or \"county_and_towns\", not {applies_to!r}")
        if applies_to == "county_and_towns" and not every_indicator_below and "A" not in entry["levels"].split(","):
            fail("applies_to", f"指标 {indicator_id} 只有全县数值，没有镇街数值，applies_to 只能为 \"county\"",
                 f"{indicator_id} has a county figure only, so applies_to must be \"county\"")
        targets.append(Target(
            indicator_id, float(value), comparison, deadline, clause, lead_unit.strip(), note.strip(),
            applies_to, None if planned_max is None else float(planned_max),
        ))
    return targets
