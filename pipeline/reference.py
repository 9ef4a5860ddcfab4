"""Reference data of a county: its areas, population, targets and policy measures.

A reference folder (extract-format.md section 3) holds `areas.csv` and `population.csv`, and
optionally `targets.toml` and `measures.toml`; when it has no targets or measures file,
the shipped Qingzhou file is used. `load_reference` reads the folder and validates it
strictly: bad reference data stops the run with a `ReferenceDataError` that names the
file, the line and the problem, in Chinese then English. `write_reference_tables`
copies a loaded reference into the warehouse's `reference` schema.

No Dagster here, and nothing is read at import.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import duckdb
import polars as pl

from pipeline.indicators import read_catalog

# The indicator ids of indicator-handbook.md, in the handbook's order.
INDICATOR_IDS: tuple[str, ...] = (
    "demo_institutions",
    "places_per_1000",
    "affordable_place_share",
    "town_coverage",
    "rural_town_coverage",
    "filing_rate",
    "cctv_coverage",
    "fire_safety_rate",
    "enrolled_children",
    "enrollment_rate",
    "place_utilization",
    "caregiver_certified_rate",
    "staff_trained_rate",
    "criminal_check_rate",
    "ratio_compliance_rate",
    "kindergarten_nursery_count",
    "employer_institution_count",
    "mch_institution_count",
    "service_type_count",
)

AREA_COLUMNS = ("area_code", "area_name", "area_type", "urban_rural", "parent_code")
POPULATION_COLUMNS = ("year", "area_code", "resident_population", "population_under3")
TOWN_AREA_TYPES = ("街道", "镇", "乡")
URBAN_RURAL_VALUES = ("城镇", "乡村")
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
_COUNT_RE = re.compile(r"\d+(\.0+)?")
_TOML_LINE_RE = re.compile(r"at line (\d+)")


def default_reference_folder() -> Path:
    """The shipped Qingzhou reference folder (the default of `TUOYU_REFERENCE`)."""
    return Path(__file__).resolve().parent / "reference_data" / "qingzhou"


class ReferenceDataError(Exception):
    """Bad reference data; the run cannot go on. `str(error)` is the message for the office:
    `参考数据错误：<file> 第 <n> 行：<问题>。Reference data error: <file> line <n>: <problem>.`"""

    def __init__(self, file: str, line: int | None, problem_zh: str, problem_en: str):
        self.file = file
        self.line = line
        self.problem_zh = problem_zh
        self.problem_en = problem_en
        where_zh = file if line is None else f"{file} 第 {line} 行"
        where_en = file if line is None else f"{file} line {line}"
        super().__init__(
            f"参考数据错误：{where_zh}：{problem_zh}。Reference data error: {where_en}: {problem_en}."
        )


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


# eq=False: DataFrames do not compare to a single bool.
@dataclass(frozen=True, eq=False)
class Reference:
    """A county's validated reference data.

    `areas`: one row per area (the county first, then its 镇街), all columns text,
    `parent_code` and `urban_rural` null for the county. `population`: one row per 镇街
    per year (`year` Int32, `area_code`, `resident_population` and `population_under3`
    Int64); the county's figures are the sum of its 镇街.
    """

    areas: pl.DataFrame
    population: pl.DataFrame
    targets: list[Target]
    measures: list[Measure]
    county_code: str
    county_name: str
    folder: Path
    targets_file: Path  # the folder's targets.toml, or the shipped default
    measures_file: Path  # the folder's measures.toml, or the shipped default

    @property
    def towns(self) -> pl.DataFrame:
        """The 镇街 rows of `areas` (every row but the county)."""
        return self.areas.filter(pl.col("parent_code").is_not_null())

    def target(self, indicator_id: str) -> Target | None:
        return next((t for t in self.targets if t.indicator_id == indicator_id), None)

    def population_year_for(self, year: int) -> int | None:
        """The population year that months of `year` use: `year` itself when population.csv
        has it, else the latest earlier year (reports must then say which year they used);
        None when every year of the file is later, and the population is unknown."""
        years = [y for y in self.population.get_column("year").unique().to_list() if y <= year]
        return max(years) if years else None

    def population_for(self, year: int) -> pl.DataFrame:
        """The 镇街 population rows that months of `year` use (see `population_year_for`);
        their `year` column is the year used. Empty when no year applies."""
        used = self.population_year_for(year)
        return self.population.filter(pl.col("year") == used) if used is not None else self.population.clear()


def load_reference(folder: Path) -> Reference:
    """Read and validate a reference folder; raise ReferenceDataError on the first problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReferenceDataError(
            str(folder), None, "参考数据文件夹不存在", "the reference folder does not exist"
        )
    areas = _parse_areas(_required_file(folder, "areas.csv"))
    county = areas.row(0, named=True)
    population = _parse_population(_required_file(folder, "population.csv"), areas)
    measures_file = _file_or_default(folder, "measures.toml")
    targets_file = _file_or_default(folder, "targets.toml")
    measures = _parse_measures(measures_file)
    targets = _parse_targets(targets_file, measures)
    return Reference(
        areas=areas,
        population=population,
        targets=targets,
        measures=measures,
        county_code=county["area_code"],
        county_name=county["area_name"],
        folder=folder,
        targets_file=targets_file,
        measures_file=measures_file,
    )


