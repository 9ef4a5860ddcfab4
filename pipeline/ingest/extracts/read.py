"""Reading one extract file into a table of text cells (extract-format.md §1): CSV
(`csv_reader`) or a workbook, XLSX, XLS, ODS or WPS .et (`xlsx_reader`), both into the
`RawTable` of `table`, with the county's own wording (`wording`) applied."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.extracts.csv_reader import read_csv
from pipeline.ingest.extracts.files import TooLarge, read_regular
from pipeline.ingest.extracts.limits import LIMITS, too_large
from pipeline.ingest.extracts.table import FileRejected, RawTable
from pipeline.ingest.extracts.wording import Wording
from pipeline.ingest.extracts.xlsx_reader import read_workbook

__all__ = ["FileRejected", "RawTable", "read_bytes", "read_extract"]


def size_limit(ext: str) -> int:
    """The most bytes a file of this form is read into memory with: a CSV's own limit, an
    XLS's (not compressed), and for a zip what it may inflate to (it cannot be larger)."""
    if ext == "csv":
        return LIMITS.max_csv_bytes
    if ext in ("xls", "et"):  # an .et may also be a zip: then its inflated size is checked too
        return LIMITS.max_xls_bytes
    return LIMITS.max_xlsx_uncompressed


def read_bytes(path: Path, ext: str, filename: str) -> bytes:
    """A file's bytes, in one opening that follows no link; a file above its size limit is
    rejected before being read."""
    limit = size_limit(ext)
    try:
        return read_regular(path, limit)
    except TooLarge as exc:
        raise too_large(exc.size, filename, limit) from None


def read_extract(source: Path | bytes, kind: str, ext: str, filename: str,
                 wording: Wording | None = None) -> RawTable:
    """The table of a file given by its bytes (as the ingest reads them: once) or its path.
    `wording`: the county's mappings (pipeline/reference/mapping.py); None: the contract's
    words only."""
    data = source if isinstance(source, bytes) else read_bytes(source, ext, filename)
    if ext == "csv":
        return read_csv(data, kind, filename, wording)
    return read_workbook(data, kind, filename, ext, wording)
