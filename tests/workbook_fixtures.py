"""Real .xls, .ods and several-sheet .xlsx workbooks for the reading tests, written by the
writers the offices' own software stands for: xlwt (the Excel 97–2003 BIFF8 format that
Excel and WPS save as .xls), odfpy (OpenDocument, as LibreOffice saves), xlsxwriter.

A sheet is (name, rows); a cell is text (written as a text cell), an int or float (a number
cell), a date (a date cell), or None (left empty). `hidden` names sheets to hide.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

Sheet = tuple[str, list[list[object]]]


def write_xls(path: Path, sheets: list[Sheet], hidden: tuple[str, ...] = ()) -> Path:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for name, rows in sheets:
        sheet = book.add_sheet(name)
        if name in hidden:
            sheet.visibility = 1
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    sheet.write(r, c, value, date_style)
                else:
                    sheet.write(r, c, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(str(path))
    return path


def write_ods(path: Path, sheets: list[Sheet]) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for name, rows in sheets:
        table = Table(name=name)
        for row in rows:
            tr = TableRow()
            for value in row:
                if value is None:
                    cell = TableCell()
                elif isinstance(value, str):
                    cell = TableCell(valuetype="string")
                    cell.addElement(P(text=value))
                elif isinstance(value, dt.date):
                    day = value.date() if isinstance(value, dt.datetime) else value
                    cell = TableCell(valuetype="date", datevalue=day.isoformat())
                    cell.addElement(P(text=day.isoformat()))
                else:
                    cell = TableCell(valuetype="float", value=repr(float(value)) if isinstance(value, float) else value)
                    cell.addElement(P(text=str(value)))
                tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def write_xlsx_sheets(path: Path, sheets: list[Sheet], hidden: tuple[str, ...] = ()) -> Path:
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets:
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif isinstance(value, dt.date):
                    sheet.write_datetime(r, c, value if isinstance(value, dt.datetime)
                                         else dt.datetime.combine(value, dt.time()), date_format)
                else:
                    sheet.write_number(r, c, value)
    shown = [sheet for sheet in book.worksheets() if sheet.name not in hidden]
    shown[0].activate()  # the sheet open on opening: never a hidden one
    for sheet in book.worksheets():
        if sheet.name in hidden:
            sheet.hide()
    book.close()
    return path


WRITERS = {"xls": write_xls, "ods": write_ods, "xlsx": write_xlsx_sheets}

INSTRUCTIONS: Sheet = ("填表说明", [["填表说明"], ["请在“数据”工作表中逐行填写，每个机构一行。"]])
