"""From text cells to staging rows: which institution rows are exact copies (extract-format.md §2.1).

An exact copy is a row whose every contract column has the same text (after NFKC and
trimming) as an earlier row: the ingest collapses it (`is_duplicate`, counted as
`rows_duplicate`) and rule INS-DUPLICATE warns on the kept copy. Both must judge by the
same texts, or a row is collapsed without the warning.
"""

from __future__ import annotations

import polars as pl

from pipeline.ingest.extracts.ids import Pseudonymiser
from pipeline.ingest.extracts.parse import to_staging
from pipeline.ingest.extracts.spec import COLUMNS

NAMES = [c.name for c in COLUMNS["institutions"] if c.type != "name"]
BASE = {
    "period": "2023-06", "institution_id": "JG01", "name": "JG01托育园", "credit_code": "91350100M000100Y43",
    "area_code": "370781001", "institution_type": "社会办托育机构", "affordable": "是", "demonstration": "否",
    "demonstration_date": None, "registration_date": "2022-01-10", "filing_status": "已备案",
    "filing_date": "2022-02-01", "places": "30", "cctv_full_coverage": "是", "fire_safety_passed": "是",
    "operating_status": "正常运营",
}


def _stage(*changes: dict[str, str | None]) -> list[bool]:
    rows = [{**BASE, **change} for change in changes]
    frame = pl.DataFrame(rows, schema={n: pl.String for n in NAMES})
    frame = frame.with_row_index("source_row", offset=2).with_columns(pl.col("source_row").cast(pl.Int32))
    staged = to_staging(frame, "institutions", sha256="0" * 64, period_file="2023-06", xlsx=False,
                        pseudonymiser=Pseudonymiser(b"k"))
    return staged.sort("row_number").get_column("is_duplicate").to_list()


def test_an_identical_row_is_a_copy():
    # rows 1 and 3 identical; row 2 another institution
    assert _stage({}, {"institution_id": "JG02"}, {}) == [False, False, True]


def test_the_same_value_written_differently_is_not_a_copy():
    # row 2 writes an equal value in another form: "30.0" for 30, "Y" for 是, 2022/1/10 for 2022-01-10
    assert _stage({}, {"places": "30.0"}) == [False, False]
    assert _stage({}, {"affordable": "Y"}) == [False, False]
    assert _stage({}, {"registration_date": "2022/1/10"}) == [False, False]


def test_two_different_unreadable_cells_are_not_a_copy():
    # both dates unparseable (NULL once parsed) but different as delivered
    assert _stage({"filing_date": "去年"}, {"filing_date": "前年"}) == [False, False]
    # the same unreadable text twice is a copy
    assert _stage({"filing_date": "去年"}, {"filing_date": "去年"}) == [False, True]


def test_credit_codes_differing_in_case_are_not_a_copy():
    # upper-cased for validation only after the comparison
    assert _stage({}, {"credit_code": "91350100m000100y43"}) == [False, False]
