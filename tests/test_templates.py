"""`tuoyu template`: the blank templates, their lists from the rule source, and a template
filled through its lists and validations loading with no rejected row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipeline.analysts.destination import ExportRefused
from pipeline.commands.cli import main
from pipeline.ingest.extracts.ids import credit_check_char, id_check_char
from pipeline.ingest.extracts.spec import COLUMNS, KIND_LABEL_ZH
from pipeline.ingest.extracts.values import FLAG_WORDS, area_code, parse_flag
from pipeline.ingest.load import ingest_inbox
from pipeline.reference import default_reference_folder, load_reference, write_reference_tables
from pipeline.templates import template_filename, write_templates
from pipeline.templates.workbook import LISTS_SHEET, NOTES_SHEET
from pipeline.validate import validate
from pipeline.validate.suites import load_suites
from pipeline.warehouse.connection import connect
from pipeline.warehouse.schema import KINDS
from tests.conftest import TEST_KEY

MONTH = "2024-06"
EXCEL_EPOCH = dt.datetime(1899, 12, 30)


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("templates")
    paths = write_templates(out, default_reference_folder(), MONTH)
    return {kind: path for kind, path in zip(("institutions", "enrollment", "staffing"), paths, strict=True)}


def _validations(path: Path) -> dict[str, tuple[str, object]]:
    """Header → (validation type, its list of values or its (formula1, formula2)), read with
    openpyxl as Excel would: list ranges resolved on the hidden list sheet."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    headers = {cell.column_letter: cell.value for cell in ws[2]}
    found = {}
    for dv in ws.data_validations.dataValidation:
        first = str(dv.sqref).split(":")[0]
        assert first.endswith("3"), "validation starts on the first data row"
        header = headers[first.rstrip("0123456789")]
        if dv.type == "list":
            formula = dv.formula1
            if formula.startswith('"'):
                values = formula.strip('"').split(",")
            else:
                sheet, cells = formula.lstrip("=").split("!")
                values = [c[0].value for c in wb[sheet.strip("'")][cells.replace("$", "")]]
            found[header] = ("list", values)
        else:
            found[header] = (dv.type, (dv.formula1, dv.formula2, dv.operator))
    return found


def test_file_names_and_sheets(templates, tmp_path) -> None:
    assert [p.name for p in templates.values()] == ["托育机构_2024-06.xlsx", "在托幼儿_2024-06.xlsx",
                                                    "从业人员_2024-06.xlsx"]
    assert template_filename("staffing", None) == "从业人员_YYYY-MM.xlsx"
    for kind, path in templates.items():
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames == [KIND_LABEL_ZH[kind], NOTES_SHEET, LISTS_SHEET]
        assert wb[LISTS_SHEET].sheet_state == "hidden"
        ws = wb.worksheets[0]
        assert "青州市" in ws["A1"].value and "2024年6月" in ws["A1"].value  # the title row
        assert [c.value for c in ws[2]] == [c.header for c in COLUMNS[kind]]  # the header row
        assert ws.freeze_panes == "A3"
        assert ws.max_row == 2, "a blank template: no data row"


def test_lists_are_the_values_the_rules_accept(templates) -> None:
    suites = load_suites()
    reference = load_reference(default_reference_folder())
    for kind, path in templates.items():
        found = _validations(path)
        headers = {c.name: c.header for c in COLUMNS[kind]}
        # every fixed-value rule's list, and nothing else, as the drop-down of its column
        for column, values in suites[kind].allowed_values().items():
            assert found[headers[column]] == ("list", list(values)), column
        for col in COLUMNS[kind]:
            if col.type == "flag":
                assert found[col.header] == ("list", list(FLAG_WORDS)), col.header
        assert found["统计月份"] == ("list", [MONTH])
    # the flag words are what the flag rules accept (parsed, not NULL)
    parsed = pl.DataFrame({"f": list(FLAG_WORDS)}).select(parse_flag(pl.col("f")))
    assert parsed.to_series().to_list() == [True, False]
    # 所在镇街代码: every area of areas.csv (rule INS-AREA), shown `代码 名称`, and the ingest takes the code
    areas = _validations(templates["institutions"])["所在镇街代码"][1]
    codes = pl.DataFrame({"a": areas}).select(area_code(pl.col("a"))).to_series().to_list()
    assert sorted(codes) == sorted(reference.areas.get_column("area_code").to_list())
    names = dict(reference.areas.select("area_code", "area_name").iter_rows())
    assert areas == [f"{code} {names[code]}" for code in codes]


