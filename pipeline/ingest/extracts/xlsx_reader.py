"""Reading a workbook extract (XLSX, XLS, ODS; a WPS .et as what its bytes are): the first
sheet holding every required header, every cell as text.

Before anything is decompressed a zip (XLSX, ODS) is checked against a size limit (a "zip
bomb" would exhaust memory); an XLS is not compressed, and its size is bounded directly.
Id numbers stored as numbers are read as Excel shows them (`3.70781E+17`), so that the
scientific-notation rule rejects them.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zipfile
import zlib

import polars as pl

from pipeline.ingest.extracts.limits import LIMITS, check_header, check_rows, too_large
from pipeline.ingest.extracts.table import (MAX_HEAD_LINES, FileRejected, Header, HeaderMissing, RawTable, finish,
                                            non_blank, raw_table, search_header)
from pipeline.ingest.extracts.wording import Wording

# An XLSX is a zip: refuse one whose declared uncompressed size could not be a monthly
# extract before decompressing anything (a "zip bomb" would exhaust memory).
MAX_XLSX_UNCOMPRESSED = LIMITS.max_xlsx_uncompressed


MAX_XLS_BYTES = LIMITS.max_xls_bytes
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of an .xls (and of most .et)
_FORM_ZH = {"xlsx": "Excel（.xlsx）", "xls": "Excel 97-2003（.xls）", "ods": "OpenDocument 表格（.ods）"}


def _not_a_workbook(filename: str, ext: str = "xlsx") -> FileRejected:
    if ext == "et":
        return FileRejected(
            f"文件 {filename}：WPS 表格（.et）格式的文件无法读取。请在 WPS 中打开，"
            "用“文件—另存为”保存为 Excel 工作簿（.xlsx）后重新报送。",
            f"File {filename}: a WPS .et workbook that cannot be read; save it as .xlsx.",
        )
    return FileRejected(
        f"文件 {filename}：不是有效的 {_FORM_ZH.get(ext, 'Excel')} 文件，可能已损坏、扩展名有误或设置了打开密码。"
        "请用 Excel 或 WPS 打开后另存为 Excel 工作簿（.xlsx，不设密码）再报送。",
        f"File {filename}: not a valid .{ext} file (corrupt, misnamed or password-protected).",
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
# In an ODS, a number is an attribute of its cell: `office:value="3.70781202203150E+17"`.
_ODS_LARGE_NUMBER = re.compile(rb'office:value="(?:[^"]{0,40}?[eE]|[-+]?\d{12})')
_SCAN_OVERLAP = 64


def _large_number_pattern(start: bytes) -> re.Pattern[bytes]:
    """The pattern for a worksheet whose XML begins with `start`."""
    if b"urn:oasis:names:tc:opendocument" in start[:4096]:
        return _ODS_LARGE_NUMBER
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


def _scanned(member: str) -> bool:
    """Whether a zip member holds cell values: an XLSX worksheet, an ODS's content."""
    return member.startswith("xl/worksheets/") or member == "content.xml"


def _check_zip(data: bytes, filename: str, ext: str = "xlsx") -> bool:
    """Refuse a workbook that inflates beyond MAX_XLSX_UNCOMPRESSED: first by the sizes it
    declares (a plain zip bomb costs nothing to refuse), then by inflating each member
    once, counting and keeping nothing (a crafted zip may declare less than it holds).
    Returns whether a worksheet may hold a number of 12 or more digits (the same pass)."""
    large = [False]
    try:
        with io.BytesIO(data) as handle, zipfile.ZipFile(handle) as z:
            infos = z.infolist()
            declared = sum(info.file_size for info in infos)
            if declared > MAX_XLSX_UNCOMPRESSED:
                raise _too_large(filename, declared)
            for info in infos:
                scan = large if _scanned(info.filename) else None
                if _inflated_size(handle, info, limit=info.file_size, scan=scan) > info.file_size:
                    raise FileRejected(
                        f"文件 {filename}：压缩内容的实际大小超过文件自身声明的大小（疑似恶意构造的文件），为安全起见未读取。"
                        "请用 Excel 重新保存后报送。",
                        f"File {filename}: member {info.filename!r} inflates beyond its declared size; not read.",
                    )
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error):
        raise _not_a_workbook(filename, ext) from None
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


