"""Reading a CSV extract: UTF-8 (with or without BOM) or GB18030, any line ends, the header
among the first ten non-blank rows, every cell as text."""

from __future__ import annotations

import csv
import io
import re

import polars as pl

from pipeline.ingest.extracts.limits import LIMITS, check_header, check_rows, too_large
from pipeline.ingest.extracts.table import (HEADER_SEARCH_ROWS, MAX_HEAD_LINES, FileRejected, RawTable, find_header,
                                            finish, non_blank, raw_table)
from pipeline.ingest.extracts.wording import Wording

# A CSV is read whole into memory (about ten times its size at the peak): refuse one far
# beyond any county's monthly extract before reading it, rather than let it exhaust the
# memory of every run that meets it. A million-row enrollment file is about 90 MB.
MAX_CSV_BYTES = LIMITS.max_csv_bytes


def decode_csv(data: bytes, filename: str) -> tuple[str, str]:
    """Strict UTF-8 (with or without BOM) first, then GB18030; anything else is rejected."""
    if b"\x00" in data[:65536]:
        raise FileRejected(
            f"文件 {filename}：编码无法识别（疑似 UTF-16 或二进制文件）。请另存为 UTF-8 或 GBK 编码的 CSV 后重新报送。",
            f"File {filename}: unsupported encoding or binary content (NUL bytes); save as UTF-8 or GBK CSV.",
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030").removeprefix("\ufeff"), "gb18030"  # GB18030's own BOM
    except UnicodeDecodeError:
        raise FileRejected(
            f"文件 {filename}：编码无法识别，既不是 UTF-8 也不是 GBK/GB18030。请另存为 UTF-8 或 GBK 编码的 CSV 后重新报送。",
            f"File {filename}: neither UTF-8 nor GB18030; save as UTF-8 or GBK CSV.",
        ) from None


def _lines(text: str) -> list[str]:
    """Lines as the CSV reader counts them: ended by LF (or CR LF) only. `str.splitlines`
    would also split at a form feed or U+2028 inside a cell, and the header row found
    would not be the row the reader skips to."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _first_lines(text: str, n: int) -> list[str]:
    """`_lines(text)[:n]` without splitting the whole (possibly huge) file."""
    size = 1 << 16
    while True:
        lines = _lines(text[:size])
        if len(lines) > n or size >= len(text):
            return lines[:n]  # with a line after them, the first n lines are whole
        size *= 4


def _unix_line_ends(text: str) -> str:
    """A file saved with old Mac line ends (CR alone) is read as one line by the CSV reader,
    and would load as a month without rows: make every lone CR a line end."""
    if text.count("\r") == text.count("\r\n"):  # none, or all in CR LF pairs: nothing to do
        return text
    return re.sub(r"\r+\n?", "\n", text)  # CR, CR LF, and a doubled CR CR LF: one line end each


def _line_cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:  # a cell longer than the csv module allows (128 KiB) is no header
        return []


def _head_rows(text: str) -> list[tuple[int, list[str]]]:
    """The first non-blank rows of a CSV (0-based line index, cells), for the header search.
    Line by line, as the CSV reader later skips lines to the header."""
    wanted = HEADER_SEARCH_ROWS * 2
    while True:
        lines = _first_lines(text, wanted)
        rows = non_blank((i, _line_cells(line)) for i, line in enumerate(lines))
        if len(rows) == HEADER_SEARCH_ROWS or len(lines) < wanted or wanted >= MAX_HEAD_LINES:
            return rows
        wanted *= 4


def read_csv(data: bytes, kind: str, filename: str, wording: Wording | None = None) -> RawTable:
    """A CSV's bytes (read once by the caller, who hashes and archives the same bytes)."""
    if len(data) > MAX_CSV_BYTES:
        raise too_large(len(data), filename, MAX_CSV_BYTES)
    text, encoding = decode_csv(data, filename)
    text = _unix_line_ends(text)
    head = _head_rows(text)
    header = find_header(head, kind, filename, wording)
    index, mapping = header.index, header.mapping
    check_header(head, index, filename)
    width = max(mapping) + 1
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            has_header=False,
            skip_rows=index + 1,
            new_columns=[f"c{i}" for i in range(width)],
            schema={f"c{i}": pl.String for i in range(width)},
            truncate_ragged_lines=True,
            quote_char='"',
            missing_utf8_is_empty_string=True,
        )
    except pl.exceptions.NoDataError:  # a header and nothing under it: a file of no rows
        frame = pl.DataFrame(schema={f"c{i}": pl.String for i in range(width)})
    except pl.exceptions.ComputeError:
        # Loading such a file as empty would replace the month's figures by nothing.
        raise _unreadable_csv(text, filename) from None
    del text
    check_rows(frame, mapping, filename, first_data_row=index + 2)
    rows = finish(frame, mapping, kind, first_data_row=index + 2)
    return raw_table(rows, kind, header, encoding, wording)


def _unreadable_csv(text: str, filename: str) -> FileRejected:
    """Why a CSV whose header was found cannot be read: almost always a quote (") opened in
    a cell and never closed, which swallows every line after it."""
    opened_at = None
    for line_number, line in enumerate(_lines(text), start=1):
        if line.count('"') % 2:
            opened_at = line_number if opened_at is None else None
    where = f"第 {opened_at} 行" if opened_at else "某一行"
    return FileRejected(
        f"文件 {filename}：无法按 CSV 格式读取，{where}的英文双引号（\"）没有成对出现，其后各行无法分列。"
        "整个文件未载入；请在 Excel 中打开检查后另存为 CSV 重新报送。",
        f"File {filename}: not readable as CSV (an unclosed quote"
        + (f" on line {opened_at}" if opened_at else "") + "); nothing was loaded.",
    )
