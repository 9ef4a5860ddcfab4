"""Reference data of a county: its areas, population, targets and policy measures; and of
a prefecture over its counties (docs/rollup.md §2): `reference_kind` tells the two folders
apart, `load_prefecture_reference` reads a prefecture's.

A reference folder (extract-format.md section 3) holds `areas.csv` and `population.csv`, and
optionally `targets.toml`, `measures.toml` and `quality.toml` (the data-quality checks'
parameters); when it has none of one of them, the shipped Qingzhou file is used. An optional
`mapping.toml` holds the county's own wording of headers and values (no default). `load_reference` reads the folder and validates it
strictly: bad reference data stops the run with a `ReferenceDataError` that names the
file, the line and the problem, in Chinese then English. `write_reference_tables`
copies a loaded reference into the warehouse's `reference` schema.

No Dagster here, and nothing is read at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.reference.areas import COUNTY, PREFECTURE, areas_kind, parse_areas, parse_population, parse_prefecture_areas
from pipeline.ingest.extracts.wording import NO_WORDING, Wording
from pipeline.reference.files import ReferenceDataError, header_line, read_toml
from pipeline.reference.mapping import MAPPING_FILE, parse_mapping
from pipeline.reference.policy import Measure, Target, parse_measures, parse_targets
from pipeline.reference.quality import QualityParameters, parse_quality


def default_reference_folder() -> Path:
    """The shipped Qingzhou reference folder (the default of `TUOYU_REFERENCE`)."""
    return Path(__file__).resolve().parent / "qingzhou"


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
    quality: QualityParameters
    quality_file: Path  # the folder's quality.toml, or the shipped default
    # The county's own headers and values (mapping.toml, optional) and its 镇街 names in place
    # of their codes: handed to the ingest, which applies them to every file it reads.
    wording: Wording = NO_WORDING
    mapping_file: Path | None = None  # the folder's mapping.toml; None when it has none

    kind = COUNTY

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
    folder = _existing_folder(folder)
    areas = parse_areas(_required_file(folder, "areas.csv"))
    county = areas.row(0, named=True)
    population = parse_population(_required_file(folder, "population.csv"), areas)
    measures_file = _file_or_default(folder, "measures.toml")
    targets_file = _file_or_default(folder, "targets.toml")
    measures = parse_measures(measures_file)
    targets = parse_targets(targets_file, measures)
    quality_file = _file_or_default(folder, "quality.toml")
    quality = parse_quality(quality_file)
    mapping_file = folder / MAPPING_FILE if (folder / MAPPING_FILE).is_file() else None
    wording = parse_mapping(mapping_file, areas)
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
        quality=quality,
        quality_file=quality_file,
        wording=wording,
        mapping_file=mapping_file,
    )


ROLLUP_FILE = "rollup.toml"
DEFAULT_MIN_COUNTY_SHARE = 1.0
# The indicators the prefecture's report ranks county by county, when rollup.toml names none:
# the figures the policy's summary names first (places, affordable places, filing,
# enrolment) and two of supply and staff.
DEFAULT_RANKED = ("places_per_1000", "affordable_place_share", "filing_rate", "enrollment_rate", "town_coverage",
                  "caregiver_certified_rate")


# eq=False: DataFrames do not compare to a single bool.
@dataclass(frozen=True, eq=False)
class PrefectureReference:
    """A prefecture's validated reference data (docs/rollup.md §2).

    `areas`: the prefecture's row first, then its county-level divisions, all columns
    text, `urban_rural` null throughout. No population: each county's bundle brings its
    own denominators. `min_county_share`: the share of counties that must have a month's
    value for the prefecture to have one (rollup.toml; 1 = every county). `ranked`: the
    indicators the report ranks county by county, in order (rollup.toml; DEFAULT_RANKED)."""

    areas: pl.DataFrame
    targets: list[Target]
    measures: list[Measure]
    prefecture_code: str
    prefecture_name: str
    folder: Path
    targets_file: Path  # the folder's targets.toml, or the shipped default
    measures_file: Path  # the folder's measures.toml, or the shipped default
    min_county_share: float = DEFAULT_MIN_COUNTY_SHARE
    rollup_file: Path | None = None  # the folder's rollup.toml; None when it has none
    ranked: tuple[str, ...] = DEFAULT_RANKED

    kind = PREFECTURE

    @property
    def counties(self) -> pl.DataFrame:
        """The county rows of `areas` (every row but the prefecture)."""
        return self.areas.filter(pl.col("parent_code").is_not_null())

    @property
    def county_codes(self) -> tuple[str, ...]:
        return tuple(self.counties.get_column("area_code").to_list())

    def county_name(self, code: str) -> str | None:
        found = self.counties.filter(pl.col("area_code") == code)
        return found.item(0, "area_name") if found.height else None

    def target(self, indicator_id: str) -> Target | None:
        return next((t for t in self.targets if t.indicator_id == indicator_id), None)


def reference_kind(folder: Path) -> str:
    """`"county"` or `"prefecture"`: what the children of the folder's areas.csv are
    (镇街, or county-level divisions). ReferenceDataError when the folder or its areas.csv
    is missing, or its children are of both kinds."""
    folder = _existing_folder(folder)
    return areas_kind(_required_file(folder, "areas.csv"))


def load_prefecture_reference(folder: Path) -> PrefectureReference:
    """Read and validate a prefecture's reference folder; raise ReferenceDataError on the
    first problem."""
    folder = _existing_folder(folder)
    areas = parse_prefecture_areas(_required_file(folder, "areas.csv"))
    if (folder / "population.csv").is_file():
        raise ReferenceDataError(
            "population.csv", None,
            "地市的参考数据不使用人口文件：各指标的分母来自各县汇总包中各县自己的人口数。请删除或移走此文件",
            "a prefecture's reference data has no population file: the denominators come from the "
            "counties' bundles; remove the file")
    root = areas.row(0, named=True)
    measures_file = _file_or_default(folder, "measures.toml")
    targets_file = _file_or_default(folder, "targets.toml")
    measures = parse_measures(measures_file)
    targets = parse_targets(targets_file, measures, every_indicator_below=True)
    rollup_file = folder / ROLLUP_FILE if (folder / ROLLUP_FILE).is_file() else None
    share, ranked = (parse_rollup(rollup_file) if rollup_file is not None
                     else (DEFAULT_MIN_COUNTY_SHARE, DEFAULT_RANKED))
    return PrefectureReference(
        areas=areas, targets=targets, measures=measures, prefecture_code=root["area_code"],
        prefecture_name=root["area_name"], folder=folder, targets_file=targets_file,
        measures_file=measures_file, min_county_share=share, rollup_file=rollup_file, ranked=ranked,
    )


ROLLUP_KEYS = ("min_county_share", "ranked")


def parse_rollup(path: Path) -> tuple[float, tuple[str, ...]]:
    """`rollup.toml`: `min_county_share`, 0 < share <= 1, and `ranked`, a list of indicator
    ids of the catalog without repeats (empty: no ranking); each optional."""
    from pipeline.marts.catalog import indicator_ids

    data, lines = read_toml(path)
    for key in data:
        if key not in ROLLUP_KEYS:
            raise ReferenceDataError(path.name, header_line(lines, key),
                                     f"未知的键“{key}”，应为 {' 或 '.join(ROLLUP_KEYS)}",
                                     f"unknown key '{key}', expected {' or '.join(ROLLUP_KEYS)}")
    share = data.get("min_county_share", DEFAULT_MIN_COUNTY_SHARE)
    if (isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1):
        raise ReferenceDataError(
            path.name, header_line(lines, "min_county_share"),
            f"min_county_share 应为大于 0、不大于 1 的小数（如 0.8 表示至少八成的县有数据），现为 {share!r}",
            f"min_county_share must be a number above 0 and at most 1, not {share!r}")
    ranked = data.get("ranked", list(DEFAULT_RANKED))
    line = header_line(lines, "ranked")
    if not isinstance(ranked, list) or not all(isinstance(i, str) for i in ranked):
        raise ReferenceDataError(
            path.name, line, f"ranked 应为指标编号的列表，如 ranked = [\"places_per_1000\", \"filing_rate\"]，现为 {ranked!r}",
            f"ranked must be a list of indicator ids, not {ranked!r}")
    known = indicator_ids()
    unknown = [i for i in ranked if i not in known]
    if unknown:
        raise ReferenceDataError(
            path.name, line, f"ranked 中的 {'、'.join(unknown)} 不是指标编号；指标编号见 docs/indicator-handbook.md 的指标表（如 places_per_1000）",
            f"unknown indicator ids in ranked: {', '.join(unknown)}")
    repeated = sorted({i for i in ranked if ranked.count(i) > 1})
    if repeated:
        raise ReferenceDataError(path.name, line, f"ranked 中的 {'、'.join(repeated)} 重复出现，每个指标只能列一次",
                                 f"repeated in ranked: {', '.join(repeated)}")
    return float(share), tuple(ranked)


def _existing_folder(folder: Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise ReferenceDataError(
            str(folder), None, "参考数据文件夹不存在", "the reference folder does not exist"
        )
    return folder


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
