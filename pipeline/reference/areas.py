"""The county's areas (`areas.csv`: the county and its 镇街) and their population
(`population.csv`: one row per 镇街 per year), validated strictly (extract-format.md §3).

A prefecture's `areas.csv` has the same columns, its children being county-level divisions
(docs/rollup.md §2); `areas_kind` tells the two apart by the children's `area_type`, and
`parse_prefecture_areas` reads the prefecture's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NoReturn

import polars as pl

from pipeline.reference.files import ReferenceDataError, read_csv
from pipeline.reference.limits import number_text, reference_limits

AREA_COLUMNS = ("area_code", "area_name", "area_type", "urban_rural", "parent_code")
POPULATION_COLUMNS = ("year", "area_code", "resident_population", "population_under3")
TOWN_AREA_TYPES = ("街道", "镇", "乡")
# The county-level divisions: the children of a prefecture's areas.csv.
COUNTY_AREA_TYPES = ("县", "县级市", "区", "自治县", "旗", "自治旗", "林区", "特区")
COUNTY, PREFECTURE = "county", "prefecture"
URBAN_RURAL_VALUES = ("城镇", "乡村")

_COUNT_RE = re.compile(r"\d+(\.0+)?")


def areas_kind(path: Path) -> str:
    """`PREFECTURE` when the children of `areas.csv` (rows with a `parent_code`) are
    county-level divisions (COUNTY_AREA_TYPES), else `COUNTY`. Children of both kinds stop
    with the line of the first child unlike the first; a child of neither kind is left to
    the parser to name."""
    return _kind(path, read_csv(path, AREA_COLUMNS))


def _kind(path: Path, rows: list[tuple[int, dict[str, str]]]) -> str:
    first: tuple[int, str, str] | None = None  # line, kind, area_type of the first child of a known kind
    for line, row in rows:
        if not row["parent_code"]:
            continue
        kind = (PREFECTURE if row["area_type"] in COUNTY_AREA_TYPES
                else COUNTY if row["area_type"] in TOWN_AREA_TYPES else None)
        if kind is None:
            continue
        if first is None:
            first = (line, kind, row["area_type"])
        elif kind != first[1]:
            raise ReferenceDataError(
                path.name, line,
                f"区划 {row['area_code']} 的类型为“{row['area_type']}”，而第 {first[0]} 行为“{first[2]}”：下级区划"
                f"不能既有县级区划（{'、'.join(COUNTY_AREA_TYPES)}）又有镇街（{'、'.join(TOWN_AREA_TYPES)}）。"
                "县的参考数据下级为镇街，地市的参考数据下级为县级区划",
                f"area {row['area_code']} is a '{row['area_type']}' but line {first[0]} is a '{first[2]}': "
                "children must be all county-level divisions (a prefecture) or all 镇街 (a county)")
    return first[1] if first is not None else COUNTY


def _check_code_and_name(fail, line: int, row: dict[str, str], first_line: dict[str, int]) -> None:
    """The checks every row of an areas.csv passes, county's or prefecture's: a code of digits,
    not seen before (`first_line` records where each code was), and a name."""
    code = row["area_code"]
    if not code:
        fail(line, "区划代码为空", "area_code is empty")
    if not code.isascii() or not code.isdigit():
        fail(line, f"区划代码 {code} 不是数字", f"area_code {code} is not all digits")
    if code in first_line:
        fail(line, f"区划代码 {code} 重复（第 {first_line[code]} 行已有）",
             f"duplicate area_code {code} (already on line {first_line[code]})")
    first_line[code] = line
    if not row["area_name"]:
        fail(line, f"区划 {code} 没有名称", f"area_name is empty for {code}")


def parse_areas(path: Path) -> pl.DataFrame:
    """The areas as a frame: the county's row first, then the 镇街 in file order."""
    rows = read_csv(path, AREA_COLUMNS)
    if _kind(path, rows) == PREFECTURE:
        raise ReferenceDataError(
            path.name, None, "这是地市的参考数据（下级为县级区划），此处需要县的参考数据（下级为镇街）",
            "this is a prefecture's reference data (its children are counties); a county's is needed here")

    def fail(line: int | None, zh: str, en: str) -> NoReturn:
        raise ReferenceDataError(path.name, line, zh, en)

    first_line: dict[str, int] = {}
    county: tuple[int, dict[str, str]] | None = None
    max_towns = reference_limits().max_towns
    towns = 0
    for line, row in rows:
        code = row["area_code"]
        towns += bool(row["parent_code"])
        if towns > max_towns:
            fail(line, f"镇街超过 {max_towns:,} 个（本行是第 {towns:,} 个），超出合理范围",
                 f"more than {max_towns:,} 镇街 (this row is number {towns:,})")
        _check_code_and_name(fail, line, row, first_line)
        if not row["parent_code"]:
            if county is not None:
                fail(line, f"有两个县级行（上级代码为空）：{county[1]['area_code']}（第 {county[0]} 行）和 {code}",
                     f"two county rows (empty parent_code): {county[1]['area_code']} (line {county[0]}) and {code}")
            county = (line, row)
            continue
        if row["area_type"] not in TOWN_AREA_TYPES:
            fail(line, f"镇街 {code} 的区划类型“{row['area_type']}”无效，应为 {'、'.join(TOWN_AREA_TYPES)}",
                 f"invalid area_type '{row['area_type']}' for {code}, expected one of {', '.join(TOWN_AREA_TYPES)}")
        if row["urban_rural"] not in URBAN_RURAL_VALUES:
            fail(line, f"镇街 {code} 的城乡属性“{row['urban_rural']}”无效，应为 {'、'.join(URBAN_RURAL_VALUES)}",
                 f"invalid urban_rural '{row['urban_rural']}' for {code}, expected one of {', '.join(URBAN_RURAL_VALUES)}")
    if county is None:
        fail(None, "没有县级行：必须有且只有一行的上级代码（parent_code）为空，即县本身",
             "no county row: exactly one row must have an empty parent_code (the county itself)")
    county_code = county[1]["area_code"]
    for line, row in rows:
        if row["parent_code"] and row["parent_code"] != county_code:
            fail(line, f"镇街 {row['area_code']} 的上级代码 {row['parent_code']} 不是本县代码 {county_code}",
                 f"the parent_code {row['parent_code']} of {row['area_code']} is not the county {county_code}")
    if len(rows) == 1:
        fail(None, "只有县级行，没有镇街", "the county has no 镇街 rows")

    ordered = [county[1]] + [row for _, row in rows if row is not county[1]]
    frame = pl.DataFrame(
        {c: [row[c] or None for row in ordered] for c in AREA_COLUMNS},
        schema={c: pl.String for c in AREA_COLUMNS},
    )
    # The county's urban_rural is not used; null, like its parent_code.
    frame = frame.with_columns(
        pl.when(pl.col("parent_code").is_null()).then(None).otherwise(pl.col("urban_rural")).alias("urban_rural")
    )
    return frame


