"""Reading whole files: encodings, title rows, header aliases, blank rows, whole-file rejection."""

from __future__ import annotations

import zipfile

import pytest

from pipeline.ingest.extracts.read import FileRejected, read_extract
from pipeline.ingest.extracts.xlsx_reader import excel_general, may_hold_large_numbers
from tests.extract_fixtures import (ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row,
                                    write_csv, write_xlsx)


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("gb18030", False), ("gbk", False)])
def test_csv_encodings(tmp_path, encoding, bom):
    path = write_csv(tmp_path / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row()], encoding=encoding, bom=bom)
    table = read_extract(path, "institutions", "csv", path.name)
    assert table.rows["name"].to_list() == ["JG01托育园"]  # Chinese survives the round trip
    assert table.rows["operating_status"].to_list() == ["正常运营"]
    assert table.encoding == ("utf-8" if encoding == "utf-8" else "gb18030")


def test_other_encodings_are_rejected_with_a_message(tmp_path):
    path = tmp_path / "托育机构_2023-06.csv"
    path.write_bytes(",".join(INSTITUTION_HEADER).encode("utf-16"))  # UTF-16: NUL bytes
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "csv", path.name)
    assert "编码" in err.value.zh and path.name in err.value.zh


def test_title_row_blank_rows_and_source_rows(tmp_path):
    rows = [institution_row(iid="JG01"), [""] * 16, institution_row(iid="JG02")]  # a blank row between
    path = write_csv(tmp_path / "institutions_2023-06.csv", INSTITUTION_HEADER, rows, title="青州市托育机构信息表")
    table = read_extract(path, "institutions", "csv", path.name)
    assert table.header_row == 2
    assert table.rows["institution_id"].to_list() == ["JG01", "JG02"]
    # line 1 title, line 2 header, line 3 JG01, line 4 blank, line 5 JG02
    assert table.rows["source_row"].to_list() == [3, 5]


def test_english_aliases_full_width_and_extra_columns(tmp_path):
    header = ["period", "institution_id", "name", "credit_code", "area_code", "institution_type", "affordable",
              "demonstration", "demonstration_date", "registration_date", "filing_status", "filing_date", "places",
              "cctv_full_coverage", "fire_safety_passed", "operating_status", "备注"]  # 备注: an extra column
    row = institution_row(places="１２０") + ["新开"]  # full-width digits
    path = write_csv(tmp_path / "institutions_202306.csv", header, [row])
    table = read_extract(path, "institutions", "csv", path.name)
    assert table.rows["places"].to_list() == ["120"]
    assert table.extra_headers == ["备注"]


def test_missing_required_header_rejects_the_whole_file(tmp_path):
    header = [h for h in INSTITUTION_HEADER if h not in ("核定托位数", "运营状态")]
    path = write_csv(tmp_path / "institutions_2023-06.csv", header, [institution_row()[:14]])
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "csv", path.name)
    assert "核定托位数" in err.value.zh and "运营状态" in err.value.zh and path.name in err.value.zh


def test_name_columns_may_be_absent_and_are_never_read(tmp_path):
    header = [h for h in ENROLLMENT_HEADER if h != "幼儿姓名"]
    row = child_row()
    del row[2]
    path = write_csv(tmp_path / "在托幼儿_2023-06.csv", header, [row])
    table = read_extract(path, "enrollment", "csv", path.name)
    assert "child_name" not in table.rows.columns
    with_names = write_csv(tmp_path / "在托幼儿_2023-07.csv", ENROLLMENT_HEADER, [child_row(name="王小红")])
    table = read_extract(with_names, "enrollment", "csv", with_names.name)
    assert "child_name" not in table.rows.columns
    assert "王小红" not in str(table.rows.rows())


def test_xlsx_with_title_row_and_typed_cells(tmp_path):
    row: list[object] = institution_row()
    row[9] = 45092          # 登记日期 as an Excel serial number (2023-06-15)
    row[12] = 120           # 核定托位数 as a number
    path = write_xlsx(tmp_path / "托育机构_2023年6月.xlsx", INSTITUTION_HEADER, [row], title="青州市托育机构信息表")
    table = read_extract(path, "institutions", "xlsx", path.name)
    assert table.header_row == 3
    assert table.rows["registration_date"].to_list() == ["45092"]
    assert table.rows["places"].to_list() == ["120"]
    assert table.rows["source_row"].to_list() == [4]