def test_id_and_code_columns_are_text_dates_are_dates(templates) -> None:
    wb = openpyxl.load_workbook(templates["enrollment"])
    ws = wb.worksheets[0]
    # a <col> element may span several columns of the same width and format
    formats = {ws.cell(2, i).value: d.number_format for i in range(1, ws.max_column + 1)
               for d in ws.column_dimensions.values() if d.min <= i <= d.max}
    assert formats["幼儿身份证号"] == "@" and formats["机构编号"] == "@" and formats["统计月份"] == "@"
    assert formats["出生日期"] == "yyyy-mm-dd"
    found = _validations(templates["enrollment"])
    assert found["幼儿身份证号"] == ("textLength", ("18", None, "equal"))
    assert found["出生日期"][0] == "date"


def test_notes_sheet_lists_every_column_and_rule(templates) -> None:
    suites = load_suites()
    for kind, path in templates.items():
        ws = openpyxl.load_workbook(path)[NOTES_SHEET]
        text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
        for col in COLUMNS[kind]:
            assert col.header in text
        for rule in suites[kind].rules:
            assert rule.rule_id in text and rule.message_zh in text


def _serial_to_date(text: str) -> dt.date:
    return (EXCEL_EPOCH + dt.timedelta(days=int(float(text)))).date()


def _valid_id(born: dt.date, sequence: int) -> str:
    first17 = f"370781{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


def fill(path: Path, rows: int | None = None) -> int:
    """Fill a template as a clerk who only uses its lists and validations: each list column
    goes through every value of its list (so every value is loaded once), dates and whole
    numbers within their validation, id numbers and codes of 18 characters. Returns the rows."""
    found = _validations(path)
    lists = {h: v for h, (t, v) in found.items() if t == "list"}
    rows = rows or max(3, *(len(v) for v in lists.values()))
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[2]]
    credit17 = "52370781MJ0000001"
    for r in range(rows):
        born = dt.date(2022, 3, 1) + dt.timedelta(days=r)
        made_up = {
            "机构编号": f"JG{r + 1:04d}" if "机构名称" in headers else "JG0001",
            "机构名称": f"示例托育园{r + 1}", "统一社会信用代码": credit17 + credit_check_char(credit17),
            "幼儿姓名": "张小明", "姓名": "李老师",
            "幼儿身份证号": _valid_id(born, 2 * r + 1), "身份证号": _valid_id(dt.date(1990, 1, 1), r + 1),
            "出生日期": born, "入托日期": dt.date(2023, 9, 1), "入职日期": dt.date(2023, 9, 1),
            "登记日期": dt.date(2022, 1, 10), "备案日期": dt.date(2022, 2, 1), "示范认定日期": dt.date(2023, 5, 1),
            "核定托位数": 30 + r,
        }
        for c, header in enumerate(headers, start=1):
            if header in lists:
                value = lists[header][r % len(lists[header])]
            else:
                value = made_up[header]
            check = found.get(header)
            if check and check[0] == "date":
                low, high, _ = check[1]
                assert _serial_to_date(low) <= value <= _serial_to_date(high), header
                value = dt.datetime.combine(value, dt.time())
            elif check and check[0] == "whole":
                assert value >= int(check[1][0]), header
            elif check and check[0] == "textLength":
                assert len(value) == int(check[1][0]), header
            cell = ws.cell(3 + r, c, value)
            if isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd"
    wb.save(path)
    return rows


def test_templates_filled_through_their_lists_load_with_no_rejected_row(templates, tmp_path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    expected = {}
    for kind, path in templates.items():
        copy = inbox / path.name
        copy.write_bytes(path.read_bytes())
        expected[kind] = fill(copy)
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        write_reference_tables(con, load_reference(default_reference_folder()))
        result = ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY, this_month="2024-07")
        assert len(result.loaded) == 3, result
        validate(con, {kind: [MONTH] for kind in KINDS})
        counts = {kind: (read, rejected, duplicate) for kind, read, rejected, duplicate in con.execute(
            "select kind, rows_read, rows_rejected, rows_duplicate from audit.load_log where status = 'loaded'"
        ).fetchall()}
        assert counts == {kind: (expected[kind], 0, 0) for kind in KINDS}
        # the areas were chosen as `代码 名称`: staged as their codes, every area once
        staged = sorted(r[0] for r in con.execute("select area_code from staging.institutions").fetchall())
        assert staged == sorted(load_reference(default_reference_folder()).areas.get_column("area_code").to_list())
    finally:
        con.close()


