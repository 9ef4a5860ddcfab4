"""Shared fixtures: every test gets its own warehouse file under tmp_path."""

from __future__ import annotations

from pathlib import Path

import re

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
# The conformance county: a small county written to the extract format, with every expected
# value and load count (tests/conformance/README.md). Reproduced exactly by test_conformance.
CONFORMANCE = REPO / "tests" / "conformance"
TEST_KEY = b"test-key-for-pseudonyms"


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def scan_tables(con: duckdb.DuckDBPyConnection, secrets) -> list[tuple[str, str, str]]:
    """Every (table, column, secret) where a text cell of any table contains a secret.
    One query per column: the cells' tokens are matched against the secrets in Python."""
    secrets = set(secrets)
    hits = []
    columns = con.execute(
        """select table_schema, table_name, column_name from information_schema.columns
           where data_type in ('VARCHAR', 'JSON')"""
    ).fetchall()
    for schema, table, column in columns:
        values = con.execute(
            f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" where "{column}" is not null'
        ).fetchall()
        for (value,) in values:
            for secret in find_secrets(value, secrets):
                hits.append((f"{schema}.{table}", column, secret))
    return hits


_ID = re.compile(r"\d{17}[\dXx]")
_TOKEN = re.compile(r"[0-9A-Za-z.+]{6,}")
_WORD = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]*[\u4e00-\u9fff][\u4e00-\u9fff0-9A-Za-z]*")


def find_secrets(text: str, secrets: set[str]) -> set[str]:
    """The secrets (18-character id numbers; names of up to 8 characters) that occur in text."""
    found = {m for m in _ID.findall(text) if m in secrets or m.upper() in secrets}
    found |= {m for m in _TOKEN.findall(text) if m in secrets}  # malformed numbers, whole
    for run in _WORD.findall(text):
        for length in range(2, min(8, len(run)) + 1):
            for i in range(len(run) - length + 1):
                if run[i:i + length] in secrets:
                    found.add(run[i:i + length])
    return found