def test_id_numbers_in_numeric_cells_read_as_excel_shows_them(tmp_path):
    good = child_row()                         # row 2: the id as text, as it should be
    numeric = child_row()
    numeric[3] = int(numeric[3])               # row 3: the same id typed into a numeric cell
    small = child_row()
    small[3] = 12                              # row 4: a small number in the id cell
    text_digits = child_row()                  # row 5: an all-digit id as text stays as it is
    text_digits[3] = "370781202203150080"
    path = write_xlsx(tmp_path / "在托幼儿_2023-06.xlsx", ENROLLMENT_HEADER, [good, numeric, small, text_digits])
    table = read_extract(path, "enrollment", "xlsx", path.name)
    # The float keeps ~16 digits: read as text it would be 370781202203150080 (18 digits,
    # possibly with a valid check digit); Excel shows it as 3.70781E+17, which the
    # scientific-notation rule rejects with the message that says what happened.
    assert table.rows["child_id_number"].to_list() == [good[3], "3.70781E+17", "12", "370781202203150080"]
    assert table.rows["source_row"].to_list() == [2, 3, 4, 5]


def test_xlsx_rows_count_from_row_1_even_when_the_first_rows_are_empty(tmp_path):
    import xlsxwriter

    path = tmp_path / "在托幼儿_2023-06.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(2, 1, ENROLLMENT_HEADER)   # rows 1-2 and column A empty: header at B3
    row = child_row()
    sheet.write_row(3, 1, row[:3])
    sheet.write_number(3, 4, int(row[3]))      # B4..: the id (column E) in a numeric cell
    sheet.write_row(3, 5, row[4:])
    workbook.close()
    table = read_extract(path, "enrollment", "xlsx", path.name)
    assert table.header_row == 3
    assert table.rows["source_row"].to_list() == [4]
    assert table.rows["child_id_number"].to_list() == ["3.70781E+17"]


@pytest.mark.parametrize("value, shown", [(370781202203150131, "3.70781E+17"), (3.7e17, "3.7E+17"),
                                          (12, "12"), (30.5, "30.5"), (99999999999, "99999999999"),
                                          (123456789012, "1.23457E+11")])
def test_excel_general_format(value, shown):
    assert excel_general(float(value)) == shown


@pytest.mark.parametrize("xml, large", [
    (b'<c r="D2" s="1"><v>3.7078120220315E+17</v></c>', True),      # as Excel writes it
    (b'<c r="D2"><v>3.707812022031501e17</v></c>', True),            # lower case, no sign
    (b'<c r="D2"><v>370781202203150000</v></c>', True),              # all digits
    (b'<c r="D2"><v>-123456789012</v></c>', True),                   # 12 digits, signed
    (b'<c r="D2"><v>.37078120220315E18</v></c>', True),              # no leading digit
    (b'<x:worksheet xmlns:x="..."><x:sheetData><x:row><x:c r="D2"><x:v>370781202203150000</x:v></x:c>',
     True),                                                         # prefixed elements
    (b'<c r="D2" t="s"><v>17</v></c><c r="E2"><v>45092</v></c>', False),  # string index, date serial
    (b'<c r="D2"><v>99999999999</v></c>', False),                    # 11 digits: Excel shows them as they are
    (b'<c r="D2" t="inlineStr"><is><t>370781202203150131</t></is></c>', False),  # text in line
])
def test_large_number_scan(xml, large):
    assert may_hold_large_numbers(xml) is large


def _csv_bytes(lines: list[list[str]], end: str, encoding: str = "utf-8") -> bytes:
    return end.join(",".join(cells) for cells in lines).encode(encoding) + end.encode(encoding)


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n", "\r\r\n"])
def test_every_line_end_reads_every_row(tmp_path, end):
    # "\r" alone: an old Mac export, which the CSV reader would take as one single line
    path = tmp_path / "托育机构_2023-06.csv"
    path.write_bytes(_csv_bytes([INSTITUTION_HEADER, institution_row(), institution_row(iid="JG02")], end))
    table = read_extract(path, "institutions", "csv", path.name)
    assert table.rows["institution_id"].to_list() == ["JG01", "JG02"]
    assert table.rows["operating_status"].to_list() == ["正常运营", "正常运营"]  # no CR left in a cell
    assert table.rows["source_row"].to_list() == [2, 3]


def test_a_form_feed_in_the_title_row_costs_no_data_row(tmp_path):
    # str.splitlines() splits at \x0c and U+2028; the CSV reader does not
    path = tmp_path / "托育机构_2023-06.csv"
    title = ["青州市托育机构\x0c信息表\u2028（2023年6月）"]
    path.write_bytes(_csv_bytes([title, INSTITUTION_HEADER, institution_row(), institution_row(iid="JG02")], "\n"))
    table = read_extract(path, "institutions", "csv", path.name)
    assert table.header_row == 2
    assert table.rows["institution_id"].to_list() == ["JG01", "JG02"]
    assert table.rows["source_row"].to_list() == [3, 4]