def _parse_count(text: str) -> int | None:
    """A non-negative whole number ("120", "120.0", "1,200"); None if it is not one.
    Exact however long (no float in between): the range is checked by the caller."""
    text = text.replace(",", "")
    if not _COUNT_RE.fullmatch(text):
        return None
    whole = text.split(".")[0].lstrip("0") or "0"
    # Beyond every limit either way; int() refuses more than 4,300 digits.
    return int(whole) if len(whole) <= 100 else 10 ** 100


def parse_population(path: Path, areas: pl.DataFrame) -> pl.DataFrame:
    rows = read_csv(path, POPULATION_COLUMNS)

    def fail(line: int | None, zh: str, en: str) -> NoReturn:
        raise ReferenceDataError(path.name, line, zh, en)

    county_code = areas.row(0, named=True)["area_code"]
    towns = areas.filter(pl.col("parent_code").is_not_null())
    town_codes = set(towns.get_column("area_code").to_list())
    first_line: dict[tuple[int, str], int] = {}
    parsed: list[tuple[int, str, int, int]] = []
    max_population = reference_limits().max_population
    for line, row in rows:
        year_text, code = row["year"], row["area_code"]
        if not re.fullmatch(r"\d{4}", year_text):
            fail(line, f"年份“{year_text}”无效，应为四位数字", f"invalid year '{year_text}', expected four digits")
        year = int(year_text)
        if code == county_code:
            fail(line, f"{code} 是县级代码：只填各镇街，县的人口由镇街相加",
                 f"{code} is the county: give 镇街 rows only, the county is their sum")
        if code not in town_codes:
            fail(line, f"区划代码 {code} 不是 areas.csv 中的镇街", f"area_code {code} is not a 镇街 of areas.csv")
        if (year, code) in first_line:
            fail(line, f"{year} 年 {code} 的人口重复（第 {first_line[year, code]} 行已有）",
                 f"duplicate population for {code} in {year} (already on line {first_line[year, code]})")
        first_line[year, code] = line
        counts = []
        for column in ("resident_population", "population_under3"):
            text = row[column]
            value = _parse_count(text)
            if value is None:
                if not text:
                    fail(line, f"{column} 为空", f"{column} is empty")
                if _parse_count(text.removeprefix("-")) is not None:
                    fail(line, f"{column} 为负数：{text}", f"{column} is negative: {text}")
                fail(line, f"{column} 不是整数：“{text}”", f"{column} is not a whole number: '{text}'")
            if value > max_population:
                long = len(text) > 30
                fail(line, f"{column} = {text[:30]}{f'…（共 {len(text)} 位）' if long else ''} 超出合理范围 "
                           f"0–{number_text(max_population)}",
                     f"{column} = {text[:30]}{f'… ({len(text)} digits)' if long else ''} is outside "
                     f"0–{number_text(max_population)}")
            counts.append(value)
        resident, under3 = counts
        if under3 > resident:
            fail(line, f"3岁以下人口 {under3} 大于常住人口 {resident}",
                 f"population_under3 {under3} exceeds resident_population {resident}")
        parsed.append((year, code, resident, under3))

    # Every 镇街 needs a population, and each year must list every 镇街 (the county
    # figure is their sum, so a gap would silently shrink it).
    covered = {code for _, code, _, _ in parsed}
    for town in towns.iter_rows(named=True):
        if town["area_code"] not in covered:
            fail(None, f"镇街 {town['area_code']}（{town['area_name']}）在任何年份都没有人口数",
                 f"镇街 {town['area_code']} ({town['area_name']}) has no population in any year")
    for year in sorted({year for year, _, _, _ in parsed}):
        missing = sorted(town_codes - {code for y, code, _, _ in parsed if y == year})
        if missing:
            line = min(n for (y, _), n in first_line.items() if y == year)
            fail(line, f"{year} 年缺少镇街 {'、'.join(missing)} 的人口数（每年每个镇街一行）",
                 f"year {year} lacks 镇街 {', '.join(missing)} (one row per 镇街 per year)")

    return pl.DataFrame(
        parsed,
        schema={"year": pl.Int32, "area_code": pl.String, "resident_population": pl.Int64,
                "population_under3": pl.Int64},
        orient="row",
    ).sort("year", "area_code")


