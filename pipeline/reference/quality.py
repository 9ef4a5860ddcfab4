"""The parameters of the data-quality checks (`quality.toml`), validated strictly.

Every key of the shipped file must be present (docs/quality.md explains each check);
an unknown section or key, a missing key, or a value out of range stops the run with the
file and the line, in Chinese then English, like the other reference files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pipeline.reference.files import ReferenceDataError, header_line, key_line, read_toml


@dataclass(frozen=True)
class QualityParameters:
    """One value per key of quality.toml (section_key)."""

    out_series_history_months: int  # H: months M−history_months…M−1
    out_series_min_history: int  # no OUT-SERIES check with fewer history months
    out_series_threshold: float  # flag when |z| > threshold
    out_series_mad_floor_share: float  # MAD* ≥ share × |median|
    out_series_mad_floor: float  # MAD* ≥ floor (> 0: z is always defined)
    area_jump_months: int  # the mean m of months M−months…M−1
    area_jump_min_present: int  # at least this many of them present
    area_jump_min_difference: float  # |x − m| ≥ min_difference
    area_jump_max_relative_change: float  # |x ÷ m − 1| > max_relative_change
    reporting_deadline_day: int  # on time: first seen on or before this day of the next month
    reporting_windows: tuple[int, ...]  # window lengths of marts.reporting_rates, in months


# (section, key, type, lowest allowed, highest allowed, the rule in Chinese / English)
_INT, _NUMBER, _WINDOWS = "integer", "number", "windows"
_KEYS = (
    ("out_series", "history_months", _INT, 1, 60, "1 到 60 之间的整数", "an integer from 1 to 60"),
    ("out_series", "min_history", _INT, 1, 60, "1 到 60 之间的整数", "an integer from 1 to 60"),
    ("out_series", "threshold", _NUMBER, 0, None, "大于 0 的数", "a number above 0"),
    ("out_series", "mad_floor_share", _NUMBER, 0, None, "不小于 0 的数", "a number not below 0"),
    ("out_series", "mad_floor", _NUMBER, 0, None, "大于 0 的数", "a number above 0"),
    ("area_jump", "months", _INT, 1, 24, "1 到 24 之间的整数", "an integer from 1 to 24"),
    ("area_jump", "min_present", _INT, 1, 24, "1 到 24 之间的整数", "an integer from 1 to 24"),
    ("area_jump", "min_difference", _NUMBER, 0, None, "不小于 0 的数", "a number not below 0"),
    ("area_jump", "max_relative_change", _NUMBER, 0, None, "大于 0 的数", "a number above 0"),
    ("reporting", "deadline_day", _INT, 1, 28, "1 到 28 之间的整数（每个月都有的日子）",
     "an integer from 1 to 28 (a day every month has)"),
    ("reporting", "windows", _WINDOWS, 1, 120, "由 1 到 120 之间互不相同的整数组成的非空列表，如 [1, 3, 12]",
     "a non-empty list of distinct integers from 1 to 120, e.g. [1, 3, 12]"),
)
# Strictly above the lowest value (a threshold of 0 would flag every figure; a floor of
# 0 would divide by zero when a history is constant at 0).
_ABOVE_LOWEST = {("out_series", "threshold"), ("out_series", "mad_floor"), ("area_jump", "max_relative_change")}


def _valid(kind: str, value: object, low: float, high: float | None, strict: bool) -> bool:
    if kind == _WINDOWS:
        return (isinstance(value, list) and bool(value) and len(set(value)) == len(value)
                and all(_valid(_INT, v, low, high, False) for v in value))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind == _INT and not isinstance(value, int):
        return False
    if not math.isfinite(value) or value < low or (strict and value == low):
        return False
    return high is None or value <= high


def parse_quality(path: Path) -> QualityParameters:
    data, lines = read_toml(path)
    sections = dict.fromkeys(section for section, *_ in _KEYS)

    def fail(section: str, key: str | None, zh: str, en: str) -> NoReturn:
        raise ReferenceDataError(path.name, key_line(lines, header_line(lines, section), key), zh, en)

    for section, table in data.items():
        if section not in sections:
            raise ReferenceDataError(path.name, header_line(lines, section),
                                     f"未知的段“{section}”，应为 {'、'.join(f'[{s}]' for s in sections)}",
                                     f"unknown section '{section}', expected {', '.join(f'[{s}]' for s in sections)}")
        if not isinstance(table, dict):
            fail(section, None, f"{section} 应为一个 [{section}] 段", f"{section} must be a table [{section}]")
        for key in table:
            if not any(s == section and k == key for s, k, *_ in _KEYS):
                fail(section, key, f"[{section}] 中未知的键“{key}”", f"unknown key '{key}' in [{section}]")
    values: dict[str, object] = {}
    for section, key, kind, low, high, rule_zh, rule_en in _KEYS:
        if section not in data:
            raise ReferenceDataError(path.name, None, f"缺少 [{section}] 段", f"missing section [{section}]")
        if key not in data[section]:
            fail(section, None, f"[{section}] 缺少 {key}", f"missing key {key} in [{section}]")
        value = data[section][key]
        if not _valid(kind, value, low, high, (section, key) in _ABOVE_LOWEST):
            fail(section, key, f"{key} 应为{rule_zh}，现为 {value!r}", f"{key} must be {rule_en}, not {value!r}")
        values[f"{section}_{key}"] = {_WINDOWS: tuple, _NUMBER: float}.get(kind, int)(value)
    if values["out_series_min_history"] > values["out_series_history_months"]:
        fail("out_series", "min_history", "min_history 不能大于 history_months",
             "min_history cannot exceed history_months")
    if values["area_jump_min_present"] > values["area_jump_months"]:
        fail("area_jump", "min_present", "min_present 不能大于 months", "min_present cannot exceed months")
    return QualityParameters(**values)