def test_blank_rows_do_not_count_among_the_first_ten(tmp_path):
    # 12 blank lines (some with empty cells), a title, then the header on line 14
    path = tmp_path / "托育机构_2023-06.csv"
    blank = [[""]] * 6 + [[",,,"]] * 6
    path.write_bytes(_csv_bytes([*blank, ["青州市托育机构信息表"], INSTITUTION_HEADER, institution_row()], "\n"))
    table = read_extract(path, "institutions", "csv", path.name)
    assert table.header_row == 14 and table.rows["source_row"].to_list() == [15]

    import xlsxwriter

    book = tmp_path / "托育机构_2023-07.xlsx"
    workbook = xlsxwriter.Workbook(str(book))
    sheet = workbook.add_worksheet()
    sheet.write_row(12, 0, INSTITUTION_HEADER)  # rows 1-12 empty: header on row 13
    sheet.write_row(13, 0, institution_row(period="2023-07"))
    workbook.close()
    table = read_extract(book, "institutions", "xlsx", book.name)
    assert table.header_row == 13 and table.rows["source_row"].to_list() == [14]


def test_a_header_after_ten_non_blank_rows_is_not_found(tmp_path):
    path = tmp_path / "托育机构_2023-06.csv"
    titles = [[f"说明第{i}行"] for i in range(1, 11)]  # ten non-blank rows above the header
    path.write_bytes(_csv_bytes([*titles, INSTITUTION_HEADER, institution_row()], "\n"))
    with pytest.raises(FileRejected, match="前 10 个非空行中找不到表头行"):
        read_extract(path, "institutions", "csv", path.name)


def test_gb18030_with_its_byte_order_mark(tmp_path):
    path = tmp_path / "托育机构_2023-06.csv"
    path.write_bytes("\ufeff".encode("gb18030") + _csv_bytes([INSTITUTION_HEADER, institution_row()], "\r\n", "gb18030"))
    table = read_extract(path, "institutions", "csv", path.name)
    assert table.encoding == "gb18030"
    assert table.rows["period"].to_list() == ["2023-06"]


def test_xlsx_date_cells_with_a_time_and_month_cells_as_dates(tmp_path):
    import datetime as dt

    import xlsxwriter

    path = tmp_path / "托育机构_2023-06.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    as_date = workbook.add_format({"num_format": "yyyy-mm"})
    sheet.write_row(0, 0, INSTITUTION_HEADER)
    row = institution_row()
    sheet.write_row(1, 0, row)
    sheet.write_datetime(1, 0, dt.datetime(2023, 6, 1), as_date)          # 统计月份 typed as 2023-06: a date cell
    sheet.write_datetime(1, 9, dt.datetime(2022, 1, 10, 8, 30), as_date)  # 登记日期 with a time of day
    sheet.write_row(2, 0, institution_row(iid="JG02"))
    sheet.write_datetime(2, 0, dt.datetime(2023, 6, 15), as_date)         # a day that is not the 1st: not a month
    workbook.close()
    table = read_extract(path, "institutions", "xlsx", path.name)
    assert table.rows["period"].to_list() == ["2023-06", "2023-06-15"]
    assert table.rows["registration_date"].to_list() == ["2022-01-10", "2022-01-10"]


def test_corrupt_xlsx_is_rejected(tmp_path):
    path = tmp_path / "托育机构_2023-06.xlsx"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "xlsx", path.name)
    assert "Excel" in err.value.zh


def test_zip_bomb_refused_by_declared_size(tmp_path, monkeypatch):
    import pipeline.ingest.extracts.xlsx_reader as read_module

    path = write_xlsx(tmp_path / "托育机构_2023-06.xlsx", INSTITUTION_HEADER, [institution_row()])
    declared = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    monkeypatch.setattr(read_module, "MAX_XLSX_UNCOMPRESSED", declared - 1)  # one byte under what it declares
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "xlsx", path.name)
    assert "解压后大小" in err.value.zh


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "托育机构_2023-06.csv"
    path.write_bytes(b"")
    with pytest.raises(FileRejected):
        read_extract(path, "institutions", "csv", path.name)


def test_header_only_file_has_no_rows(tmp_path):
    path = write_csv(tmp_path / "托育机构_2023-06.csv", INSTITUTION_HEADER, [])
    assert read_extract(path, "institutions", "csv", path.name).rows.height == 0
