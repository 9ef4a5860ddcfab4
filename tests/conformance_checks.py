"""Comparing a warehouse with the conformance county's expected load counts and values
(tests/conformance/expected_load.csv, expected.csv), for all its months or some."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable

import duckdb

from tests.conftest import CONFORMANCE


def read_expected(name: str, months: Iterable[str] | None = None) -> list[dict[str, str]]:
    """The rows of an expected file, of `months` only when given."""
    wanted = None if months is None else set(months)
    with open(CONFORMANCE / name, encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if wanted is None or r["period"] in wanted]


def load_count_differences(con: duckdb.DuckDBPyConnection, months: Iterable[str] | None = None):
    """(got, expected): rows read, rejected and collapsed per kind × month of the loaded files."""
    got = {(k, p): (r, rej, d) for k, p, r, rej, d in con.execute(
        "select kind, period, rows_read, rows_rejected, rows_duplicate from audit.load_log where status = 'loaded'"
    ).fetchall()}
    expected = {(r["kind"], r["period"]): (int(r["rows_read"]), int(r["rows_rejected"]), int(r["rows_duplicate"]))
                for r in read_expected("expected_load.csv", months)}
    return got, expected


def value_mismatches(con: duckdb.DuckDBPyConnection, expected: list[dict[str, str]]) -> list[tuple]:
    """Every expected indicator value the warehouse does not reproduce (relative tolerance 1e-9)."""
    got = {(i, p, a): v for i, p, a, v in con.execute(
        "select indicator_id, period, area_code, value from marts.indicator_values").fetchall()}
    mismatches = []
    for row in expected:
        key = (row["indicator_id"], row["period"], row["area_code"])
        want = None if row["value"] == "" else float(row["value"])
        if key not in got:
            mismatches.append((key, want, "missing"))
            continue
        have = got[key]
        if (want is None) != (have is None) or (want is not None and not math.isclose(want, have, rel_tol=1e-9, abs_tol=1e-12)):
            mismatches.append((key, want, have))
    return mismatches
