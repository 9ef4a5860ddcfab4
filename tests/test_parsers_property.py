"""Property tests over the parsers: any input either loads or is rejected with a reason.

The value parsers (pipeline/ingest/extracts/values.py, ids.py) run as polars expressions over
whole columns: for any column of text they return one value or NULL per cell and never
raise. `to_staging` (all of them, plus pseudonyms) never raises on any text table.
`read_extract` on any bytes under either extension returns a table or raises
`FileRejected`, nothing else. `recognise` on any name returns a well-formed answer or
None. Hypothesis keeps no example database (a failure is reproduced from its printed
example); its caches go to `.hypothesis/`, which git ignores by a file of its own.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.ingest.extracts import values
from pipeline.ingest.extracts.files import recognise
from pipeline.ingest.extracts.ids import Pseudonymiser, credit_code_valid, id_check_char, id_problem
from pipeline.ingest.extracts.parse import to_staging
from pipeline.ingest.extracts.read import FileRejected, RawTable, read_extract
from pipeline.ingest.extracts.spec import COLUMNS
from tests.extract_fixtures import ENROLLMENT_HEADER, INSTITUTION_HEADER, STAFFING_HEADER

pytestmark = pytest.mark.heavy(seconds=9)

# 150 examples each in CI (seconds); HYPOTHESIS_EXAMPLES=5000 for a deeper search by hand.
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "150")), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
HEADERS = {"institutions": INSTITUTION_HEADER, "enrollment": ENROLLMENT_HEADER, "staffing": STAFFING_HEADER}

# Text that looks like the cells of an extract (digits, separators, 年月日, 是否, X, signs,
# full-width forms) mixed with anything at all.
_CELL_ALPHABET = "0123456789-/.,年月日是否YNyntrueflsX+eE =@\t\"'０１２３４５６７８９Ｘ"
cell_text = st.one_of(
    st.text(alphabet=_CELL_ALPHABET, max_size=24),
    st.text(max_size=24),
    st.from_regex(r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?", fullmatch=True),
    st.from_regex(r"[+-]?\d{1,25}(,\d{3}){0,3}(\.\d{0,3})?", fullmatch=True),
)
cells = st.lists(st.one_of(st.none(), cell_text), min_size=1, max_size=40)


def _apply(expr, column: list[str | None]) -> list:
    frame = pl.DataFrame({"x": column}, schema={"x": pl.String})
    out = frame.select(expr(pl.col("x")).alias("y")).get_column("y")
    assert out.len() == len(column)
    return out.to_list()


@SETTINGS
@given(cells, st.booleans())
def test_dates_parse_or_are_null(column, excel):
    parsed = _apply(lambda c: values.parse_date(c, excel_serials=excel), column)
    for text, value in zip(column, parsed, strict=True):
        assert value is None or isinstance(value, date)
        if text is None:
            assert value is None


@SETTINGS
@given(st.dates(min_value=date(1900, 3, 1), max_value=date(2999, 12, 31)),
       st.sampled_from(["{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}.{m}.{d}", "{y}年{m}月{d}日", "{y}{m:02d}{d:02d}"]))
def test_every_contract_date_form_round_trips(day, form):
    text = form.format(y=day.year, m=day.month, d=day.day)
    assert _apply(lambda c: values.parse_date(c, excel_serials=False), [text]) == [day]


@SETTINGS
@given(cells)
def test_months_parse_or_are_null(column):
    for text, value in zip(column, _apply(values.parse_month, column), strict=True):
        assert value is None or re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value)
        if text is None:
            assert value is None


@SETTINGS
@given(cells)
def test_flags_parse_or_are_null(column):
    for text, value in zip(column, _apply(values.parse_flag, column), strict=True):
        assert value in (True, False, None)
        if value is not None:
            assert text.lower() in ("是", "否", "y", "n", "1", "0", "true", "false")


@SETTINGS
@given(cells)
def test_integers_parse_or_are_null(column):
    for text, value in zip(column, _apply(values.parse_int, column), strict=True):
        assert value is None or isinstance(value, int)
        if value is not None:
            assert int(re.sub(r"\.0+$", "", text.replace(",", ""))) == value


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.text(max_size=22), st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True)),
                min_size=1, max_size=30))
def test_id_checks_name_a_problem_or_none(column):
    problems = _apply(id_problem, column)
    assert set(problems) <= {None, "missing", "scientific", "format", "check_digit"}
    valid = _apply(credit_code_valid, column)
    assert all(v in (True, False) for v in valid)  # never NULL: a missing code is not valid


@SETTINGS
@given(st.from_regex(r"[0-9]{17}", fullmatch=True), st.integers(0, 16), st.integers(1, 9))
def test_a_valid_id_passes_and_one_changed_digit_fails(first17, position, shift):
    number = first17 + id_check_char(first17)
    changed = first17[:position] + str((int(first17[position]) + shift) % 10) + first17[position + 1:] + number[17]
    assert _apply(id_problem, [number, number.lower(), changed]) == [None, None, "check_digit"]


def _rows(kind: str, table: list[list[str | None]]) -> pl.DataFrame:
    names = [c.name for c in COLUMNS[kind] if c.type != "name"]
    data = {name: [row[i % len(row)] if row else None for row in table] for i, name in enumerate(names)}
    frame = pl.DataFrame(data, schema={n: pl.String for n in names})
    return frame.with_row_index("source_row", offset=2).with_columns(pl.col("source_row").cast(pl.Int32))


@SETTINGS
@given(st.sampled_from(list(HEADERS)), st.lists(st.lists(st.one_of(st.none(), cell_text), min_size=1, max_size=16),
                                                  min_size=1, max_size=12), st.booleans())
def test_to_staging_takes_any_text(kind, table, xlsx):
    frame = to_staging(_rows(kind, table), kind, sha256="0" * 64, period_file="2023-06", xlsx=xlsx,
                       pseudonymiser=Pseudonymiser(b"property-test-key"))
    assert frame.height == len(table)
    assert frame.get_column("row_number").to_list() == list(range(1, len(table) + 1))
    if kind != "institutions":  # no clear id number survives parsing
        assert not any(c.endswith("_id_number") for c in frame.columns)


# ------------------------------------------------------------------ whole files


def _read(tmp_path: Path, data: bytes, kind: str, ext: str) -> RawTable | None:
    path = tmp_path / f"{kind}_2023-06.{ext}"
    path.write_bytes(data)
    try:
        return read_extract(path, kind, ext, path.name)
    except FileRejected as exc:
        assert path.name in exc.zh and re.search(r"[\u4e00-\u9fff]", exc.zh), exc.zh
        return None


@SETTINGS
@given(st.binary(max_size=4096), st.sampled_from(["csv", "xlsx"]), st.sampled_from(list(HEADERS)))
def test_any_bytes_load_or_are_rejected(tmp_path, data, ext, kind):
    _read(tmp_path, data, kind, ext)


csv_cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@SETTINGS
@given(st.sampled_from(list(HEADERS)),
       st.lists(st.lists(csv_cell, max_size=20), max_size=15),
       st.sampled_from(["\n", "\r\n", "\r"]),
       st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
       st.integers(0, 3))
def test_any_csv_under_a_header_loads_or_is_rejected(tmp_path, kind, rows, newline, encoding, title_rows):
    """A real header, then rows of anything: quotes, commas, line breaks, ragged widths."""
    lines = ["青州市报表"] * title_rows + [",".join(HEADERS[kind])] + [",".join(r) for r in rows]
    try:
        data = newline.join(lines).encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    table = _read(tmp_path, data, kind, "csv")
    if table is not None:
        body = newline.join(lines[title_rows + 1:])
        # A cell with a line break in it (unquoted here) makes more rows, never more than lines.
        assert table.rows.height <= len(re.split(r"\r\n|\r|\n", body))
        assert table.header_row >= 1


plain_cell = st.text(alphabet="abcXYZ0123456789 -/.年月日是否托育机构张王李", max_size=8)


@SETTINGS
@given(st.sampled_from(list(HEADERS)), st.lists(st.lists(plain_cell, max_size=20), max_size=15),
       st.sampled_from(["\n", "\r\n"]), st.integers(0, 3))
def test_no_line_under_the_header_is_lost(tmp_path, kind, rows, newline, title_rows):
    """Every line with something in a contract column is a row, at the line it is on: a
    file is never loaded with rows missing (or as empty, which would replace a month's
    figures by nothing)."""
    lines = ["青州市报表"] * title_rows + [",".join(HEADERS[kind])] + [",".join(r) for r in rows]
    table = _read(tmp_path, newline.join(lines).encode("utf-8"), kind, "csv")
    kept = [i for i, h in enumerate(HEADERS[kind]) if h not in ("幼儿姓名", "姓名")]  # names are dropped at once
    expected = [title_rows + 2 + n for n, r in enumerate(rows) if any(r[i].strip() for i in kept if i < len(r))]
    assert table is not None
    assert table.rows.get_column("source_row").to_list() == expected


@SETTINGS
@given(st.sampled_from(list(HEADERS)),
       st.lists(st.lists(st.one_of(st.none(), csv_cell, st.integers(-10**15, 10**15),
                                   st.floats(allow_nan=True, allow_infinity=True), st.booleans()),
                         max_size=18), max_size=8))
def test_any_workbook_under_a_header_loads_or_is_rejected(tmp_path, kind, rows):
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True,
                                        "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet()
    for r, row in enumerate([HEADERS[kind], *rows]):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    book.close()
    _read(tmp_path, buffer.getvalue(), kind, "xlsx")


_XLSX_PARTS = ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
               "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/styles.xml"]
member_name = st.one_of(st.sampled_from(_XLSX_PARTS),
                        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x9fff,
                                                       blacklist_categories=("Cs",)), min_size=1, max_size=30))
member_data = st.one_of(st.binary(max_size=200),
                        st.sampled_from([b"<?xml version='1.0'?><workbook/>", b"<worksheet><sheetData><row>"
                                         b"<c t='s'><v>99</v></c></row></sheetData></worksheet>", b"<sst/>"]))


@SETTINGS
@given(st.dictionaries(member_name, member_data, max_size=7))
def test_any_zip_named_xlsx_loads_or_is_rejected(tmp_path, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    _read(tmp_path, buffer.getvalue(), "institutions", "xlsx")


# ------------------------------------------------------------------ file names


@SETTINGS
@given(st.one_of(
    st.text(max_size=60),
    st.from_regex(r"(institutions|enrollment|staffing|托育机构|在托幼儿|从业人员)_(\d{4}-\d{2}|\d{6}|\d{4}年\d{1,2}月)"
                  r"\.(csv|xlsx|CSV|XLSX)", fullmatch=True),
))
def test_recognise_any_name(name):
    result = recognise(name)
    if result is not None:
        assert result.kind in HEADERS
        assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", result.period)
        assert result.ext in ("csv", "xlsx")


@pytest.mark.parametrize("name, kind, period", [
    ("ｉｎｓｔｉｔｕｔｉｏｎｓ_2023-06.csv", "institutions", "2023-06"),  # full-width: NFKC makes it ASCII
    (" 托育机构_2023年6月.xlsx", "institutions", "2023-06"),             # a leading space is trimmed
])
def test_names_equal_after_normalisation_are_recognised(name, kind, period):
    result = recognise(name)
    assert (result.kind, result.period) == (kind, period)


@pytest.mark.parametrize("name", [
    "instituti\u043ens_2023-06.csv",   # Cyrillic о
    "institu\u200btions_2023-06.csv",  # zero-width space
    "托育机构_2023-06..csv",
    "托育机构_2023-06 .csv",
    "=cmd|' calc'!A0.csv",
])
def test_look_alike_names_are_not_recognised(name):
    assert recognise(name) is None
