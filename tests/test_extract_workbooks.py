"""Workbooks other than a one-sheet .xlsx: .xls (Excel 97–2003, what WPS saves), .ods, WPS's
.et, and data behind an instructions sheet — read like an .xlsx (extract-format.md §1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import duckdb
import pytest

from pipeline.ingest.extracts import read as read_module
from pipeline.ingest.extracts import xlsx_reader
from pipeline.ingest.extracts.read import FileRejected, read_extract
from pipeline.ingest.load import ingest_inbox
from tests.conftest import TEST_KEY
from tests.extract_fixtures import ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row, make_id
from tests.workbook_fixtures import INSTRUCTIONS, WRITERS, write_ods, write_xls, write_xlsx_sheets

FORMS = ("xls", "ods")


def _typed_institution() -> list[object]:
    row: list[object] = institution_row(iid="JG07")
    row[9] = dt.date(2023, 6, 15)  # 登记日期 as a date cell
    row[11] = 45092                # 备案日期 as a bare serial number (2023-06-15)
    row[12] = 120                  # 核定托位数 as a number
    return row


@pytest.mark.parametrize("ext", FORMS)
def test_xls_and_ods_read_like_xlsx(tmp_path, ext):
    rows = [["样例县托育机构信息表"], [], INSTITUTION_HEADER, _typed_institution(), [], institution_row(iid="JG08")]
    path = WRITERS[ext](tmp_path / f"托育机构_2023-06.{ext}", [("数据", rows)])
    table = read_extract(path, "institutions", ext, path.name)
    assert table.header_row == 3 and table.sheet is None and table.encoding == ext
    assert table.rows["institution_id"].to_list() == ["JG07", "JG08"]
    assert table.rows["source_row"].to_list() == [4, 6]  # the rows the clerk sees
    assert table.rows["registration_date"].to_list() == ["2023-06-15", "2022-01-10"]
    assert table.rows["filing_date"].to_list()[0] == "45092"  # a serial: parsed as one (values.py)
    assert table.rows["places"].to_list() == ["120", "30"]
    assert table.rows["name"].to_list() == ["JG07托育园", "JG08托育园"]


@pytest.mark.parametrize("ext", FORMS)
def test_id_stored_as_a_number_reads_as_excel_shows_it(tmp_path, ext):
    number = make_id(birth="20220315", seq="008")
    typed = child_row(number=number)
    typed[3] = float(number)  # typed into a numeric cell: its last digits already lost
    rows = [ENROLLMENT_HEADER, typed, child_row(number=number)]
    path = WRITERS[ext](tmp_path / f"在托幼儿_2023-06.{ext}", [("Sheet1", rows)])
    table = read_extract(path, "enrollment", ext, path.name)
    assert table.rows["child_id_number"].to_list() == ["3.70781E+17", number]


@pytest.mark.parametrize("ext", ("xls", "ods", "xlsx"))
def test_the_first_sheet_holding_every_header_is_read(tmp_path, ext):
    data = ("数据", [INSTITUTION_HEADER, institution_row(iid="JG09")])
    path = WRITERS[ext](tmp_path / f"托育机构_2023-06.{ext}", [INSTRUCTIONS, data])
    table = read_extract(path, "institutions", ext, path.name)
    assert table.rows["institution_id"].to_list() == ["JG09"]
    assert table.sheet == "第 2 个工作表“数据”"


@pytest.mark.parametrize("writer", (write_xls, write_xlsx_sheets))
def test_a_hidden_sheet_is_never_read(tmp_path, writer):
    old = ("旧数据", [INSTITUTION_HEADER, institution_row(iid="OLD1")])
    new = ("数据", [INSTITUTION_HEADER, institution_row(iid="JG10")])
    ext = "xls" if writer is write_xls else "xlsx"
    path = writer(tmp_path / f"托育机构_2023-06.{ext}", [old, new], hidden=("旧数据",))
    table = read_extract(path, "institutions", ext, path.name)
    assert table.rows["institution_id"].to_list() == ["JG10"]


@pytest.mark.parametrize("ext", FORMS)
def test_no_sheet_with_every_header_names_the_closest_sheet(tmp_path, ext):
    header = [h for h in INSTITUTION_HEADER if h != "运营状态"]
    data = ("数据", [header, institution_row()[:-1]])
    path = WRITERS[ext](tmp_path / f"托育机构_2023-06.{ext}", [INSTRUCTIONS, data])
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", ext, path.name)
    assert "工作表“数据”" in err.value.zh and "运营状态" in err.value.zh and path.name in err.value.zh


def test_an_et_file_is_read_as_what_its_bytes_are(tmp_path):
    xls = write_xls(tmp_path / "book.xls", [("数据", [INSTITUTION_HEADER, institution_row(iid="JG11")])])
    et = tmp_path / "托育机构_2023-06.et"
    et.write_bytes(xls.read_bytes())
    assert read_extract(et, "institutions", "et", et.name).rows["institution_id"].to_list() == ["JG11"]


def test_an_unreadable_et_file_says_to_save_as_xlsx(tmp_path):
    et = tmp_path / "托育机构_2023-06.et"
    et.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2048)  # a compound file calamine cannot open
    with pytest.raises(FileRejected) as err:
        read_extract(et, "institutions", "et", et.name)
    assert "WPS" in err.value.zh and ".xlsx" in err.value.zh and et.name in err.value.zh


@pytest.mark.parametrize("ext", ("xls", "ods"))
def test_not_a_workbook_under_a_workbook_extension(tmp_path, ext):
    path = tmp_path / f"托育机构_2023-06.{ext}"
    path.write_bytes("<html><table><tr><td>统计月份</td></tr></table></html>".encode())  # a web page saved as .xls
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", ext, path.name)
    assert "另存为" in err.value.zh and path.name in err.value.zh


def test_an_xls_above_its_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = write_xls(tmp_path / "托育机构_2023-06.xls", [("数据", [INSTITUTION_HEADER, institution_row()])])
    size = path.stat().st_size
    monkeypatch.setattr(read_module, "LIMITS", replace(read_module.LIMITS, max_xls_bytes=size - 1))
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "xls", path.name)
    assert "超过单个报表文件的上限" in err.value.zh
    monkeypatch.setattr(xlsx_reader, "MAX_XLS_BYTES", size - 1)  # bytes handed over directly, as by withdraw
    with pytest.raises(FileRejected):
        read_extract(path.read_bytes(), "institutions", "xls", path.name)


def test_an_ods_is_checked_as_a_zip(tmp_path, monkeypatch):
    path = write_ods(tmp_path / "托育机构_2023-06.ods", [("数据", [INSTITUTION_HEADER, institution_row()])])
    monkeypatch.setattr(xlsx_reader, "MAX_XLSX_UNCOMPRESSED", 100)
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "ods", path.name)
    assert "解压后大小" in err.value.zh


def test_ingest_loads_xls_and_ods_and_says_which_sheet(tmp_path):
    inbox = tmp_path / "inbox"
    write_xls(inbox / "托育机构_2023-06.xls", [INSTRUCTIONS, ("数据", [INSTITUTION_HEADER, _typed_institution()])])
    write_ods(inbox / "在托幼儿_2023-06.ods", [("Sheet1", [ENROLLMENT_HEADER, child_row(iid="JG07")])])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    result = ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY, this_month="2024-01")
    assert sorted(result.loaded) == ["在托幼儿_2023-06.ods", "托育机构_2023-06.xls"]
    log = dict(con.execute("select file_path, message from audit.load_log").fetchall())
    assert "数据取自第 2 个工作表“数据”" in log["托育机构_2023-06.xls"]
    assert "工作表" not in log["在托幼儿_2023-06.ods"]
    dates = con.execute("select registration_date, filing_date, places from staging.institutions").fetchall()
    assert dates == [(dt.date(2023, 6, 15), dt.date(2023, 6, 15), 120)]
    assert sorted(p.suffix for p in (tmp_path / "raw-archive").iterdir()) == [".ods", ".xls"]


def test_a_workbook_whose_only_sheet_is_hidden_says_so(tmp_path):
    data = ("数据", [INSTITUTION_HEADER, institution_row()])
    path = write_xls(tmp_path / "托育机构_2023-06.xls", [data, ("其他", [["x"]])], hidden=("数据", "其他"))
    with pytest.raises(FileRejected) as err:
        read_extract(path, "institutions", "xls", path.name)
    assert "取消隐藏" in err.value.zh
