"""The indicator catalog (`catalog.csv`): the one list of the handbook's indicators, with
their Chinese names, units, levels (C county, A each 镇街), kind (count, per_1000, percent),
the `marts.area_measures` columns of their numerator and denominator, report rounding,
policy clause and order. Everything that needs the list of indicators
reads it here: the reference checks, the marts (`$catalog_path`) and the report."""

from __future__ import annotations

import csv
from pathlib import Path

CATALOG_PATH = Path(__file__).resolve().parent / "catalog.csv"


def read_catalog(catalog_path: Path = CATALOG_PATH) -> list[dict[str, str]]:
    """The catalog rows as text, in the handbook's order (`sort_order`)."""
    with catalog_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(rows, key=lambda row: int(row["sort_order"]))


def indicator_ids(catalog_path: Path = CATALOG_PATH) -> tuple[str, ...]:
    """The indicator ids, in the handbook's order."""
    return tuple(row["indicator_id"] for row in read_catalog(catalog_path))
