"""From a file's text cells to the staging table's rows (docs/data-model.md).

Typed columns are parsed here, id numbers are checked and replaced by pseudonyms here
(the clear number goes no further than this function), and exact duplicate rows of the
institutions extract are marked. Judging the values is left to the suites.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from pipeline.ingest.extracts import values
from pipeline.ingest.extracts.ids import Pseudonymiser, credit_code_valid, normalise_id
from pipeline.ingest.extracts.spec import COLUMNS, PSEUDONYM_COLUMN


def _parsers(kind: str, xlsx: bool) -> dict[str, Callable[[pl.Expr], pl.Expr]]:
    """The parser of each typed column of `kind`, by column name."""
    by_type: dict[str, Callable[[pl.Expr], pl.Expr]] = {
        "month": values.parse_month,
        "date": lambda c: values.parse_date(c, excel_serials=xlsx),
        "flag": values.parse_flag,
        "int": values.parse_int,
    }
    return {col.name: by_type[col.type] for col in COLUMNS[kind] if col.type in by_type}


def _parse_typed(frame: pl.DataFrame, parsers: dict[str, Callable[[pl.Expr], pl.Expr]]) -> pl.DataFrame:
    """`x_raw` = the text of each typed column `x`, `x` = its parsed value.

    A column holds few distinct texts (a month, a few hundred dates, 是/否), so each parser
    runs once per distinct text and the result is joined back: the same expressions as
    parsing every row, at a fraction of the regex work."""
    for name, parse in parsers.items():
        raw = f"{name}_raw"
        frame = frame.rename({name: raw})
        distinct = frame.select(pl.col(raw).unique())
        mapping = distinct.with_columns(parse(pl.col(raw)).alias(name))
        frame = frame.join(mapping, on=raw, how="left", nulls_equal=True, maintain_order="left")
    return frame


def to_staging(rows: pl.DataFrame, kind: str, *, sha256: str, period_file: str, xlsx: bool,
               pseudonymiser: Pseudonymiser) -> pl.DataFrame:
    """`rows` has `source_row` and one text column per non-name contract column."""
    frame = rows.with_row_index("row_number", offset=1).with_columns(
        pl.col("row_number").cast(pl.Int32),
        pl.lit(sha256).alias("sha256"),
        pl.lit(period_file).alias("period_file"),
    )
    parsers = _parsers(kind, xlsx)
    frame = _parse_typed(frame, parsers)

    if kind == "institutions":
        # An exact copy of an earlier row: every contract column's text equal after
        # normalisation — the texts, not the parsed values, as rule INS-DUPLICATE compares
        # them (`1,200` and `1200`, or two different unreadable dates, are not copies).
        texts = [f"{c.name}_raw" if c.name in parsers else c.name for c in COLUMNS[kind] if c.type != "name"]
        frame = frame.with_columns(area_code=values.area_code(pl.col("area_code"))).with_columns(
            is_duplicate=pl.struct(texts).is_first_distinct().not_(),
            credit_code=pl.col("credit_code").str.to_uppercase(),
        ).with_columns(credit_code_valid=credit_code_valid(pl.col("credit_code")))
    else:
        person = PSEUDONYM_COLUMN[kind]
        id_col = f"{person}_id_number"
        frame = frame.with_columns(
            pl.lit(False).alias("is_duplicate"),
            normalise_id(pl.col(id_col)).alias(id_col),
        )
        # Pseudonym and id problem come from one lookup per distinct number (ids.py).
        frame = pseudonymiser.identify(frame, id_col, f"{person}_pseudonym", problem=f"{person}_id_problem")
        if kind == "enrollment":
            # Compared with the clear number here, kept only as flags (extract-format.md §2.2 W rules).
            valid = pl.col(f"{person}_id_problem").is_null()
            frame = frame.with_columns(
                pl.when(valid & pl.col("birth_date").is_not_null())
                .then(pl.col(id_col).str.slice(6, 8) == pl.col("birth_date").dt.strftime("%Y%m%d"))
                .alias("birth_date_matches_id"),
                pl.when(valid & pl.col("sex").is_in(["男", "女"]))
                .then((pl.col(id_col).str.slice(16, 1).cast(pl.Int32) % 2 == 1) == (pl.col("sex") == "男"))
                .alias("sex_matches_id"),
            )
        frame = frame.drop(id_col)
    return frame
