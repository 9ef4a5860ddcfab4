"""One extract file in the making: rendered text cells plus the planted changes.

Planting works on row *keys*: original row ``i`` has key ``i``; a row inserted after
row ``i`` has a key just above ``i``. ``finish`` applies the edits, sorts the rows by key
and tells the final 1-based row number of every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pipeline.sample.forms import FileForm


@dataclass
class Planted:
    """One planted defect, before the file's path and row number are known."""

    key: float | None  # row key; None for a whole-file defect
    rule: str  # rule key of pipeline.sample.rules


@dataclass
class Sheet:
    form: FileForm
    typed: pl.DataFrame  # the clean typed rows (with bookkeeping columns)
    cells: pl.DataFrame  # the rendered text of those rows
    edits: dict[str, dict[int, str | None]] = field(default_factory=dict)
    inserts: list[tuple[float, dict[str, str | None]]] = field(default_factory=list)
    numbers: dict[tuple[float, str], float] = field(default_factory=dict)  # XLSX numeric cells
    planted: list[Planted] = field(default_factory=list)

    def set(self, row: int, column: str, value: str | None) -> None:
        self.edits.setdefault(column, {})[row] = value

    def set_number(self, row: float, column: str, value: float) -> None:
        self.numbers[(row, column)] = value

    def row(self, row: int) -> dict[str, str | None]:
        """The rendered cells of an original row, edits included."""
        values = self.cells.row(row, named=True)
        for column, changes in self.edits.items():
            if row in changes:
                values[column] = changes[row]
        return values

    def insert(self, after: float, values: dict[str, str | None]) -> float:
        """Add a row after the row with key ``after`` (-1: at the top); returns its key."""
        taken = sum(1 for k, _ in self.inserts if int(np.floor(k)) == int(np.floor(after)))
        key = float(np.floor(after)) + 0.5 + taken * 1e-4
        self.inserts.append((key, values))
        return key

    def plant(self, key: float | None, rule: str) -> None:
        self.planted.append(Planted(key, rule))

    def finish(self) -> tuple[pl.DataFrame, dict[float, int], dict[tuple[int, str], float]]:
        """(final text rows, row number of each key, numeric cells by (row index, column))."""
        cells = self.cells
        for column, changes in self.edits.items():
            rows = sorted(changes)
            cells = cells.with_columns(
                cells[column].scatter(rows, pl.Series([changes[r] for r in rows], dtype=pl.String))
            )
        keys = np.arange(cells.height, dtype=np.float64)
        if self.inserts:
            extra = pl.DataFrame([v for _, v in self.inserts], schema={c: pl.String for c in cells.columns})
            cells = pl.concat([cells, extra])
            keys = np.concatenate([keys, [k for k, _ in self.inserts]])
            order = np.argsort(keys, kind="stable")
            cells = cells[order]
            keys = keys[order]
        position = {float(k): i for i, k in enumerate(keys)} if self.inserts else None
        wanted = {p.key for p in self.planted if p.key is not None} | {k for k, _ in self.numbers}
        numbers_at: dict[float, int] = {}
        for key in wanted:
            numbers_at[key] = position[key] if position is not None else int(key)
        numbers = {(numbers_at[k], c): v for (k, c), v in self.numbers.items()}
        return cells, {k: i + 1 for k, i in numbers_at.items()}, numbers