def parse_prefecture_areas(path: Path) -> pl.DataFrame:
    """A prefecture's areas as a frame: its row first, then its county-level divisions in
    file order (docs/rollup.md §2); `urban_rural` null throughout."""
    rows = read_csv(path, AREA_COLUMNS)

    def fail(line: int | None, zh: str, en: str) -> NoReturn:
        raise ReferenceDataError(path.name, line, zh, en)

    if _kind(path, rows) != PREFECTURE:
        fail(None, "这是县的参考数据（下级为镇街），此处需要地市的参考数据（下级为县级区划）",
             "this is a county's reference data (its children are 镇街); a prefecture's is needed here")
    first_line: dict[str, int] = {}
    root: tuple[int, dict[str, str]] | None = None
    max_counties = reference_limits().max_counties
    counties = 0
    for line, row in rows:
        code = row["area_code"]
        counties += bool(row["parent_code"])
        if counties > max_counties:
            fail(line, f"县级区划超过 {max_counties:,} 个（本行是第 {counties:,} 个），超出合理范围",
                 f"more than {max_counties:,} county-level divisions (this row is number {counties:,})")
        _check_code_and_name(fail, line, row, first_line)
        if not row["parent_code"]:
            if root is not None:
                fail(line, f"有两个地市级行（上级代码为空）：{root[1]['area_code']}（第 {root[0]} 行）和 {code}",
                     f"two prefecture rows (empty parent_code): {root[1]['area_code']} (line {root[0]}) and {code}")
            root = (line, row)
            continue
        if row["area_type"] not in COUNTY_AREA_TYPES:
            fail(line, f"县级区划 {code} 的区划类型“{row['area_type']}”无效，应为 {'、'.join(COUNTY_AREA_TYPES)}",
                 f"invalid area_type '{row['area_type']}' for {code}, expected one of {', '.join(COUNTY_AREA_TYPES)}")
        if row["urban_rural"]:
            fail(line, f"县级区划 {code} 的城乡属性应为空（只有镇街有城乡属性），现为“{row['urban_rural']}”",
                 f"urban_rural must be empty for the county-level division {code}, not '{row['urban_rural']}'")
    if root is None:
        fail(None, "没有地市级行：必须有且只有一行的上级代码（parent_code）为空，即地市本身",
             "no prefecture row: exactly one row must have an empty parent_code (the prefecture itself)")
    root_code = root[1]["area_code"]
    for line, row in rows:
        if row["parent_code"] and row["parent_code"] != root_code:
            fail(line, f"县级区划 {row['area_code']} 的上级代码 {row['parent_code']} 不是本地市代码 {root_code}",
                 f"the parent_code {row['parent_code']} of {row['area_code']} is not the prefecture {root_code}")
    ordered = [root[1]] + [row for _, row in rows if row is not root[1]]
    return pl.DataFrame(
        {c: [None if c == "urban_rural" else (row[c] or None) for row in ordered] for c in AREA_COLUMNS},
        schema={c: pl.String for c in AREA_COLUMNS},
    )
