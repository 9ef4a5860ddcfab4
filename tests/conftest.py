"""Shared fixtures: every test gets its own warehouse file under tmp_path."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
TEST_KEY = b"test-key-for-pseudonyms"


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def scan_tables(con: duckdb.DuckDBPyConnection, secrets) -> list[tuple[str, str, str]]:
    """Every (table, column, secret) where a text cell of any table contains a secret."""
    hits = []
    columns = con.execute(
        """select table_schema, table_name, column_name from information_schema.columns
           where data_type in ('VARCHAR', 'JSON')"""
    ).fetchall()
    for schema, table, column in columns:
        for secret in secrets:
            found = con.execute(
                f'select count(*) from "{schema}"."{table}" where contains(cast("{column}" as varchar), ?)', [secret]
            ).fetchone()[0]
            if found:
                hits.append((f"{schema}.{table}", column, secret))
    return hits
