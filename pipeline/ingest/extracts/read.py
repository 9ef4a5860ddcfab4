"""Reading one extract file into a table of text cells (extract-format.md §1): CSV
(`csv_reader`) or XLSX (`xlsx_reader`), both into the `RawTable` of `table`."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.extracts.csv_reader import read_csv
from pipeline.ingest.extracts.table import FileRejected, RawTable
from pipeline.ingest.extracts.xlsx_reader import read_xlsx

__all__ = ["FileRejected", "RawTable", "read_extract"]


def read_extract(path: Path, kind: str, ext: str, filename: str) -> RawTable:
    if ext == "csv":
        table = read_csv(path, kind, filename)
    else:
        table = read_xlsx(path, kind, filename)
    return table
