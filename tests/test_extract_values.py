"""Value forms of extract-format.md §1, one parser at a time."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipeline.ingest.extracts import values
from pipeline.ingest.extracts.files import parse_month as parse_month_name
from pipeline.ingest.extracts.files import recognise


def _apply(expr_fn, cells):
    return pl.DataFrame({"x": cells}, schema={"x": pl.String}).select(expr_fn(pl.col("x"))).to_series().to_list()


@pytest.mark.parametrize("cell, expected", [
    ("2023-06-15", date(2023, 6, 15)),
    ("2023/6/15", date(2023, 6, 15)),
    ("2023/6/5", date(2023, 6, 5)),
    ("2023.6.15", date(2023, 6, 15)),
    ("2023年6月15日", date(2023, 6, 15)),
    ("20230615", date(2023, 6, 15)),
    ("2024-02-29", date(2024, 2, 29)),   # leap day exists in 2024
    ("2023-02-29", None),                # ... and not in 2023
    ("2023-13-01", None),
    ("15/06/2023", None),                # day-first is not a contract form
    ("45092", None),                     # a serial number is only a date in XLSX
    (None, None),
])
def test_dates_in_csv(cell, expected):
    assert _apply(lambda c: values.parse_date(c, excel_serials=False), [cell]) == [expected]


@pytest.mark.parametrize("serial, expected", [
    # Excel: day 1 = 1900-01-01; 59 = 1900-02-28; 60 is the fictitious 1900-02-29; 61 = 1900-03-01.
    ("1", date(1900, 1, 1)),
    ("59", date(1900, 2, 28)),
    ("60", None),
    ("61", date(1900, 3, 1)),
    # 45092: 1899-12-30 + 45092 days = 2023-06-15 (the well-known serial of that date).
    ("45092", date(2023, 6, 15)),
    ("45092.0", date(2023, 6, 15)),
    ("45092.75", date(2023, 6, 15)),     # a time of day is dropped
    ("20230615", date(2023, 6, 15)),     # 8 digits stay yyyymmdd, not a serial
    ("0", None),
])
def test_excel_serial_dates_in_xlsx(serial, expected):
    assert _apply(lambda c: values.parse_date(c, excel_serials=True), [serial]) == [expected]


@pytest.mark.parametrize("cell, expected", [
    ("2023-06", "2023-06"), ("202306", "2023-06"), ("2023年6月", "2023-06"), ("2023年12月", "2023-12"),
    ("2023-13", None), ("202300", None), ("2023-6", None), ("June 2023", None), (None, None),
])
def test_month_column(cell, expected):
    assert _apply(values.parse_month, [cell]) == [expected]


@pytest.mark.parametrize("cell, expected", [
    ("是", True), ("否", False), ("Y", True), ("y", True), ("N", False), ("n", False),
    ("1", True), ("0", False), ("true", True), ("TRUE", True), ("False", False),
    ("yes", None), ("2", None), ("", None), (None, None),
])
def test_flags(cell, expected):
    assert _apply(values.parse_flag, [cell]) == [expected]


@pytest.mark.parametrize("cell, expected", [
    ("120", 120), ("1,200", 1200), ("120.0", 120), ("120.00", 120), ("1,200.0", 1200),
    ("-5", -5),               # parsed, so that the rule can say "negative" rather than "not a number"
    ("120.5", None), ("12,00", None), ("1 200", None), ("abc", None), (None, None),
    ("+5", None), ("-0", None),  # a plus sign and a negative zero are not "digits": not an integer
])
def test_integers(cell, expected):
    assert _apply(values.parse_int, [cell]) == [expected]


@pytest.mark.parametrize("name, kind, period, ext", [
    ("institutions_2023-06.csv", "institutions", "2023-06", "csv"),
    ("在托幼儿_202306.xlsx", "enrollment", "2023-06", "xlsx"),
    ("从业人员_2023年6月.csv", "staffing", "2023-06", "csv"),
    ("托育机构_2023年12月.XLSX", "institutions", "2023-12", "xlsx"),
    ("Staffing_２０２３-０６.csv", "staffing", "2023-06", "csv"),  # full-width digits, capital stem
    ("institutions_2023-06.xls", "institutions", "2023-06", "xls"),
    ("在托幼儿_2023-06.ODS", "enrollment", "2023-06", "ods"),
    ("从业人员_202306.et", "staffing", "2023-06", "et"),
])
def test_file_names_recognised(name, kind, period, ext):
    got = recognise(name)
    assert (got.kind, got.period, got.ext) == (kind, period, ext)


@pytest.mark.parametrize("name", [
    "institutions_2023-13.csv", "institutions-2023-06.csv", "institutions_2023-06.xlsm",
    "机构_2023-06.csv", "institutions_2023-06.csv.bak", "readme.txt", "institutions_23-06.csv",
])
def test_file_names_not_recognised(name):
    assert recognise(name) is None


def test_month_forms_of_file_names_agree_with_column():
    assert parse_month_name("2023年6月") == parse_month_name("202306") == parse_month_name("2023-06") == "2023-06"