def _required_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise ReferenceDataError(
            name, None, f"参考数据文件夹 {folder} 中没有此文件", f"the file is missing from {folder}"
        )
    return path


def _file_or_default(folder: Path, name: str) -> Path:
    path = folder / name
    return path if path.is_file() else default_reference_folder() / name


# ---------------------------------------------------------------- reading files


def _read_text(path: Path, allow_gb18030: bool) -> str:
    """The file's text: UTF-8 with or without BOM; for CSV also GB18030, which is what
    Excel on a Chinese Windows writes (tried second: it would also decode UTF-8 bytes)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_error = exc
    if allow_gb18030:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    line = data[: first_error.start].count(b"\n") + 1
    raise ReferenceDataError(
        path.name, line, "文件不是 UTF-8 编码，请另存为 UTF-8", "the file is not UTF-8, save it as UTF-8"
    )


def _clean(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell).strip()


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a reference CSV as (line number in the file, {column: text}).

    Every cell is text, NFKC-normalised and trimmed (codes keep their leading zeros);
    blank rows are skipped; extra columns are ignored."""
    reader = csv.reader(io.StringIO(_read_text(path, allow_gb18030=True), newline=""))
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            cells = [_clean(c) for c in cells]
            if not any(cells):
                continue
            if header is None:
                header = cells
                missing = [c for c in columns if c not in header]
                if missing:
                    raise ReferenceDataError(
                        path.name, line,
                        f"缺少列 {'、'.join(missing)}（应有列：{','.join(columns)}）",
                        f"missing column(s) {', '.join(missing)} (expected: {','.join(columns)})",
                    )
                index = {c: header.index(c) for c in columns}
                continue
            rows.append((line, {c: cells[i] if i < len(cells) else "" for c, i in index.items()}))
    except csv.Error as exc:
        raise ReferenceDataError(
            path.name, reader.line_num, f"CSV 格式错误：{exc}", f"CSV format error: {exc}"
        ) from None
    if header is None:
        raise ReferenceDataError(path.name, None, "文件为空", "the file is empty")
    return rows


