"""Writing one extract file as CSV or XLSX, with its title, blank and extra rows.

Both writers take the final text rows (``None`` = empty cell) in the contract's column
names, lay them out as the file's form says and return the file's bytes. The data rows
keep their order, so row *i* of the frame is data row *i + 1* of the file.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import numpy as np
import polars as pl
import xlsxwriter

from pipeline.sample.forms import (
    DATE_COLUMNS,
    EXTRA_HEADERS,
    REMARKS,
    TITLES,
    FileForm,
    month_text,
)
from pipeline.sample.xlsx_fast import insert_rows

_INTEGER = re.compile(r"^-?[0-9]+$")
HEADER_ROW = 3  # 0-based: title, subtitle, an empty row, then the header
FAST_XLSX_ROWS = 2_000  # above this many rows a sheet's cells are streamed in (xlsx_fast)
NOTES = (
    "1. 每月5日前报送上月末数据。",
    "2. 日期可填写为 2023-06-15 或 2023年6月15日。",
    "3. 身份证号请以文本格式填写。",
)


def _layout(
    frame: pl.DataFrame, form: FileForm, rng: np.random.Generator, drop: str | None
) -> tuple[list[str], pl.DataFrame]:
    """Headers and columns in file order, extra column included."""
    columns = [c for c in form.column_order() if c != drop]
    out = frame.select(columns)
    headers = [form.header(c) for c in columns]
    n = out.height
    if form.extra == "seq":
        out = out.insert_column(0, pl.Series("_seq", [str(i) for i in range(1, n + 1)], dtype=pl.String))
        headers.insert(0, EXTRA_HEADERS["seq"][form.headers == "en"])
    elif form.extra == "remark":
        pick = rng.random(n) < 0.03
        notes = np.array(REMARKS, dtype=object)[rng.integers(0, len(REMARKS), n)]
        out = out.with_columns(pl.Series("_remark", np.where(pick, notes, None).tolist(), dtype=pl.String))
        headers.append(EXTRA_HEADERS["remark"][form.headers == "en"])
    return headers, out


def _blank_positions(form: FileForm, n: int, rng: np.random.Generator) -> list[int]:
    """Data-row indices after which an empty row is written."""
    if not form.blank_rows or n < 2:
        return []
    return sorted({int(i) for i in rng.integers(0, n - 1, min(3, n - 1))})


def title_text(form: FileForm, county_name: str) -> str:
    return f"{county_name}{TITLES[form.kind]}"


def subtitle_text(form: FileForm, county_name: str) -> str:
    return f"统计月份：{month_text(form.month, 'cn')}　　填报单位：{county_name}卫生健康局"


def csv_bytes(
    frame: pl.DataFrame, form: FileForm, county_name: str, rng: np.random.Generator, drop: str | None = None
) -> bytes:
    headers, out = _layout(frame, form, rng, drop)
    blanks = _blank_positions(form, out.height, rng)
    if blanks:
        empty = pl.DataFrame({c: [None] for c in out.columns}, schema=out.schema)
        pieces, start = [], 0
        for b in blanks:
            pieces += [out.slice(start, b + 1 - start), empty]
            start = b + 1
        out = pl.concat([*pieces, out.slice(start)])
    eol = "\r\n" if form.crlf else "\n"
    body = out.rename(dict(zip(out.columns, headers))).write_csv(line_terminator=eol, quote_style="necessary")
    if form.title:
        body = title_text(form, county_name) + "," * (len(headers) - 1) + eol + "," * (len(headers) - 1) + eol + body
    encoding = form.encoding or "utf-8"
    return body.encode(encoding)


def xlsx_bytes(
    frame: pl.DataFrame,
    form: FileForm,
    county_name: str,
    rng: np.random.Generator,
    numbers: dict[tuple[int, str], float],
    created: dt.datetime,
    drop: str | None = None,
    fast: bool | None = None,
) -> bytes:
    """The workbook; ``fast`` (default: above ``FAST_XLSX_ROWS`` rows) streams the data rows
    in as in-line cells instead of writing them through xlsxwriter."""
    headers, out = _layout(frame, form, rng, drop)
    blanks = _blank_positions(form, out.height, rng)
    fast = written_fast(out.height) if fast is None else fast
    # Serial dates are 5-digit numbers; an 8-digit 20230615 in a mixed row stays text.
    limits = {c: (6 if c in DATE_COLUMNS[form.kind] else 9) for c in form.numeric_columns if c in out.columns}
    if form.extra == "seq":
        limits["_seq"] = 12

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": form.inline_strings and not fast,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    workbook.set_properties(
        {"title": title_text(form, county_name), "author": f"{county_name}卫生健康局", "created": created}
    )
    sheet = workbook.add_worksheet("Sheet1")
    bold = workbook.add_format({"bold": True})
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    sheet.merge_range(0, 0, 0, len(headers) - 1, title_text(form, county_name), title_format)
    sheet.write_string(1, 0, subtitle_text(form, county_name))
    for c, h in enumerate(headers):
        sheet.write_string(HEADER_ROW, c, h, bold)
    if not fast:
        _write_cells(sheet, out, limits, numbers, blanks)
    if form.notes_sheet:
        notes = workbook.add_worksheet("填表说明")
        for k, line in enumerate(NOTES):
            notes.write_string(k, 0, line)
    workbook.close()
    if not fast:
        return buffer.getvalue()
    forced: dict[str, np.ndarray] = {}
    for (row, column), number in numbers.items():
        out = out.with_columns(out[column].scatter(row, f"{number:.16G}"))
        forced.setdefault(column, np.zeros(out.height, dtype=bool))[row] = True
    sheet_rows = (
        HEADER_ROW
        + 2
        + np.arange(out.height)
        + np.searchsorted(np.array(blanks, dtype=np.int64), np.arange(out.height), side="left")
    )
    return insert_rows(buffer.getvalue(), out, sheet_rows, limits, forced)


def written_fast(rows: int) -> bool:
    """Whether a sheet of this many data rows is written by the fast path (in-line strings)."""
    return rows > FAST_XLSX_ROWS


def _write_cells(
    sheet, out: pl.DataFrame, limits: dict[str, int], numbers: dict[tuple[int, str], float], blanks: list[int]
) -> None:
    values: list[list] = []
    for name in out.columns:
        cells: list = out[name].to_list()
        if name in limits:
            cap = 10 ** limits[name]
            cells = [int(v) if v is not None and _INTEGER.match(v) and abs(int(v)) < cap else v for v in cells]
        values.append(cells)
    for (row, column), number in numbers.items():
        values[out.columns.index(column)][row] = number
    after_blank = set(blanks)
    r = HEADER_ROW + 1
    write_string, write_number = sheet.write_string, sheet.write_number
    for i, row in enumerate(zip(*values)):
        for c, v in enumerate(row):
            if v is None:
                continue
            if v.__class__ is str:
                write_string(r, c, v)
            else:
                write_number(r, c, v)
        r += 2 if i in after_blank else 1