def _numbers_as_excel_shows_them(reader, sheet: int, frame: pl.DataFrame, index: int) -> pl.DataFrame:
    """An id number typed into a numeric cell is an Excel casualty (extract-format.md §2.2): the
    cell holds a float whose last digits are gone, and read as text it would look like an
    18-digit number (`370781202203150080`) that can even pass the check digit. Such cells
    are given the text Excel shows for them (`3.70781E+17`), so that the scientific-notation
    rule rejects the row with the message that tells the clerk what happened.

    The string load cannot tell a numeric cell from a text cell of digits, so the id column
    is loaded once more, as booleans: a number (or a TRUE/FALSE) converts, text does not.
    That second load is done only for a workbook whose sheets may hold a number of 12 or
    more digits: an XLSX or ODS whose XML says so (`_check_zip`), and every XLS (its
    numbers are binary): a smaller number reads the same either way."""
    name = frame.columns[index]  # by name: fastexcel's column indices count from column A
    column = reader.load_sheet(sheet, header_row=None, skip_rows=0, use_columns=[name], dtypes={name: "boolean"})
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


def _open(data: bytes, ext: str, filename: str):
    """The fastexcel reader of a workbook's bytes, and whether it may hold large numbers."""
    import fastexcel

    if data[:4] == _ZIP:
        large_numbers = _check_zip(data, filename, ext)
    elif data[:8] == _OLE2:
        if len(data) > MAX_XLS_BYTES:  # not compressed: its size is what it holds
            raise too_large(len(data), filename, MAX_XLS_BYTES)
        large_numbers = True  # binary numbers: no cheap scan
    else:  # e.g. an HTML table or a CSV saved under a workbook's extension
        raise _not_a_workbook(filename, ext)
    try:
        return fastexcel.read_excel(data), large_numbers
    except Exception:  # fastexcel raises its own error types for what it cannot open
        raise _not_a_workbook(filename, ext) from None


def _sheet_frame(reader, sheet: int) -> tuple[pl.DataFrame, bool]:
    """One sheet, every cell as text from row 1 (`skip_rows=0`: also when the first rows are
    empty, so that row numbers are the ones the clerk sees), and whether it is visible."""
    loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
    return loaded.to_polars(), loaded.visible == "visible"


def _first_sheet_with_header(reader, kind: str, filename: str, ext: str,
                             wording: Wording | None) -> tuple[int, pl.DataFrame, list, Header]:
    """The first visible sheet holding every required header (extract-format.md §1): its
    index, text cells, first non-blank rows and header. A hidden sheet is never read."""
    closest: tuple[int, str, HeaderMissing] | None = None
    names = reader.sheet_names
    for sheet, name in enumerate(names):
        try:
            frame, visible = _sheet_frame(reader, sheet)
        except Exception as exc:  # a sheet calamine cannot read
            raise FileRejected(
                f"文件 {filename}：工作表“{name}”无法读取（{type(exc).__name__}）。"
                "请用 Excel 或 WPS 打开后另存为 Excel 工作簿（.xlsx）再报送。",
                f"File {filename}: sheet {sheet + 1} cannot be read ({type(exc).__name__}).",
            ) from None
        if not visible:
            continue
        head = non_blank(enumerate(list(r) for r in frame.head(MAX_HEAD_LINES).iter_rows()))
        found = search_header(head, kind, wording)
        if isinstance(found, Header):
            return sheet, frame, head, found
        if closest is None or (found.index >= 0 and len(found.missing) < len(closest[2].missing)):
            closest = (sheet, name, found)
    if closest is None:  # no sheet, or every sheet hidden
        raise FileRejected(
            f"文件 {filename}：没有可见的工作表（数据所在的工作表被隐藏了）。请在 Excel 或 WPS 中取消隐藏后重新报送。",
            f"File {filename}: no visible sheet; nothing was loaded.",
        )
    sheet, name, missing = closest
    where = f"各工作表中都没有完整的表头；最接近的是工作表“{name}”，其" if len(names) > 1 else ""
    raise missing.rejection(filename, where)


def read_workbook(data: bytes, kind: str, filename: str, ext: str = "xlsx",
                  wording: Wording | None = None) -> RawTable:
    """A workbook's bytes (read once by the caller, who hashes and archives the same bytes)."""
    reader, large_numbers = _open(data, ext, filename)
    sheet, frame, head, header = _first_sheet_with_header(reader, kind, filename, ext, wording)
    index, mapping = header.index, header.mapping
    check_header(head, index, filename)
    for i, col in mapping.items():
        if large_numbers and col.type == "id" and i < frame.width:
            frame = _numbers_as_excel_shows_them(reader, sheet, frame, i)
    body = frame.slice(index + 1)
    check_rows(body, mapping, filename, first_data_row=index + 2)
    rows = finish(body, mapping, kind, first_data_row=index + 2)
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
    named = f"第 {sheet + 1} 个工作表“{reader.sheet_names[sheet]}”" if sheet else None
    return raw_table(rows, kind, header, ext, wording, named)