def test_a_template_without_month_has_the_placeholder_name_and_a_month_rule(tmp_path) -> None:
    paths = write_templates(tmp_path, default_reference_folder())
    assert [p.name for p in paths] == [f"{KIND_LABEL_ZH[k]}_YYYY-MM.xlsx" for k in ("institutions", "enrollment",
                                                                                   "staffing")]
    found = _validations(paths[0])
    assert found["统计月份"][0] == "custom"
    assert found["登记日期"][1][1] is not None  # a date range all the same


def test_no_template_is_overwritten_or_written_into_the_inbox(tmp_path) -> None:
    write_templates(tmp_path, default_reference_folder(), MONTH)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ExportRefused, match="已存在"):
        write_templates(tmp_path, default_reference_folder(), MONTH)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with pytest.raises(ExportRefused):
        write_templates(inbox, default_reference_folder(), MONTH, protected=[inbox])
    assert not any(inbox.iterdir())


def test_template_command(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TUOYU_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    assert main(["template", "--out", str(tmp_path), "--month", "2024-06"]) == 0
    assert "托育机构_2024-06.xlsx" in capsys.readouterr().out
    assert main(["template", "--out", str(tmp_path), "--month", "2024-6"]) == 2  # not YYYY-MM
    assert "YYYY-MM" in capsys.readouterr().err


def test_an_area_written_code_and_name_is_read_as_its_code() -> None:
    cells = ["370781001 王府街道", "370781001\u3000王府街道", "370781001", "王府街道", "370781001王府街道", None]
    # NFKC (done at read time) makes the ideographic space a space; without a space it is left as written
    frame = pl.DataFrame({"a": cells}).with_columns(pl.col("a").str.normalize("NFKC"))
    assert frame.select(area_code(pl.col("a"))).to_series().to_list() == [
        "370781001", "370781001", "370781001", "王府街道", "370781001王府街道", None]


def test_allowed_values_are_written_once_and_filled_into_query_and_message(tmp_path) -> None:
    import json
    import shutil

    from pipeline.validate.suites import SUITES_DIR, SuiteError, load_suite

    raw = json.loads((SUITES_DIR / "enrollment.json").read_text(encoding="utf-8"))
    entry = next(e for e in raw["expectations"] if e["meta"]["rule_id"] == "ENR-CLASS-TYPE")
    assert "乳儿班" not in entry["kwargs"]["unexpected_rows_query"]  # the list is in meta only
    assert entry["meta"]["allowed_values"] == ["乳儿班", "托小班", "托大班"]
    rule = load_suite("enrollment").rule("ENR-CLASS-TYPE")
    assert rule.query.endswith("not in ('乳儿班', '托小班', '托大班')")
    assert "（应为：乳儿班、托小班 或 托大班）" in rule.message_zh
    assert rule.column == "class_type" and rule.allowed_values == ("乳儿班", "托小班", "托大班")
    # a list no query takes is refused, not silently ignored
    shutil.copytree(SUITES_DIR, tmp_path, dirs_exist_ok=True)
    entry["kwargs"]["unexpected_rows_query"] = entry["kwargs"]["unexpected_rows_query"].replace(
        "{allowed_values}", "'乳儿班'")
    (tmp_path / "enrollment.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(SuiteError, match="allowed_values"):
        load_suite("enrollment", tmp_path)


def test_the_example_rows_of_the_notes_sheet_load_cleanly(templates, tmp_path) -> None:
    from pipeline.ingest.check import check_files

    files = []
    for kind, path in templates.items():
        rows = list(openpyxl.load_workbook(path)[NOTES_SHEET].iter_rows(values_only=True))
        header = [c for c in rows[-2] if c is not None]  # the example's header row, then the example
        assert header == [c.header for c in COLUMNS[kind]]
        lines = [",".join(header), ",".join("" if c is None else str(c) for c in rows[-1][:len(header)])]
        files.append(tmp_path / path.name.replace(".xlsx", ".csv"))
        files[-1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = check_files(files, default_reference_folder(), tmp_path / "no-warehouse.duckdb")
    assert [(c.status, c.rows_read, c.rows_rejected) for c in report.files] == [("loaded", 1, 0)] * 3
    assert report.exit_code == 0
