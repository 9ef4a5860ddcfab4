"""The conformance county (tests/conformance), run end to end through the Dagster job
exactly as `tuoyu run` runs it: every load count and every expected value reproduced."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.commands.run import run_pipeline
from pipeline.settings import Settings
from tests.conftest import CONFORMANCE, find_secrets, scan_tables
from tests.conformance_checks import load_count_differences, read_expected, value_mismatches
from tests.personal_data import clear_identifiers

pytestmark = pytest.mark.heavy(seconds=9)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    base = tmp_path_factory.mktemp("conformance")
    settings = Settings(inbox=CONFORMANCE / "inbox", reference=CONFORMANCE / "reference",
                        warehouse=base / "warehouse.duckdb", reports=base / "reports",
                        pseudonym_key=None, demo=True, lock_wait=0)
    assert settings.instance_home == base / "dagster_home"  # searched below
    outcome = run_pipeline(settings)
    assert outcome.success, outcome.text()
    return base


@pytest.fixture
def con(warehouse):
    connection = duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True)
    yield connection
    connection.close()


def _read(name: str) -> list[dict[str, str]]:
    return read_expected(name)


def test_load_counts_match_expected_load(con):
    got, expected = load_count_differences(con)
    assert got == expected


def test_every_loaded_file_reconciles(con):
    bad = con.execute("""select file_path from audit.load_log where status = 'loaded'
                         and rows_read <> rows_accepted + rows_rejected + rows_duplicate""").fetchall()
    assert bad == []


def test_every_expected_value_is_reproduced(con):
    expected = _read("expected.csv")
    # The handbook's grid: 18 months (2023-01 … 2024-06) × (3 county-only indicators + 16
    # indicators for the county and its 6 镇街) = 18 × (3 + 16 × 7) = 2070 rows.
    assert len(expected) == 18 * (3 + 16 * 7)
    assert value_mismatches(con, expected) == []


def test_no_rows_beyond_the_expected_ones_for_expected_indicators(con):
    expected = {(r["indicator_id"], r["period"], r["area_code"]) for r in _read("expected.csv")}
    ids = sorted({k[0] for k in expected})
    got = {tuple(r) for r in con.execute(
        "select indicator_id, period, area_code from marts.indicator_values where list_contains(?, indicator_id)", [ids]
    ).fetchall()}
    assert got == expected


def test_report_written_for_the_latest_month(warehouse):
    assert (warehouse / "reports" / "2024-06" / "report_2024-06.pdf").stat().st_size > 10_000


def test_no_clear_id_or_name_in_warehouse_or_dagster_home(warehouse, con):
    secrets = clear_identifiers(CONFORMANCE / "inbox")
    assert len(secrets) > 500  # the scan looks for something real
    assert scan_tables(con, secrets) == []
    for path in [warehouse / "warehouse.duckdb", *sorted((warehouse / "dagster_home").rglob("*"))]:
        if path.is_file():
            assert find_secrets(path.read_bytes().decode("utf-8", "ignore"), secrets) == set(), path
