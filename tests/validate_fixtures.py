"""Tiny staging fixtures for the validation tests: a fresh warehouse and clean rows to spoil.

A clean row of each kind passes every rule of its suite for month 2023-06 (month end
2023-06-30); a test plants one defect by overriding columns and says which in a comment.
Rows are inserted straight into staging.*, with the load-log row the ingest would write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import duckdb

from pipeline.warehouse.schema import create_tables

PERIOD = "2023-06"

# The county (no parent) and two of its 镇街.
AREAS = [
    ("379902", "样例县", "县", None, None),
    ("379902001", "新华街道", "街道", "城镇", "379902"),
    ("379902101", "东坝镇", "镇", "乡村", "379902"),
]


def pseudonym(label: str) -> str:
    """A stand-in for the ingest's HMAC pseudonym: 64 hex characters."""
    return hashlib.sha256(f"test-pseudonym:{label}".encode()).hexdigest()


def new_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path / "warehouse.duckdb"))
    create_tables(con)
    con.execute(
        "create table reference.areas (area_code varchar, area_name varchar, area_type varchar, "
        "urban_rural varchar, parent_code varchar)"
    )
    con.executemany("insert into reference.areas values (?, ?, ?, ?, ?)", AREAS)
    return con


def clean_institution(**overrides: Any) -> dict[str, Any]:
    row = dict(
        period_raw=PERIOD, period=PERIOD, institution_id="JG0001", name="新华街道第1托育园",
        credit_code="52379902A4C12H3B11", credit_code_valid=True, area_code="379902001",
        institution_type="社会办托育机构",
        affordable_raw="是", affordable=True,
        demonstration_raw="否", demonstration=False,
        demonstration_date_raw=None, demonstration_date=None,
        registration_date_raw="2022-08-11", registration_date=dt.date(2022, 8, 11),
        filing_status="已备案", filing_date_raw="2023-01-10", filing_date=dt.date(2023, 1, 10),
        places_raw="120", places=120,
        cctv_full_coverage_raw="是", cctv_full_coverage=True,
        fire_safety_passed_raw="是", fire_safety_passed=True,
        operating_status="正常运营",
    )
    row.update(overrides)
    return row


def clean_enrollment(**overrides: Any) -> dict[str, Any]:
    row = dict(
        period_raw=PERIOD, period=PERIOD, institution_id="JG0001",
        child_pseudonym=pseudonym("child-clean"), child_id_problem=None,
        birth_date_raw="2021-09-15", birth_date=dt.date(2021, 9, 15), birth_date_matches_id=True,
        sex="女", sex_matches_id=True, class_type="托小班", care_mode="全日托",
        enrollment_date_raw="2022-09-01", enrollment_date=dt.date(2022, 9, 1),
    )
    row.update(overrides)
    return row


def clean_staffing(**overrides: Any) -> dict[str, Any]:
    row = dict(
        period_raw=PERIOD, period=PERIOD, institution_id="JG0001",
        staff_pseudonym=pseudonym("staff-clean"), staff_id_problem=None,
        role="保育人员", certificate="保育师",
        pre_service_training_raw="是", pre_service_training=True,
        criminal_record_check_raw="是", criminal_record_check=True,
        hire_date_raw="2022-03-01", hire_date=dt.date(2022, 3, 1),
    )
    row.update(overrides)
    return row


CLEAN = {"institutions": clean_institution, "enrollment": clean_enrollment, "staffing": clean_staffing}


def file_sha(kind: str, period: str, version: int = 1) -> str:
    return hashlib.sha256(f"{kind}:{period}:v{version}".encode()).hexdigest()


def stage(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    rows: list[dict[str, Any]],
    period: str = PERIOD,
    version: int = 1,
) -> str:
    """Stage one file version's rows (row_number in list order) and its `loaded` load-log row.

    A row may carry `is_duplicate=True` (a collapsed exact copy). Returns the file's sha256.
    """
    sha = file_sha(kind, period, version)
    for number, row in enumerate(rows, start=1):
        values = {"sha256": sha, "period_file": period, "row_number": number, "source_row": number + 1,
                  "is_duplicate": False, **row}
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        con.execute(f"insert into staging.{kind} ({columns}) values ({marks})", list(values.values()))
    duplicates = sum(1 for row in rows if row.get("is_duplicate"))
    con.execute(
        "insert into audit.load_log (file_path, kind, period, sha256, rows_read, rows_duplicate, status, loaded_at) "
        "values (?, ?, ?, ?, ?, ?, 'loaded', ?)",
        [f"{period[:4]}/{kind}_{period}.csv", kind, period, sha, len(rows), duplicates,
         dt.datetime(2023, 7, 5, 9, 0) + dt.timedelta(minutes=version)],
    )
    return sha


def findings(con: duckdb.DuckDBPyConnection, table: str) -> set[tuple[str, int, str]]:
    """(kind, row_number, rule_id) of every row of audit.rejected_rows or audit.row_warnings."""
    return set(con.execute(f"select kind, row_number, rule_id from audit.{table}").fetchall())


def audit_snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """The audit tables and load log, sorted, for comparing two runs."""
    return {
        table: sorted(con.execute(f"select * from audit.{table}").fetchall(), key=repr)
        for table in ("rejected_rows", "row_warnings", "load_log")
    }
