"""The XLSX template of one extract kind, for the units that send the files.

Sheets, in this order (the ingest reads the first):
  1. the data sheet (`托育机构` …): a title row, the header row (frozen), and from row 3 on
     cells with data validation — drop-down lists, dates, whole numbers, 18-character id
     numbers — with Chinese input and error messages; id-number, code and month columns
     are text cells, so Excel never turns a number into 3.7E+17 or drops a leading zero;
  2. `说明`: every column's rules (from the suites) and an example row;
  3. `下拉选项` (hidden): the lists the drop-downs read (an inline list is limited to 255
     characters: a county's areas do not fit).
"""

from __future__ import annotations

import io
from datetime import datetime

from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from pipeline.analysts.export import display_width
from pipeline.ingest.extracts.limits import LIMITS
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.period import month_end, month_label
from pipeline.templates.columns import HOW_TO_FILL, TemplateColumn, other_rules
from pipeline.validate.suites import Suite, values_zh

LISTS_SHEET = "下拉选项"
NOTES_SHEET = "说明"
TITLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 0, 1, 2  # 0-based: the clerk sees rows 1, 2 and 3
# Validation reaches as far as a file may have rows (limits.toml).
LAST_DATA_ROW = FIRST_DATA_ROW + LIMITS.max_rows - 1
# Excel's limits on a validation's texts.
_TITLE_CHARS, _MESSAGE_CHARS = 32, 255
_EARLIEST = datetime(1900, 1, 1)
_LATEST = datetime(2099, 12, 31)  # a template for no month in particular


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _validation(col: TemplateColumn, index: int, list_range: str | None, month: str | None) -> dict | None:
    """The data validation of one column's data cells (xlsxwriter's options)."""
    header, kind = col.header, col.spec.type
    if list_range is not None:
        shown = values_zh(col.choices)
        how = f"请从下拉列表中选择：{shown}" if len(shown) <= 150 else "请点单元格右侧的箭头，从下拉列表中选择"
        options = {"validate": "list", "source": list_range,
                   "error_message": f"“{header}”只能从下拉列表中选择，请点单元格右侧的箭头选取。"}
    elif kind == "month":
        cell = xl_rowcol_to_cell(FIRST_DATA_ROW, index)
        how = HOW_TO_FILL["month"]
        options = {"validate": "custom", "value": f'=AND(LEN({cell})=7,MID({cell},5,1)="-")',
                   "error_message": "统计月份请写作 2024-06（四位年份、短横线、两位月份）。"}
    elif kind == "date":
        latest = datetime.combine(month_end(month), datetime.min.time()) if month else _LATEST
        how = HOW_TO_FILL["date"]
        options = {"validate": "date", "criteria": "between", "minimum": _EARLIEST, "maximum": latest,
                   "error_message": f"“{header}”须填写日期（如 2024-06-15）"
                                    + (f"，且不得晚于 {latest:%Y-%m-%d}。" if month else "。")}
    elif kind == "int":
        how = HOW_TO_FILL["int"]
        options = {"validate": "integer", "criteria": ">=", "value": 0,
                   "error_message": f"“{header}”须填写 0 或正整数。"}
    elif kind == "id" or col.spec.name == "credit_code":
        how = HOW_TO_FILL["id"] if kind == "id" else "18位统一社会信用代码"
        # an id number is an R rule (stop); the credit code a W rule (warn, may go on)
        options = {"validate": "length", "criteria": "==", "value": 18,
                   "error_type": "stop" if kind == "id" else "warning",
                   "error_message": f"“{header}”应为18位，请核对。"}
    else:
        return None
    options.update(input_title=_clip(header, _TITLE_CHARS), input_message=_clip(how, _MESSAGE_CHARS),
                   error_title=_clip(f"{header}填写有误", _TITLE_CHARS))
    options["error_message"] = _clip(options["error_message"], _MESSAGE_CHARS)
    return options


def _width(col: TemplateColumn) -> int:
    texts = [col.header, col.example, *col.choices]
    return max(10, min(40, max(display_width(t) for t in texts) + 2))


def _title(reference_name: str, kind: str, month: str | None) -> str:
    when = month_label(month) if month else "____年__月"
    return f"{reference_name}{KIND_LABEL_ZH[kind]}月报表（统计月份：{when}）"


