"""The data rows of a large XLSX sheet, built a column at a time and streamed into the zip.

xlsxwriter spends a few microseconds per cell, which is minutes for a month of a county
at scale 50. For large sheets the workbook is written by xlsxwriter without its data
rows (title, header, styles, properties, second sheet), and the rows are then put into
``xl/worksheets/sheet1.xml`` as in-line string and number cells, built with polars.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import numpy as np
import polars as pl
from xlsxwriter.utility import xl_col_to_name

SHEET = "xl/worksheets/sheet1.xml"
CHUNK_ROWS = 50_000


def _escaped(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _rows_xml(
    frame: pl.DataFrame, rows: np.ndarray, numeric: dict[str, int], forced: dict[str, np.ndarray]
) -> Iterator[bytes]:
    """``<row>`` elements of the frame's rows; ``rows`` are their 1-based sheet rows.

    ``numeric``: column → largest integer written as a number (others stay text);
    ``forced``: column → mask of cells written as numbers whatever they hold.
    """
    columns = frame.columns
    work = frame.with_columns(pl.Series("_r", rows.astype(np.int64)).cast(pl.String))
    for name, mask in forced.items():
        work = work.with_columns(pl.Series(f"_force_{name}", mask))
    cells = []
    for j, name in enumerate(columns):
        ref = [pl.lit(f'<c r="{xl_col_to_name(j)}'), pl.col("_r")]
        text = pl.concat_str([*ref, pl.lit('" t="inlineStr"><is><t>'), _escaped(pl.col(name)), pl.lit("</t></is></c>")])
        number = pl.concat_str([*ref, pl.lit('"><v>'), pl.col(name), pl.lit("</v></c>")])
        cell = text
        if name in numeric:
            is_int = pl.col(name).str.contains(r"^-?[0-9]+$") & (pl.col(name).str.len_chars() <= numeric[name])
            cell = pl.when(is_int).then(number).otherwise(text)
        if name in forced:
            cell = pl.when(pl.col(f"_force_{name}")).then(number).otherwise(cell)
        cells.append(cell.fill_null(""))
    row = pl.concat_str([pl.lit('<row r="'), pl.col("_r"), pl.lit('">'), *cells, pl.lit("</row>")]).alias("xml")
    for start in range(0, work.height, CHUNK_ROWS):
        chunk = work.slice(start, CHUNK_ROWS).select(row)["xml"]
        yield chunk.str.join("").item().encode("utf-8")


def insert_rows(
    workbook: bytes, frame: pl.DataFrame, rows: np.ndarray, numeric: dict[str, int], forced: dict[str, np.ndarray]
) -> bytes:
    """The workbook with the frame's rows added to the first sheet, after its own rows."""
    last_row = int(rows.max()) if len(rows) else 1
    last_col = xl_col_to_name(max(0, frame.width - 1))
    source = zipfile.ZipFile(io.BytesIO(workbook))
    target_buffer = io.BytesIO()
    with zipfile.ZipFile(target_buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type = zipfile.ZIP_DEFLATED
            copy.external_attr = info.external_attr
            if info.filename != SHEET:
                target.writestr(copy, data)
                continue
            head, tail = data.decode("utf-8").split("</sheetData>", 1)
            head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last_col}{last_row}"/>', head, count=1)
            with target.open(copy, "w") as sheet:
                sheet.write(head.encode("utf-8"))
                for chunk in _rows_xml(frame, rows, numeric, forced):
                    sheet.write(chunk)
                sheet.write(("</sheetData>" + tail).encode("utf-8"))
    return target_buffer.getvalue()
