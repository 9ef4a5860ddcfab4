"""A county's own wording (the reference folder's `mapping.toml`, extract-format.md §1):
headers and values as a county writes them, and the contract's header or value each
stands for; and the 镇街 names of `areas.csv` in place of their codes.

Applied to a file's text cells after NFKC normalisation and trimming and before any rule,
so that a mapped cell is judged as if the contract's value had been written. The keys
are normalised the same way when the mapping is read (`pipeline/reference/mapping.py`,
which validates it); here they are only looked up. Every use is counted, for the load log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipeline.ingest.extracts.spec import COLUMNS


@dataclass(frozen=True)
class Wording:
    """`headers[kind]`: normalised header as written → contract column name.
    `values[kind][column]`: normalised value as written → the contract's value."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def header_aliases(self, kind: str) -> dict[str, str]:
        return self.headers.get(kind, {})

    def value_maps(self, kind: str) -> dict[str, dict[str, str]]:
        return self.values.get(kind, {})


NO_WORDING = Wording()


def _header_of(kind: str, column: str) -> str:
    return next(c.header for c in COLUMNS[kind] if c.name == column)


def apply_values(rows: pl.DataFrame, kind: str, wording: Wording | None) -> tuple[pl.DataFrame, list[str]]:
    """`rows` (one normalised text column per contract column) with every mapped value
    replaced, and one note per mapping used: `运营状态“营业中”→“正常运营” 12 处`."""
    used: list[str] = []
    if wording is None:
        return rows, used
    replaced = []
    maps = wording.value_maps(kind)
    for column in (c.name for c in COLUMNS[kind] if c.name in maps):  # in the contract's order
        mapping = maps[column]
        if column not in rows.columns or not mapping:
            continue
        cells = rows.get_column(column)
        counts = cells.filter(cells.is_in(list(mapping))).value_counts(sort=False, name="n")
        if counts.height == 0:
            continue
        header = _header_of(kind, column)
        for text, n in sorted(counts.iter_rows()):
            used.append(f"{header}“{text}”→“{mapping[text]}” {n:,} 处")
        replaced.append(pl.col(column).replace(list(mapping), list(mapping.values())))
    return (rows.with_columns(replaced) if replaced else rows), used
