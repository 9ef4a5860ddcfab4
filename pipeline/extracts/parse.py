"""From a file's text cells to the staging table's rows (docs/data-model.md).

Typed columns are parsed here, id numbers are checked and replaced by pseudonyms here
(the clear number goes no further than this function), and exact duplicate rows of the
institutions extract are marked. Judging the values is left to the suites.
"""

from __future__ import annotations

import polars as pl

from pipeline.extracts import values
from pipeline.extracts.ids import Pseudonymiser, credit_code_valid, id_problem, normalise_id
from pipeline.extracts.spec import COLUMNS, PSEUDONYM_COLUMN


def to_staging(rows: pl.DataFrame, kind: str, *, sha256: str, period_file: str, xlsx: bool,
               pseudonymiser: Pseudonymiser) -> pl.DataFrame:
    """`rows` has `source_row` and one text column per non-name contract column."""
    frame = rows.with_row_index("row_number", offset=1).with_columns(
        pl.col("row_number").cast(pl.Int32),
        pl.lit(sha256).alias("sha256"),
        pl.lit(period_file).alias("period_file"),
    )
    exprs: list[pl.Expr] = []
    for col in COLUMNS[kind]:
        c = pl.col(col.name)
        if col.type == "month":
            exprs += [c.alias(f"{col.name}_raw"), values.parse_month(c).alias(col.name)]
        elif col.type == "date":
            exprs += [c.alias(f"{col.name}_raw"), values.parse_date(c, excel_serials=xlsx).alias(col.name)]
        elif col.type == "flag":
            exprs += [c.alias(f"{col.name}_raw"), values.parse_flag(c).alias(col.name)]
        elif col.type == "int":
            exprs += [c.alias(f"{col.name}_raw"), values.parse_int(c).alias(col.name)]
    frame = frame.with_columns(exprs)

    if kind == "institutions":
        contract_cols = [c.name for c in COLUMNS[kind]]
        # An exact copy (every contract column equal after normalisation) of an earlier row.
        frame = frame.with_columns(
            is_duplicate=pl.struct(contract_cols).is_first_distinct().not_(),
            credit_code=pl.col("credit_code").str.to_uppercase(),
        ).with_columns(credit_code_valid=credit_code_valid(pl.col("credit_code")))
    else:
        person = PSEUDONYM_COLUMN[kind]
        id_col = f"{person}_id_number"
        frame = frame.with_columns(
            pl.lit(False).alias("is_duplicate"),
            normalise_id(pl.col(id_col)).alias(id_col),
        ).with_columns(id_problem(pl.col(id_col)).alias(f"{person}_id_problem"))
        if kind == "enrollment":
            # Compared with the clear number here, kept only as flags (EXTRACTS.md §2.2 W rules).
            valid = pl.col(f"{person}_id_problem").is_null()
            frame = frame.with_columns(
                pl.when(valid & pl.col("birth_date").is_not_null())
                .then(pl.col(id_col).str.slice(6, 8) == pl.col("birth_date").dt.strftime("%Y%m%d"))
                .alias("birth_date_matches_id"),
                pl.when(valid & pl.col("sex").is_in(["男", "女"]))
                .then((pl.col(id_col).str.slice(16, 1).cast(pl.Int32) % 2 == 1) == (pl.col("sex") == "男"))
                .alias("sex_matches_id"),
            )
        frame = pseudonymiser.column(frame, id_col, f"{person}_pseudonym")
    return frame