def _read_toml(path: Path) -> tuple[dict, list[str]]:
    """The parsed TOML document and its lines (to point errors at a line)."""
    text = _read_text(path, allow_gb18030=False)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE_RE.search(str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        raise ReferenceDataError(
            path.name, line, f"TOML 格式错误：{exc}", f"TOML syntax error: {exc}"
        ) from None
    return data, text.split("\n")


def _header_line(lines: list[str], name: str, occurrence: int = 0) -> int | None:
    """Line number of the `occurrence`-th `[name]` or `[[name]]` header (or of a top-level
    `name = {...}` inline table)."""
    header = re.compile(r"\s*\[\[?\s*[\"']?" + re.escape(name) + r"[\"']?\s*\]\]?\s*(#.*)?")
    inline = re.compile(r"[\"']?" + re.escape(name) + r"[\"']?\s*=")
    seen = 0
    for number, text in enumerate(lines, start=1):
        if header.fullmatch(text) or inline.match(text):
            if seen == occurrence:
                return number
            seen += 1
    return None


def _key_line(lines: list[str], section_line: int | None, key: str | None) -> int | None:
    """Line number of `key = ...` in the section starting at `section_line`; the section's
    own line when the key is not written there on a line of its own."""
    if section_line is None or key is None:
        return section_line
    pattern = re.compile(r"\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
    for number in range(section_line + 1, len(lines) + 1):
        text = lines[number - 1]
        if text.lstrip().startswith("["):
            break
        if pattern.match(text):
            return number
    return section_line


# ---------------------------------------------------------------- areas and population


def _parse_areas(path: Path) -> pl.DataFrame:
    """The areas as a frame: the county's row first, then the 镇街 in file order."""
    rows = _read_csv(path, AREA_COLUMNS)

    def fail(line: int | None, zh: str, en: str) -> NoReturn:
        raise ReferenceDataError(path.name, line, zh, en)

    first_line: dict[str, int] = {}
    county: tuple[int, dict[str, str]] | None = None
    for line, row in rows:
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
    """A non-negative whole number ("120", "120.0", "1,200"); None if it is not one."""
    text = text.replace(",", "")
    return int(float(text)) if _COUNT_RE.fullmatch(text) else None


def _parse_population(path: Path, areas: pl.DataFrame) -> pl.DataFrame:
    rows = _read_csv(path, POPULATION_COLUMNS)

    def fail(line: int | None, zh: str, en: str) -> NoReturn:
        raise ReferenceDataError(path.name, line, zh, en)

    county_code = areas.row(0, named=True)["area_code"]
    towns = areas.filter(pl.col("parent_code").is_not_null())
    town_codes = set(towns.get_column("area_code").to_list())
    first_line: dict[tuple[int, str], int] = {}
    parsed: list[tuple[int, str, int, int]] = []
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


# ---------------------------------------------------------------- targets and measures


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_measures(path: Path) -> list[Measure]:
    data, lines = _read_toml(path)
    for key in data:
        if key != "measure":
            raise ReferenceDataError(path.name, _header_line(lines, key), f"未知的段“{key}”，应为 [[measure]]",
                                     f"unknown section '{key}', expected [[measure]]")
    entries = data.get("measure")
    if not isinstance(entries, list) or not entries:
        raise ReferenceDataError(path.name, None, "没有 [[measure]] 段", "no [[measure]] tables")
    measures: list[Measure] = []
    for index, entry in enumerate(entries):
        at = _header_line(lines, "measure", index)

        def fail(key: str | None, zh: str, en: str) -> NoReturn:
            raise ReferenceDataError(path.name, _key_line(lines, at, key), zh, en)

        for key in entry:
            if key not in MEASURE_REQUIRED_KEYS + MEASURE_OPTIONAL_KEYS:
                fail(key, f"未知的键“{key}”", f"unknown key '{key}'")
        for key in MEASURE_REQUIRED_KEYS:
            if key not in entry:
                fail(None, f"缺少 {key}", f"missing key {key}")
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
            if indicator_id not in INDICATOR_IDS:
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


def _parse_targets(path: Path, measures: list[Measure]) -> list[Target]:
    data, lines = _read_toml(path)
    leads = {str(m.number): m.lead_unit for m in measures}
    catalog = {row["indicator_id"]: row for row in read_catalog()}
    targets: list[Target] = []
    for indicator_id, table in data.items():
        at = _header_line(lines, indicator_id)

        def fail(key: str | None, zh: str, en: str) -> NoReturn:
            raise ReferenceDataError(path.name, _key_line(lines, at, key), zh, en)

        if indicator_id not in INDICATOR_IDS:
            fail(None, f"未知的指标编号“{indicator_id}”", f"unknown indicator id '{indicator_id}'")
        if not isinstance(table, dict):
            fail(None, f"{indicator_id} 应为一个 [{indicator_id}] 段", f"{indicator_id} must be a table [{indicator_id}]")
        for key in table:
            if key not in TARGET_REQUIRED_KEYS + TARGET_OPTIONAL_KEYS:
                fail(key, f"未知的键“{key}”", f"unknown key '{key}'")
        for key in TARGET_REQUIRED_KEYS:
            if key not in table:
                fail(None, f"缺少 {key}", f"missing key {key}")
        value, comparison, deadline, clause = (table[k] for k in TARGET_REQUIRED_KEYS)
        if not _is_number(value):
            fail("value", f"目标值 value 不是数字：{value!r}", f"value is not a number: {value!r}")
        if comparison not in COMPARISONS:
            fail("comparison", f"比较方式 comparison 应为 \">=\" 或 \"=\"，现为 {comparison!r}",
                 f"comparison must be \">=\" or \"=\", not {comparison!r}")
        if not isinstance(deadline, str) or not _MONTH_RE.fullmatch(deadline):
            fail("deadline", f"期限 deadline 应为 \"YYYY-MM\"，现为 {deadline!r}",
                 f"deadline must be \"YYYY-MM\", not {deadline!r}")
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
        if planned_max is not None and (not _is_number(planned_max) or planned_max < value):
            fail("planned_max", f"计划上限 planned_max 应为不小于目标值的数字：{planned_max!r}",
                 f"planned_max must be a number not below value: {planned_max!r}")
        entry = catalog[indicator_id]
        applies_to = table.get("applies_to", default_applies_to(entry["kind"], entry["levels"]))
        if applies_to not in APPLIES_TO:
            fail("applies_to", f"适用范围 applies_to 应为 \"county\"（只考核全县）或 \"county_and_towns\""
                 f"（全县和各镇街都考核），现为 {applies_to!r}",
                 f"applies_to must be \"county\" or \"county_and_towns\", not {applies_to!r}")
        if applies_to == "county_and_towns" and "A" not in entry["levels"].split(","):
            fail("applies_to", f"指标 {indicator_id} 只有全县数值，没有镇街数值，applies_to 只能为 \"county\"",
                 f"{indicator_id} has a county figure only, so applies_to must be \"county\"")
        targets.append(Target(
            indicator_id, float(value), comparison, deadline, clause, lead_unit.strip(), note.strip(),
            applies_to, None if planned_max is None else float(planned_max),
        ))
    return targets


# ---------------------------------------------------------------- warehouse

_CREATE_TABLES = (
    """create or replace table reference.areas (
        area_code varchar primary key,
        area_name varchar not null,
        area_type varchar not null,
        urban_rural varchar,
        parent_code varchar
    )""",
    """create or replace table reference.population (
        year integer not null,
        area_code varchar not null,
        resident_population bigint not null,
        population_under3 bigint not null,
        primary key (year, area_code)
    )""",
    """create or replace table reference.targets (
        indicator_id varchar primary key,
        target_value double not null,
        comparison varchar not null,
        deadline varchar not null,
        clause varchar not null,
        lead_unit varchar not null,
        note varchar not null,
        planned_max double,
        applies_to varchar not null check (applies_to in ('county', 'county_and_towns'))
    )""",
    """create or replace table reference.measures (
        measure_no integer primary key,
        title_zh varchar not null,
        lead_unit varchar not null,
        responsible_units varchar not null,
        indicator_ids varchar,
        coverage_note_zh varchar not null
    )""",
)

_INSERTS = {
    "areas": "insert into reference.areas values (?, ?, ?, ?, ?)",
    "population": "insert into reference.population values (?, ?, ?, ?)",
    "targets": "insert into reference.targets values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "measures": "insert into reference.measures values (?, ?, ?, ?, ?, ?)",
}


def write_reference_tables(con: duckdb.DuckDBPyConnection, ref: Reference) -> dict[str, int]:
    """Create or replace `reference.areas`, `.population`, `.targets` and `.measures`
    from `ref`, in one transaction of its own; return the rows written per table.

    `reference.measures.responsible_units` is the units joined by 、 (the first leads),
    `indicator_ids` the ids joined by commas, NULL when the extracts cannot show it."""
    rows = {
        "areas": ref.areas.select(AREA_COLUMNS).rows(),
        "population": ref.population.select(POPULATION_COLUMNS).rows(),
        "targets": [
            (t.indicator_id, t.value, t.comparison, t.deadline, t.clause, t.lead_unit, t.note, t.planned_max,
             t.applies_to)
            for t in ref.targets
        ],
        "measures": [
            (m.number, m.title_zh, m.lead_unit, "、".join(m.responsible_units),
             ",".join(m.indicator_ids) or None, m.coverage_note_zh)
            for m in ref.measures
        ],
    }
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists reference")
        for statement in _CREATE_TABLES:
            con.execute(statement)
        for table, insert in _INSERTS.items():
            if rows[table]:
                con.executemany(insert, rows[table])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return {table: len(table_rows) for table, table_rows in rows.items()}
