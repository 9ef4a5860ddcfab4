"""rows_to_fix(): the findings of one institution, for the office to correct and resubmit."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

ROWS_TO_FIX_SQL = Path(__file__).with_name("rows_to_fix.sql")


def rows_to_fix(con: duckdb.DuckDBPyConnection, institution_id: str, period: str | None = None) -> pl.DataFrame:
    """Rejected and warned rows of one institution in the current files (optionally one month).

    Columns: period, kind, file_path (from the load log), row_number, source_row (the line or
    sheet row the office sees), severity, rule_id, message (Chinese), row_values (JSON text,
    id numbers as pseudonyms).
    """
    query = ROWS_TO_FIX_SQL.read_text(encoding="utf-8")
    return con.execute(query, {"institution_id": institution_id, "period": period}).pl()
