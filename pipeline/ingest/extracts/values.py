"""Parsing text cells into typed values (extract-format.md §1 "Value formats"), as polars
expressions over whole columns: no Python runs per row.

Each parser returns NULL for an empty cell and for a cell it cannot parse; the rules
(expectations/) tell the two apart with the `*_raw` column.
"""

from __future__ import annotations

import polars as pl

_DATE_FORMS = (
    r"^(\d{4})-(\d{1,2})-(\d{1,2})$",
    r"^(\d{4})/(\d{1,2})/(\d{1,2})$",
    r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$",
    r"^(\d{4})年(\d{1,2})月(\d{1,2})日$",
    r"^(\d{4})(\d{2})(\d{2})$",
)
_MONTH_FORMS = (
    r"^(\d{4})-(\d{2})$",
    r"^(\d{4})(\d{2})$",
    r"^(\d{4})年(\d{1,2})月$",
)
# The flag words of the contract, as the templates' drop-down lists offer them; the parser
# also takes the other forms of extract-format.md §1.
FLAG_WORDS = ("是", "否")
_TRUE = [FLAG_WORDS[0], "y", "1", "true"]
_FALSE = [FLAG_WORDS[1], "n", "0", "false"]
# Every written form of a flag (compared in lower case).
FLAG_FORMS = tuple(_TRUE + _FALSE)
# An area cell written `代码 名称`, as the templates' drop-down list of 所在镇街代码 shows it.
_CODE_AND_NAME = r"^(\d+)\s+\D.*$"


def _ymd(col: pl.Expr, pattern: str) -> pl.Expr:
    parts = [col.str.extract(pattern, i) for i in (1, 2, 3)]
    text = pl.format("{}-{}-{}", parts[0], parts[1].str.zfill(2), parts[2].str.zfill(2))
    return text.str.to_date("%Y-%m-%d", strict=False)


def excel_serial_to_date(col: pl.Expr) -> pl.Expr:
    """Excel's day numbers: 1 = 1900-01-01, with the fictitious 1900-02-29 (serial 60).
    A fraction (a time of day) is dropped; serial 60 and anything below 1 are invalid."""
    serial = col.str.extract(r"^(\d{1,6})(?:\.\d+)?$", 1).cast(pl.Int64, strict=False)
    base_after = pl.date(1899, 12, 30)  # serials from 61 on: Excel counts the phantom leap day
    base_before = pl.date(1899, 12, 31)  # serials 1–59
    return (
        pl.when(serial.is_between(1, 59))
        .then(base_before + pl.duration(days=serial))
        .when(serial >= 61)
        .then(base_after + pl.duration(days=serial))
        .otherwise(None)
        .cast(pl.Date)
    )


def parse_date(col: pl.Expr, *, excel_serials: bool) -> pl.Expr:
    forms = [_ymd(col, p) for p in _DATE_FORMS]
    if excel_serials:
        # At most 6 integer digits, so an 8-digit yyyymmdd is never read as a serial.
        forms.append(excel_serial_to_date(col))
    return pl.coalesce(forms)


def parse_month(col: pl.Expr) -> pl.Expr:
    """→ 'YYYY-MM' or NULL."""
    forms = []
    for pattern in _MONTH_FORMS:
        year = col.str.extract(pattern, 1)
        month = col.str.extract(pattern, 2).cast(pl.Int32, strict=False)
        forms.append(
            pl.when(month.is_between(1, 12)).then(pl.format("{}-{}", year, month.cast(pl.String).str.zfill(2)))
        )
    return pl.coalesce(forms)


def parse_flag(col: pl.Expr) -> pl.Expr:
    low = col.str.to_lowercase()
    return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)


def parse_int(col: pl.Expr) -> pl.Expr:
    """Digits with optional thousands separators and an optional all-zero fraction
    (`1,200`, `120.0`). A minus sign is parsed so that a negative count is recognised as
    one (and rejected as negative); `+5` and `-0` are not digits: not an integer."""
    valid = col.str.contains(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.0+)?$")
    digits = col.str.replace_all(",", "", literal=True).str.replace(r"\.0+$", "")
    value = digits.cast(pl.Int64, strict=False)
    return pl.when(valid & ~(col.str.starts_with("-") & (value == 0))).then(value).otherwise(None)


def area_code(col: pl.Expr) -> pl.Expr:
    """The code of an area cell written `代码 名称` (`370781001 王府街道`, the templates' list
    form); any other text as it is. The name is a label: the code alone is judged (INS-AREA)."""
    return pl.coalesce(col.str.extract(_CODE_AND_NAME, 1), col)
