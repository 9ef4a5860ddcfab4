"""Query results for people and programs: an aligned text table for the terminal (Chinese
characters take two columns), and CSV, JSON and XLSX, every text cell neutralised against
formula injection. Used by `tuoyu sql`, `tuoyu status` and `tuoyu fix`."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import tempfile
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import polars as pl

from pipeline.analysts.destination import write_new
from pipeline.report.safe_export import neutralise_cell


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    # "..." rather than "…", whose width terminals disagree on (East Asian "ambiguous").
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 3:
            break
        out.append(ch)
        used += w
    return "".join(out) + "..."


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


def _display(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value).replace("\r", " ").replace("\n", " ").replace("\t", " ")


def format_table(df: pl.DataFrame, *, max_rows: int = 100, max_width: int = 40) -> str:
    """The result as an aligned text table (Chinese-aware), at most `max_rows` rows."""
    if df.width == 0:
        return "（无列 no columns）"
    numeric = [dtype.is_numeric() for dtype in df.dtypes]
    rows = [[_clip(_display(v), max_width) for v in row] for row in df.head(max_rows).iter_rows()]
    header = [_clip(name, max_width) for name in df.columns]
    widths = [max([display_width(header[i])] + [display_width(r[i]) for r in rows]) for i in range(df.width)]
    lines = [" | ".join(_pad(h, w, False) for h, w in zip(header, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(_pad(c, w, right) for c, w, right in zip(r, widths, numeric, strict=True)) for r in rows]
    if df.height > max_rows:
        lines.append(f"（共 {df.height} 行，只显示前 {max_rows} 行；用 --csv 或 --xlsx 导出全部。"
                     f" {df.height} rows, first {max_rows} shown.）")
    else:
        lines.append(f"（{df.height} 行 rows）")
    return "\n".join(lines)


def _text_cell(value: Any) -> Any:
    """A cell for CSV/XLSX: numbers and dates kept; everything else as text, neutralised."""
    if value is None or isinstance(value, (bool, int, float, Decimal, date)):
        return value
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    elif isinstance(value, (bytes, bytearray)):
        value = value.hex()
    return neutralise_cell(str(value))


def _spreadsheet_rows(df: pl.DataFrame) -> list[list[Any]]:
    return [[_text_cell(v) for v in row] for row in df.iter_rows()]


def _atomic_write(path: Path, write, *, text: bool, encoding: str | None = None, replace: bool = False) -> None:
    """Write `path` through a temporary file in the same folder (which must exist: no folder
    is created), then put it in place: over an existing file only when `replace`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w" if text else "wb", encoding=encoding, newline="" if text else None) as f:
            write(f)
        write_new(Path(tmp), path, replace=replace)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# For other writers of a new file (the templates, the 退回修改清单): the same safe way.
write_file = _atomic_write


def to_csv(df: pl.DataFrame, target: Path | IO[str] | None = None, *, replace: bool = False) -> None:
    """CSV, text cells neutralised. A file is for Excel: UTF-8 with a BOM (so Excel reads the
    Chinese) and CRLF line ends; a stream (standard output) is for shell tools: plain LF.
    An existing file is replaced only when `replace` (`ExportRefused` otherwise)."""
    to_file = not (target is None or hasattr(target, "write"))

    def write(f: IO[str]) -> None:
        w = csv.writer(f, lineterminator="\r\n" if to_file else "\n")
        w.writerow([neutralise_cell(c) for c in df.columns])
        for row in _spreadsheet_rows(df):
            w.writerow(["" if v is None else _csv_value(v) for v in row])

    if to_file:
        _atomic_write(Path(target), write, text=True, encoding="utf-8-sig", replace=replace)
    else:
        write(target or sys.stdout)


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def to_json(df: pl.DataFrame, target: Path | IO[str] | None = None, *, replace: bool = False) -> None:
    """A JSON array of row objects (UTF-8, dates as ISO text, NaN as null)."""
    rows = [{k: _json_value(v) for k, v in row.items()} for row in df.iter_rows(named=True)]

    def write(f: IO[str]) -> None:
        json.dump(rows, f, ensure_ascii=False, indent=1, default=str)
        f.write("\n")

    if target is None or hasattr(target, "write"):
        write(target or sys.stdout)
    else:
        _atomic_write(Path(target), write, text=True, encoding="utf-8", replace=replace)


XLSX_MAX_ROWS = 1_048_575  # a sheet's rows less the header


class TooManyRows(Exception):
    """The result does not fit in one Excel sheet."""


def to_xlsx(df: pl.DataFrame, path: Path, *, sheet: str = "查询结果", replace: bool = False) -> None:
    """One sheet: header row, numbers as numbers, dates as dates, text as text (neutralised)."""
    to_xlsx_sheets({sheet: df}, path, replace=replace)


def to_xlsx_sheets(sheets: dict[str, pl.DataFrame], path: Path, *, replace: bool = False) -> None:
    """One sheet per frame, each as `to_xlsx` writes it (sheet names at most 31 characters)."""
    import xlsxwriter

    for df in sheets.values():
        if df.height > XLSX_MAX_ROWS:
            raise TooManyRows(f"结果有 {df.height} 行，超过 Excel 上限；请用 --csv。Too many rows for Excel: use --csv.")

    def write(f: IO[bytes]) -> None:
        wb = xlsxwriter.Workbook(f, {"strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False, "remove_timezone": True})
        bold = wb.add_format({"bold": True})
        date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        datetime_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for sheet, df in sheets.items():
            ws = wb.add_worksheet(sheet)
            for col, name in enumerate(df.columns):
                ws.write_string(0, col, str(neutralise_cell(name)), bold)
            for r, row in enumerate(_spreadsheet_rows(df), start=1):
                for c, value in enumerate(row):
                    _xlsx_cell(ws, r, c, value, date_fmt, datetime_fmt)
            ws.freeze_panes(1, 0)
        wb.close()

    _atomic_write(Path(path), write, text=False, replace=replace)


def _xlsx_cell(ws, r: int, c: int, value: Any, date_fmt, datetime_fmt) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, (int, float, Decimal)):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return
        ws.write_number(r, c, number)
    elif isinstance(value, datetime):
        ws.write_datetime(r, c, value.replace(tzinfo=None), datetime_fmt)
    elif isinstance(value, date):
        ws.write_datetime(r, c, datetime(value.year, value.month, value.day), date_fmt)
    else:
        ws.write_string(r, c, str(value))


def render(df: pl.DataFrame, fmt: str = "table") -> str:
    """The result as text in one of the stdout formats: table, csv, json."""
    if fmt == "table":
        return format_table(df)
    buffer = io.StringIO()
    {"csv": to_csv, "json": to_json}[fmt](df, buffer)
    return buffer.getvalue()
