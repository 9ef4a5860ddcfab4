"""Reading one extract file into a table of text cells (extract-format.md §1): CSV
(`csv_reader`) or XLSX (`xlsx_reader`), both into the `RawTable` of `table`."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.extracts.csv_reader import read_csv, too_large
from pipeline.ingest.extracts.files import TooLarge, read_regular
from pipeline.ingest.extracts.limits import LIMITS
from pipeline.ingest.extracts.table import FileRejected, RawTable
from pipeline.ingest.extracts.xlsx_reader import read_xlsx

__all__ = ["FileRejected", "RawTable", "read_bytes", "read_extract"]


def read_bytes(path: Path, ext: str, filename: str) -> bytes:
    """A file's bytes, in one opening that follows no link; a CSV above its size limit (or a
    workbook above what it may inflate to) is rejected before being read."""
    limit = LIMITS.max_csv_bytes if ext == "csv" else LIMITS.max_xlsx_uncompressed
    try:
        return read_regular(path, limit)
    except TooLarge as exc:
        raise too_large(exc.size, filename, limit) from None


def read_extract(source: Path | bytes, kind: str, ext: str, filename: str) -> RawTable:
    """The table of a file given by its bytes (as the ingest reads them: once) or its path."""
    data = source if isinstance(source, bytes) else read_bytes(source, ext, filename)
    if ext == "csv":
        return read_csv(data, kind, filename)
    return read_xlsx(data, kind, filename)