def build_template(kind: str, columns: list[TemplateColumn], suite: Suite, county_name: str,
                   month: str | None) -> bytes:
    """The template's bytes."""
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"strings_to_formulas": False, "strings_to_numbers": False,
                                      "strings_to_urls": False, "in_memory": True})
    wb.set_properties({"title": _title(county_name, kind, month), "created": datetime(2024, 1, 1)})
    title = wb.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    header = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center", "text_wrap": True})
    optional = wb.add_format({"bold": True, "bg_color": "#EDEDED", "border": 1, "align": "center"})
    text = wb.add_format({"num_format": "@"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    whole = wb.add_format({"num_format": "0"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    bold = wb.add_format({"bold": True})

    data = wb.add_worksheet(KIND_LABEL_ZH[kind])
    notes = wb.add_worksheet(NOTES_SHEET)
    lists = wb.add_worksheet(LISTS_SHEET)

    data.merge_range(TITLE_ROW, 0, TITLE_ROW, len(columns) - 1, _title(county_name, kind, month), title)
    data.set_row(TITLE_ROW, 28)
    list_column = 0
    for index, col in enumerate(columns):
        cell_format = {"date": day, "int": whole}.get(col.spec.type, text)
        data.set_column(index, index, _width(col), cell_format)
        data.write_string(HEADER_ROW, index, col.header, header if col.spec.required else optional)
        list_range = None
        if col.choices and not (col.spec.type == "month" and len(col.choices) == 1):
            lists.write_string(0, list_column, col.header)
            for row, choice in enumerate(col.choices, start=1):
                lists.write_string(row, list_column, choice)
            letter = xl_col_to_name(list_column)
            list_range = f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(col.choices) + 1}"
            list_column += 1
        options = _validation(col, index, list_range, month)
        if col.spec.type == "month" and col.choices:  # the one month of the file
            options = {"validate": "list", "source": list(col.choices),
                       "input_title": col.header, "input_message": f"请从下拉列表中选择 {col.choices[0]}",
                       "error_title": f"{col.header}填写有误",
                       "error_message": f"本文件是 {col.choices[0]} 的报表，统计月份只能填 {col.choices[0]}。"}
        if options:
            data.data_validation(FIRST_DATA_ROW, index, LAST_DATA_ROW, index, options)
    data.freeze_panes(FIRST_DATA_ROW, 0)
    data.activate()
    lists.hide()

    _write_notes(notes, kind, columns, suite, month, bold, wrap, header)
    wb.close()
    return buffer.getvalue()


def _write_notes(ws, kind: str, columns: list[TemplateColumn], suite: Suite, month: str | None,
                 bold, wrap, header) -> None:
    label = KIND_LABEL_ZH[kind]
    name = f"{label}_{month or 'YYYY-MM'}.xlsx"
    lines = [
        f"{label}月报表填写说明",
        f"1. 文件名：{name}（YYYY-MM 改为报送的月份，如 2024-06；也可写 202406 或 2024年6月）。",
        "2. 每月报送一个文件，内容是该月月末的完整名单（不是新增部分）；更正时请重新报送整月的文件。",
        f"3. 在第一个工作表“{label}”中从第3行起每行填写一条，不要修改标题行和表头行，不要合并单元格。",
        "4. 带下拉箭头的列请从下拉列表中选择；日期列填写日期（如 2024-06-15）；身份证号等代码列已设为文本格式，请勿改为数字格式。",
        "5. 下表“R/W”一栏：R = 该行不符合时被剔除，不计入任何统计，须更正后重新报送；W = 该行保留，但请核实。",
    ]
    for row, line in enumerate(lines):
        ws.write_string(row, 0, line, bold if row == 0 else None)
    row = len(lines) + 1
    table_header = ["列名", "是否必填", "填写方法", "可选值", "规则编号", "R/W", "规则说明"]
    for c, text in enumerate(table_header):
        ws.write_string(row, c, text, header)
    row += 1
    for col in columns:
        how = HOW_TO_FILL[col.spec.type] if not col.choices or col.spec.type == "month" else "从下拉列表中选择"
        first = [col.header, "是" if col.spec.required else "否（可不填）", how, values_zh(col.choices) if col.choices else ""]
        for rule in col.rules or (None,):
            cells = first + ([rule.rule_id, rule.severity, rule.message_zh] if rule else ["", "", ""])
            for c, value in enumerate(cells):
                ws.write_string(row, c, value, wrap)
            row += 1
    extra = other_rules(suite)
    if extra:
        row += 1
        ws.write_string(row, 0, "其他规则（不针对某一列）", bold)
        row += 1
        for rule in extra:
            for c, value in ((4, rule.rule_id), (5, rule.severity), (6, rule.message_zh)):
                ws.write_string(row, c, value, wrap)
            row += 1
    row += 1
    ws.write_string(row, 0, "示例行（仅供参考，请勿复制到数据表中）", bold)
    for c, col in enumerate(columns):
        ws.write_string(row + 1, c, col.header, header)
        ws.write_string(row + 2, c, col.example)
    for c, width in enumerate((16, 12, 30, 30, 26, 6, 70)):
        ws.set_column(c, c, width)
