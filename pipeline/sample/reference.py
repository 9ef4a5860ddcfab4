"""The county a sample is generated for, read from a reference folder (extract-format.md §3).

Only what the generator needs: the 镇街 with their urban/rural class and the population
by year. The pipeline's own reference loader does the full validation; this reader stops
with a message naming the file and line when the folder cannot describe a county.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Area:
    """One 镇街."""

    code: str
    name: str
    area_type: str
    urban: bool


@dataclass(frozen=True)
class County:
    code: str
    name: str
    areas: tuple[Area, ...]
    # year → area code → (resident population, population under 3)
    population: dict[int, dict[str, tuple[int, int]]]

    @property
    def id_prefix(self) -> str:
        """The 6-digit administrative code that starts id numbers and credit codes."""
        return self.code[:6]

    def population_year(self, year: int) -> int:
        """The population year a month of ``year`` uses: that year, else the latest earlier
        one, else (before all data) the earliest."""
        years = sorted(self.population)
        earlier = [y for y in years if y <= year]
        return earlier[-1] if earlier else years[0]

    def residents(self, year: int, area_code: str | None = None) -> int:
        table = self.population[self.population_year(year)]
        if area_code is not None:
            return table.get(area_code, (0, 0))[0]
        return sum(resident for resident, _ in table.values())


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise ValueError(f"{path}: reference file not found")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return [
            (line, {k.strip(): (v or "").strip() for k, v in row.items() if k})
            for line, row in enumerate(reader, start=2)
        ]


def read_county(folder: Path) -> County:
    folder = Path(folder)
    counties: list[dict[str, str]] = []
    areas: list[Area] = []
    for line, row in _rows(folder / "areas.csv"):
        if not row.get("area_code"):
            raise ValueError(f"{folder / 'areas.csv'} line {line}: empty area_code")
        if not row.get("parent_code"):
            counties.append(row)
            continue
        if row.get("urban_rural") not in ("城镇", "乡村"):
            raise ValueError(f"{folder / 'areas.csv'} line {line}: urban_rural must be 城镇 or 乡村")
        areas.append(
            Area(row["area_code"], row.get("area_name", ""), row.get("area_type", ""), row["urban_rural"] == "城镇")
        )
    if len(counties) != 1:
        raise ValueError(
            f"{folder / 'areas.csv'}: expected exactly one county row (empty parent_code), found {len(counties)}"
        )
    if not areas:
        raise ValueError(f"{folder / 'areas.csv'}: the county has no 镇街")
    county = counties[0]
    if not county["area_code"].isdigit() or len(county["area_code"]) < 6:
        raise ValueError(
            f"{folder / 'areas.csv'}: county code {county['area_code']!r} is not a 6-digit administrative code"
        )
    known = {a.code for a in areas}
    population: dict[int, dict[str, tuple[int, int]]] = {}
    for line, row in _rows(folder / "population.csv"):
        try:
            year = int(row["year"])
            value = (int(row["resident_population"]), int(row["population_under3"]))
        except (KeyError, ValueError):
            raise ValueError(
                f"{folder / 'population.csv'} line {line}: year and populations must be integers"
            ) from None
        if row.get("area_code") not in known:
            raise ValueError(f"{folder / 'population.csv'} line {line}: unknown area code {row.get('area_code')!r}")
        population.setdefault(year, {})[row["area_code"]] = value
    if not population:
        raise ValueError(f"{folder / 'population.csv'}: no population rows")
    return County(
        county["area_code"], county.get("area_name", ""), tuple(sorted(areas, key=lambda a: a.code)), population
    )
