"""The report's tables as an XLSX workbook (one sheet per table), byte-stable.

Figures are written as numbers, already rounded as in the PDF, with a number format of
the same decimals; "—" stays text. Every other text goes through
`safe_export.neutralise_cell`, so nothing from an extract can run as a formula.
The creation date is fixed by the caller (xlsxwriter then writes identical bytes).
A demo workbook says so on every sheet, under the title (row 2).
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import xlsxwriter

from pipeline.report.document import Document
from pipeline.report.formatting import STATUS_ZH
from pipeline.report.safe_export import neutralise_cell
from pipeline.report.tables import Table

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, used: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("_", name)[:31] or "表"
    candidate, n = base, 2
    while candidate in used:
        suffix = f"({n})"
        candidate, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(candidate)
    return candidate


def _write_text(ws, row: int, col: int, value: object, fmt=None) -> None:
    ws.write_string(row, col, str(neutralise_cell("" if value is None else str(value))), fmt)


def _write_table(wb, ws, table: Table, formats: dict, mark: str = "") -> None:
    _write_text(ws, 0, 0, table.title, formats["title"])
    if mark:  # the demo's: on every sheet, under the title
        _write_text(ws, 1, 0, mark, formats["mark"])
    header = table.flat_header()
    for c, h in enumerate(header):
        _write_text(ws, 2, c, h, formats["header"])
    for r, row in enumerate(table.rows, start=3):
        for c, cell in enumerate(row):
            if isinstance(cell, dict) and "num" in cell:
                if cell["num"] is None:
                    _write_text(ws, r, c, cell["text"], formats["dash"])
                else:
                    fmt = formats.setdefault(cell["fmt"], wb.add_format({"num_format": cell["fmt"]}))
                    ws.write_number(r, c, cell["num"], fmt)
            elif isinstance(cell, dict):
                _write_text(ws, r, c, cell.get("text"))
            else:
                _write_text(ws, r, c, cell)
    r = 3 + len(table.rows) + 1
    for k, note in enumerate(table.notes):
        _write_text(ws, r + k, 0, ("注：" if k == 0 else "") + note, formats["note"])
    widths = [max(len(str(h)) * 2 + 2, 10) for h in header]
    widths[0] = max(widths[0], 24)
    for c, w in enumerate(widths):
        ws.set_column(c, c, min(w, 40))
    ws.freeze_panes(3, 1)


COUNTY_SHEETS = ("scorecard", "others", "verdicts", "areas", "mix", "series", "files", "rejected",
                 "revisions", "flags_sheet", "definitions", "measures")


def build_workbook(doc: Document, created: datetime, order: tuple[str, ...] = COUNTY_SHEETS) -> bytes:
    """`order`: the keys of `doc.tables` to write, one sheet per table, after the 说明 sheet."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    wb.set_properties({"title": doc.meta["title"], "author": doc.meta["compiler"],
                       "company": doc.meta["compiler"], "created": created})
    formats = {
        "title": wb.add_format({"bold": True, "font_size": 12}),
        "header": wb.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "vcenter"}),
        "note": wb.add_format({"font_color": "#5d6975", "font_size": 9}),
        "dash": wb.add_format({"align": "right"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "mark": wb.add_format({"bold": True, "font_color": "#c0392b"}),
    }
    mark = doc.meta.get("demo_mark", "")
    used: set[str] = set()
    ws = wb.add_worksheet(_sheet_name("说明", used))
    _write_text(ws, 0, 0, doc.meta["title"], formats["title"])
    if mark:
        _write_text(ws, 1, 0, mark, formats["mark"])
    lines = [f"数据截至：{doc.meta['as_of']}", f"编制单位：{doc.meta['compiler']}"]
    if doc.meta.get("generated_on"):
        lines.append(f"编制日期：{doc.meta['generated_on']}")
    lines += ["", "内容摘要："] + doc.summary.sentences + [
        "", "状态：" + "、".join(STATUS_ZH.values()),
        "各表数值已按指标手册修约；“—”表示无数据，不表示0。"]
    for k, line in enumerate(lines, start=2):
        _write_text(ws, k, 0, line, formats["wrap"])
    ws.set_column(0, 0, 110)

    for key in order:
        value = doc.tables[key]
        for table in value if isinstance(value, list) else [value]:
            ws = wb.add_worksheet(_sheet_name(table.key, used))
            _write_table(wb, ws, table, formats, mark)
    wb.close()
    return buffer.getvalue()
