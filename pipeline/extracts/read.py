"""Reading one extract file into a table of text cells (extract-format.md §1).

Every cell is read as text, NFKC-normalised and trimmed; empty means missing. The header
row is the first of the first ten non-blank rows holding every required header (Chinese
or its English alias); title rows above it and blank rows anywhere are ignored. A file that
cannot be read at all raises `FileRejected` with a message in Chinese and English.
"""

from __future__ import annotations

import csv
import io
import math
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.extracts.spec import COLUMNS, Column

HEADER_SEARCH_ROWS = 10
# An XLSX is a zip: refuse one whose declared uncompressed size could not be a monthly
# extract before decompressing anything (a "zip bomb" would exhaust memory).
MAX_XLSX_UNCOMPRESSED = 512 * 1024 * 1024
# A CSV is read whole into memory (about ten times its size at the peak): refuse one far
# beyond any county's monthly extract before reading it, rather than let it exhaust the
# memory of every run that meets it. A million-row enrollment file is about 90 MB.
MAX_CSV_BYTES = 256 * 1024 * 1024


class FileRejected(Exception):
    """The whole file is rejected; nothing of it is loaded, the file is kept."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} {en}")
        self.zh = zh
        self.en = en


@dataclass
class RawTable:
    """Data rows of one file: one text column per contract column found, plus `source_row`."""

    rows: pl.DataFrame
    encoding: str
    extra_headers: list[str]
    header_row: int  # 1-based row of the header in the file


def _norm(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip() if text is not None else ""


def _header_lookup(kind: str) -> dict[str, Column]:
    lookup: dict[str, Column] = {}
    for col in COLUMNS[kind]:
        lookup[_norm(col.header)] = col
        lookup[col.name.lower()] = col
    return lookup


def _match_header(cells: list[object], kind: str) -> tuple[dict[int, Column], list[str]]:
    lookup = _header_lookup(kind)
    mapping: dict[int, Column] = {}
    extras: list[str] = []
    taken: set[str] = set()
    for i, cell in enumerate(cells):
        text = _norm(cell)
        col = lookup.get(text) or lookup.get(text.lower())
        if col is not None and col.name not in taken:
            mapping[i] = col
            taken.add(col.name)
        elif text:
            extras.append(text)
    return mapping, extras


def _non_blank(rows: Iterable[tuple[int, list[object]]]) -> list[tuple[int, list[object]]]:
    """The first HEADER_SEARCH_ROWS rows that are not blank, with their 0-based row index:
    blank rows are ignored anywhere (extract-format.md §1), also when counting the ten rows."""
    found = []
    for index, cells in rows:
        if any(_norm(cell) for cell in cells):
            found.append((index, cells))
            if len(found) == HEADER_SEARCH_ROWS:
                break
    return found


def _find_header(candidates: list[tuple[int, list[object]]], kind: str,
                 filename: str) -> tuple[int, dict[int, Column], list[str]]:
    """The 0-based index of the header row among `candidates` (row index, cells)."""
    required = {c.name for c in COLUMNS[kind] if c.required}
    best: tuple[int, set[str]] = (-1, set())
    for index, cells in candidates[:HEADER_SEARCH_ROWS]:
        mapping, extras = _match_header(cells, kind)
        found = {c.name for c in mapping.values()}
        if required <= found:
            return index, mapping, extras
        if len(found & required) > len(best[1]):
            best = (index, found & required)
    missing = [c for c in COLUMNS[kind] if c.required and c.name not in best[1]]
    names_zh = "、".join(c.header for c in missing)
    names_en = ", ".join(c.name for c in missing)
    if best[0] < 0:
        raise FileRejected(
            f"文件 {filename}：前 {HEADER_SEARCH_ROWS} 个非空行中找不到表头行，请使用规定的表头（如 统计月份、机构编号）后重新报送。",
            f"File {filename}: no header row in the first {HEADER_SEARCH_ROWS} non-blank rows.",
        )
    raise FileRejected(
        f"文件 {filename}：第 {best[0] + 1} 行表头缺少必填列：{names_zh}。整个文件未载入，请补齐这些列后重新报送。",
        f"File {filename}: header row {best[0] + 1} lacks required columns: {names_en}. Nothing was loaded.",
    )


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


def _finish(frame: pl.DataFrame, mapping: dict[int, Column], kind: str, first_data_row: int) -> pl.DataFrame:
    """Keep the contract columns (text), drop names, number the rows, drop blank rows."""
    columns = frame.columns
    exprs = [
        pl.col(columns[i]).cast(pl.String).str.normalize("NFKC").str.strip_chars().alias(col.name)
        for i, col in mapping.items()
        if col.type != "name" and i < len(columns)  # names never go further than this line
    ]
    present = {e.meta.output_name() for e in exprs}
    for col in COLUMNS[kind]:
        if col.type != "name" and col.name not in present:
            exprs.append(pl.lit(None, pl.String).alias(col.name))
    out = frame.select(exprs).with_columns(
        pl.when(pl.col(c).str.len_chars() == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c in [e.meta.output_name() for e in exprs]
    )
    out = out.with_row_index("source_row", offset=first_data_row).with_columns(pl.col("source_row").cast(pl.Int32))
    value_cols = [c for c in out.columns if c != "source_row"]
    out = out.filter(~pl.all_horizontal(pl.col(value_cols).is_null()))
    ordered = ["source_row"] + [c.name for c in COLUMNS[kind] if c.type != "name"]
    return out.select(ordered)


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


# Blank lines are skipped while looking for the ten rows; this many lines at most.
MAX_HEAD_LINES = 10_000


def _head_rows(text: str) -> list[tuple[int, list[str]]]:
    """The first non-blank rows of a CSV (0-based line index, cells), for the header search.
    Line by line, as the CSV reader later skips lines to the header."""
    wanted = HEADER_SEARCH_ROWS * 2
    while True:
        lines = _first_lines(text, wanted)
        rows = _non_blank((i, _line_cells(line)) for i, line in enumerate(lines))
        if len(rows) == HEADER_SEARCH_ROWS or len(lines) < wanted or wanted >= MAX_HEAD_LINES:
            return rows
        wanted *= 4


def _check_size(path: Path, filename: str) -> None:
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise FileRejected(
            f"文件 {filename}：大小 {size // (1024 * 1024)} MB，超过单个报表文件的上限 {MAX_CSV_BYTES // (1024 * 1024)} MB，"
            "为安全起见未读取。请确认是否误放了其他文件；确需报送时请按机构或镇街拆分后重新报送。",
            f"File {filename}: {size} bytes, above the limit of {MAX_CSV_BYTES} bytes; not read.",
        )


def read_csv(path: Path, kind: str, filename: str) -> RawTable:
    _check_size(path, filename)
    text, encoding = decode_csv(path.read_bytes(), filename)
    text = _unix_line_ends(text)
    head = _head_rows(text)
    index, mapping, extras = _find_header(head, kind, filename)
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
    rows = _finish(frame, mapping, kind, first_data_row=index + 2)
    return RawTable(rows, encoding, extras, index + 1)


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


def _not_a_workbook(filename: str) -> FileRejected:
    return FileRejected(
        f"文件 {filename}：不是有效的 Excel（.xlsx）文件，可能已损坏、扩展名有误或设置了打开密码。请用 Excel 重新保存（不设密码）后报送。",
        f"File {filename}: not a valid .xlsx file (corrupt, misnamed or password-protected).",
    )


def _too_large(filename: str, size: int) -> FileRejected:
    return FileRejected(
        f"文件 {filename}：解压后大小 {size // (1024 * 1024)} MB，远超月度报表的合理大小，为安全起见未读取。请检查文件后重新报送。",
        f"File {filename}: {size} bytes uncompressed; refused before reading.",
    )


# A worksheet's cell value (`<v>…</v>`) that may be a number of 12 or more digits, the kind
# Excel shows in scientific notation: one with an exponent, or with 12 digits in a row.
# Shared-string cells hold a small index there; text in line is in `<is>`. Anything else
# matched (a formula's text result with an "e") only costs the exact check below.
# Some writers prefix the elements (`<x:worksheet>`, `<x:v>`): the prefixed pattern is
# used for those only (a pattern starting with a literal `<v>` is several times faster).
_LARGE_NUMBER = re.compile(rb"<v>[^<]{0,40}?[eE]|<v>[-+]?\d{12}")
_LARGE_NUMBER_PREFIXED = re.compile(rb"<\w+:v>(?:[^<]{0,40}?[eE]|[-+]?\d{12})")
_PREFIXED_ROOT = re.compile(rb"<\w+:worksheet[\s>]")
_SCAN_OVERLAP = 64


def _large_number_pattern(start: bytes) -> re.Pattern[bytes]:
    """The pattern for a worksheet whose XML begins with `start`."""
    return _LARGE_NUMBER_PREFIXED if _PREFIXED_ROOT.search(start[:4096]) else _LARGE_NUMBER


def may_hold_large_numbers(xml: bytes) -> bool:
    return _large_number_pattern(xml).search(xml) is not None


def _inflated_size(handle, info: zipfile.ZipInfo, limit: int, scan: list[bool] | None = None) -> int:
    """The bytes one member really inflates to, counted up to just past `limit` (nothing is
    kept): the sizes a zip declares can lie, and the workbook reader trusts the stream.
    With `scan`, the inflated bytes are also searched for large numbers (`scan[0]`)."""
    handle.seek(info.header_offset)
    local = handle.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("no local header")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    handle.seek(info.header_offset + 30 + name_length + extra_length)
    if info.compress_type == zipfile.ZIP_STORED:
        if scan is not None:
            scan[0] = scan[0] or may_hold_large_numbers(handle.read(info.compress_size))
        return info.compress_size
    pattern: re.Pattern[bytes] | None = None
    if info.compress_type != zipfile.ZIP_DEFLATED:  # Excel and WPS write deflate only
        raise zipfile.BadZipFile(f"compression method {info.compress_type}")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left, total, tail = info.compress_size, 0, b""

    def inflate(data: bytes) -> int:
        nonlocal tail, pattern
        out = inflater.decompress(data, 1 << 20)
        if scan is not None and not scan[0] and out:
            pattern = pattern or _large_number_pattern(out)  # the root element is in the first bytes
            scan[0] = pattern.search(tail + out) is not None
            tail = out[-_SCAN_OVERLAP:]
        return len(out)

    while left > 0 and not inflater.eof and total <= limit:
        chunk = handle.read(min(left, 1 << 16))
        if not chunk:
            break
        left -= len(chunk)
        total += inflate(chunk)
        while inflater.unconsumed_tail and total <= limit:
            total += inflate(inflater.unconsumed_tail)
    return total


def _check_zip(path: Path, filename: str) -> bool:
    """Refuse a workbook that inflates beyond MAX_XLSX_UNCOMPRESSED: first by the sizes it
    declares (a plain zip bomb costs nothing to refuse), then by inflating each member
    once, counting and keeping nothing (a crafted zip may declare less than it holds).
    Returns whether a worksheet may hold a number of 12 or more digits (the same pass)."""
    large = [False]
    try:
        with open(path, "rb") as handle, zipfile.ZipFile(handle) as z:
            infos = z.infolist()
            declared = sum(info.file_size for info in infos)
            if declared > MAX_XLSX_UNCOMPRESSED:
                raise _too_large(filename, declared)
            for info in infos:
                scan = large if info.filename.startswith("xl/worksheets/") else None
                if _inflated_size(handle, info, limit=info.file_size, scan=scan) > info.file_size:
                    raise FileRejected(
                        f"文件 {filename}：压缩内容的实际大小超过文件自身声明的大小（疑似恶意构造的文件），为安全起见未读取。"
                        "请用 Excel 重新保存后报送。",
                        f"File {filename}: member {info.filename!r} inflates beyond its declared size; not read.",
                    )
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error):
        raise _not_a_workbook(filename) from None
    return large[0]


# Excel's "General" format shows a number of more than 11 digits as 3.70781E+17.
EXCEL_GENERAL_DIGITS = 11


def excel_general(value: float) -> str:
    """The text Excel shows for a number in a "General" cell: `3.70781E+17` for an id number
    typed into a numeric cell (its last digits already lost), `12` or `30.5` for a small one."""
    if abs(value) < 10**EXCEL_GENERAL_DIGITS:
        return str(int(value)) if value.is_integer() else f"{value:.10g}"
    mantissa, exponent = f"{value:.5E}".split("E")
    return f"{mantissa.rstrip('0').rstrip('.')}E{exponent}"


def _numbers_as_excel_shows_them(reader, frame: pl.DataFrame, index: int) -> pl.DataFrame:
    """An id number typed into a numeric cell is an Excel casualty (extract-format.md §2.2): the
    cell holds a float whose last digits are gone, and read as text it would look like an
    18-digit number (`370781202203150080`) that can even pass the check digit. Such cells
    are given the text Excel shows for them (`3.70781E+17`), so that the scientific-notation
    rule rejects the row with the message that tells the clerk what happened.

    The string load cannot tell a numeric cell from a text cell of digits, so the id column
    is loaded once more, as booleans: a number (or a TRUE/FALSE) converts, text does not.
    That second load is done only for a workbook whose worksheet XML may hold a number of
    12 or more digits (`_check_zip`): a smaller number reads the same either way."""
    name = frame.columns[index]  # by name: fastexcel's column indices count from column A
    column = reader.load_sheet(0, header_row=None, skip_rows=0, use_columns=[name], dtypes={name: "boolean"})
    converted, _errors = column.to_arrow_with_errors()  # text cells are errors: not numbers
    numeric = pl.Series(converted.column(0)).is_not_null()
    if numeric.len() != frame.height:  # both loads start at row 1: cannot happen
        raise RuntimeError(f"id column of {numeric.len()} rows beside a sheet of {frame.height}")
    if not numeric.any():
        return frame
    cells = frame.get_column(name).clone()
    shown = [excel_general(float(text)) if _is_float(text) else text for text in cells.filter(numeric).to_list()]
    cells.scatter(numeric.arg_true(), pl.Series(shown, dtype=pl.String))
    return frame.with_columns(cells.alias(name))


def _is_float(text: str | None) -> bool:
    try:
        return math.isfinite(float(text))  # TRUE/FALSE ("true"/"false"), inf, nan: left as they are
    except (TypeError, ValueError):
        return False


def read_xlsx(path: Path, kind: str, filename: str) -> RawTable:
    import fastexcel

    large_numbers = _check_zip(path, filename)
    try:
        reader = fastexcel.read_excel(path)
        # skip_rows=0: from row 1 even when the first rows are empty, so that row numbers
        # are the ones the clerk sees in Excel.
        sheet = reader.load_sheet(0, header_row=None, skip_rows=0, dtypes="string")
        frame = sheet.to_polars()
    except Exception as exc:  # fastexcel raises its own error types for corrupt sheets
        raise FileRejected(
            f"文件 {filename}：Excel 文件无法读取（{type(exc).__name__}）。请用 Excel 重新保存后报送。",
            f"File {filename}: the workbook cannot be read ({type(exc).__name__}).",
        ) from None
    head = _non_blank(enumerate(list(r) for r in frame.head(MAX_HEAD_LINES).iter_rows()))
    index, mapping, extras = _find_header(head, kind, filename)
    for i, col in mapping.items():
        if large_numbers and col.type == "id" and i < frame.width:
            frame = _numbers_as_excel_shows_them(reader, frame, i)
    data = frame.slice(index + 1)
    rows = _finish(data, mapping, kind, first_data_row=index + 2)
    # fastexcel writes a date cell as `2023-06-15 00:00:00` (with the time of day when it has
    # one): keep the date, as for an Excel serial with a fraction (docs/decisions.md). In the
    # 统计月份 column, Excel turns a typed `2023-06` or `2023年6月` into a date cell of the
    # month's first day: that is the month.
    rows = rows.with_columns(
        pl.col("period").str.replace(r"^(\d{4}-\d{2})-01 00:00:00$", "$1")
    ).with_columns(
        pl.col(c).str.replace(r"^(\d{4}-\d{2}-\d{2}) \d{2}:\d{2}:\d{2}(\.\d+)?$", "$1")
        for c in rows.columns if c != "source_row"
    )
    return RawTable(rows, "xlsx", extras, index + 1)


def read_extract(path: Path, kind: str, ext: str, filename: str) -> RawTable:
    if ext == "csv":
        table = read_csv(path, kind, filename)
    else:
        table = read_xlsx(path, kind, filename)
    return table
