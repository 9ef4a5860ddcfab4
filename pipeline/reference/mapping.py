"""A county's own wording: the optional `mapping.toml` of the reference folder, validated
strictly, and the 镇街 names of `areas.csv` accepted in place of their codes.

    [institutions.headers]              # as written in the file = the contract's header
    "核定托位" = "核定托位数"
    [institutions.values."运营状态"]     # as written = the contract's value
    "营业中" = "正常运营"

Keys (and targets) are NFKC-normalised and trimmed, as the cells they are compared with.
A target that is not a contract header or an allowed value, a text mapped to two different
targets, or a text that already means something else in the contract, stops the run with
the file and the line (ReferenceDataError), like the other reference files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import NoReturn

import polars as pl

from pipeline.ingest.extracts.spec import COLUMNS, KIND_LABEL_ZH
from pipeline.ingest.extracts.values import FLAG_FORMS
from pipeline.ingest.extracts.wording import Wording
from pipeline.reference.files import ReferenceDataError, clean, read_toml

MAPPING_FILE = "mapping.toml"
SECTIONS = ("headers", "values")
AREA_COLUMN = "area_code"


def _key_lines(lines: list[str]) -> dict[tuple[str, ...], int]:
    """The line of every key path written on a line of its own (`[a.b]` headers, then
    `key = value` or `key = {inline table}` lines), to point an error at it."""
    found: dict[tuple[str, ...], int] = {}
    section: tuple[str, ...] = ()

    def paths(data: dict, prefix: tuple[str, ...]):
        for key, value in data.items():
            yield prefix + (key,)
            if isinstance(value, dict):
                yield from paths(value, prefix + (key,))

    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            data = tomllib.loads(stripped + "\n")
        except tomllib.TOMLDecodeError:
            continue  # a value continued over several lines: its first line is used
        if stripped.startswith("["):
            section = max(paths(data, ()), key=len, default=())
            found.setdefault(section, number)
            continue
        for path in paths(data, section):
            found.setdefault(path, number)
    return found


def _areas(areas: pl.DataFrame) -> tuple[set[str], dict[str, str]]:
    """The 镇街 codes, and each 镇街 name (NFKC, trimmed) that names one 镇街 only → its code."""
    towns = areas.filter(pl.col("parent_code").is_not_null())
    codes = set(towns.get_column("area_code").to_list())
    names: dict[str, list[str]] = {}
    for code, name in towns.select("area_code", "area_name").iter_rows():
        names.setdefault(clean(name), []).append(code)
    return codes, {name: found[0] for name, found in names.items() if len(found) == 1}


def _allowed(kind: str, column: str, area_codes: set[str]) -> set[str] | None:
    """The contract's values of a column that a value mapping may target; None: the column
    takes no value mapping (ids, dates, numbers, names: values without a fixed list)."""
    from pipeline.validate.suites import allowed_values, load_suite

    col = next(c for c in COLUMNS[kind] if c.name == column)
    if col.type == "flag":
        return set(FLAG_FORMS)
    if column == AREA_COLUMN:
        return area_codes
    listed = allowed_values(load_suite(kind)).get(column)
    return set(listed) if listed else None


def parse_mapping(path: Path | None, areas: pl.DataFrame) -> Wording:
    """The county's wording: `path` (mapping.toml; None when the folder has none) and the
    镇街 names of `areas` for the area column."""
    area_codes, area_names = _areas(areas)
    headers: dict[str, dict[str, str]] = {}
    values: dict[str, dict[str, dict[str, str]]] = {}
    if path is not None:
        data, lines = read_toml(path)
        at = _key_lines(lines)

        def fail(where: tuple[str, ...], zh: str, en: str) -> NoReturn:
            """The line of `where`, else of the first key written under it, else of what holds it."""
            line = at.get(where) or min((n for p, n in at.items() if p[:len(where)] == where), default=None)
            while line is None and where:
                where = where[:-1]
                line = at.get(where)
            raise ReferenceDataError(path.name, line, zh, en)

        for kind, table in data.items():
            _parse_kind(kind, table, headers, values, (area_codes, area_names), fail)
    areas_map = values.setdefault("institutions", {}).setdefault(AREA_COLUMN, {})
    for name, code in area_names.items():
        areas_map.setdefault(name, code)  # mapping.toml's own entries were checked against these
    return Wording(headers, values)


def _parse_kind(kind, table, headers, values, areas, fail) -> None:
    area_codes, area_names = areas
    if kind not in COLUMNS:
        fail((kind,), f"未知的报表类别“{kind}”，应为 {'、'.join(f'{k}（{KIND_LABEL_ZH[k]}）' for k in COLUMNS)}",
             f"unknown extract kind '{kind}', expected one of {', '.join(COLUMNS)}")
    if not isinstance(table, dict):
        fail((kind,), f"{kind} 应为 [{kind}.headers] 或 [{kind}.values.\"表头\"] 段",
             f"{kind} must hold [{kind}.headers] or [{kind}.values.\"header\"] tables")
    for section in table:
        if section not in SECTIONS:
            fail((kind, section), f"未知的段“{kind}.{section}”，应为 {kind}.headers 或 {kind}.values",
                 f"unknown table '{kind}.{section}', expected {kind}.headers or {kind}.values")
    by_header = {clean(c.header): c for c in COLUMNS[kind]} | {c.name: c for c in COLUMNS[kind]}
    written = {clean(c.header): c.name for c in COLUMNS[kind]} | {c.name.lower(): c.name for c in COLUMNS[kind]}
    aliases = headers.setdefault(kind, {})
    for key, target in _entries(table.get("headers", {}), (kind, "headers"), fail):
        where = (kind, "headers", key)
        col = by_header.get(clean(target))
        if col is None:
            fail(where, f"“{target}”不是{KIND_LABEL_ZH[kind]}报表的表头（应为：{'、'.join(c.header for c in COLUMNS[kind])}）",
                 f"'{target}' is not a header of the {kind} extract")
        _add(aliases, clean(key), col.name, written, where, fail, what="表头")
    for header, mapping in table.get("values", {}).items():
        col = by_header.get(clean(header))
        if col is None:
            fail((kind, "values", header), f"“{header}”不是{KIND_LABEL_ZH[kind]}报表的表头",
                 f"'{header}' is not a header of the {kind} extract")
        allowed = _allowed(kind, col.name, area_codes)
        if allowed is None:
            fail((kind, "values", header), f"“{col.header}”一列的取值没有固定范围，不能设置取值对照（只有机构类型、"
                 "运营状态、班型、是否类等列可以）", f"'{col.header}' has no fixed list of values to map to")
        column_map = values.setdefault(kind, {}).setdefault(col.name, {})
        for key, target in _entries(mapping, (kind, "values", header), fail):
            value = clean(target)
            if value not in allowed and value.lower() not in allowed:
                shown = "、".join(sorted(allowed)) if len(allowed) <= 12 else "areas.csv 中镇街的代码"
                fail((kind, "values", header, key), f"“{target}”不是“{col.header}”的规定取值（应为：{shown}）",
                     f"'{target}' is not an allowed value of {col.name}")
            contract = {v: v for v in allowed} | (area_names if col.name == AREA_COLUMN else {})
            _add(column_map, clean(key), value, contract, (kind, "values", header, key), fail,
                 what=f"“{col.header}”的取值")


def _entries(table, where, fail):
    if not isinstance(table, dict):
        fail(where, f"{'.'.join(where)} 应为一个段（“写法” = “规定的写法”）", f"{'.'.join(where)} must be a table")
    for key, target in table.items():
        if not isinstance(target, str):
            fail(where + (key,), f"“{key}”的对照目标应为文字，现为 {target!r}", f"the target of '{key}' must be text")
        if not clean(key):
            fail(where + (key,), "对照的写法为空", "an empty text is mapped")
        yield key, target


def _add(mapping: dict[str, str], key: str, target: str, contract: dict[str, str], where, fail, what: str) -> None:
    """One mapping `key` → `target`, unless `key` already means something else: another
    mapping of the same text (after normalisation), or the contract's own word."""
    if contract.get(key, target) != target or contract.get(key.lower(), target) != target:
        fail(where, f"“{key}”本身就是规定的{what}（或镇街名称），不能再对照为“{target}”",
             f"'{key}' is itself a contract {what}; it cannot be mapped to '{target}'")
    if mapping.get(key, target) != target:
        fail(where, f"“{key}”被对照为两个不同的{what}：“{mapping[key]}”和“{target}”（全角半角、首尾空格不计）",
             f"'{key}' is mapped to two different targets: '{mapping[key]}' and '{target}'")
    mapping[key] = target
