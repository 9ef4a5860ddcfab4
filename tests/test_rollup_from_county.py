"""The two halves of docs/rollup.md meet: a bundle that `tuoyu export-bundle` made from a real
county warehouse (the session's shared run of the small sample) is received by a prefecture
beside a simulated county, and the prefecture's figures are the rules' sums of the two.

Expected values are not stored: they are recomputed here from the two bundles' county rows,
the rule of docs/rollup.md §4 written out (count: a + b; rate: factor × (num_a + num_b) ÷
(den_a + den_b)), and compared with what the prefecture's run computed through its SQL.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import polars as pl
import pytest

from pipeline.marts.catalog import read_catalog
from pipeline.reference import default_reference_folder
from pipeline.rollup.bundle_format import read_bundle
from pipeline.rollup.export import export_bundle
from pipeline.rollup.run import run_rollup
from pipeline.rollup.simulate import simulate_bundles
from pipeline.settings import Settings
from tests.hostile_fixtures import sample_run

pytestmark = pytest.mark.heavy(seconds=8)

COUNTY, SIMULATED, PREFECTURE = "370781", "990199", "370700"
FACTOR = {"count": None, "percent": 100.0, "per_1000": 1000.0}


@pytest.fixture(scope="module")
def prefecture(tmp_path_factory):
    """A prefecture of two: 青州市's bundle exported from the sample run, and a simulated
    county over the same months; the prefecture's run over both."""
    run = sample_run(tmp_path_factory)
    here = tmp_path_factory.mktemp("county-to-prefecture")
    warehouse = here / "county" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(run.warehouse, warehouse)  # the shared warehouse is never modified
    county = Settings(inbox=run.inbox, reference=default_reference_folder(), warehouse=warehouse,
                      reports=here / "county-reports", pseudonym_key=None, lock_wait=5)
    inbox = here / "prefecture-inbox"
    inbox.mkdir()
    exported = export_bundle(county, inbox)
    periods = list(read_bundle(exported).manifest.periods)
    simulate_bundles(inbox, [(SIMULATED, "模拟县")], periods, seed=7,
                     made_at=datetime(2026, 1, 5, tzinfo=timezone(timedelta(hours=8))))
    folder = here / "reference"
    folder.mkdir()
    (folder / "areas.csv").write_text(
        "area_code,area_name,area_type,urban_rural,parent_code\n"
        f"{PREFECTURE},测试地市,地级市,,\n{COUNTY},青州市,县级市,,{PREFECTURE}\n{SIMULATED},模拟县,县,,{PREFECTURE}\n",
        encoding="utf-8")
    settings = Settings(inbox=inbox, reference=folder, warehouse=here / "prefecture" / "warehouse.duckdb",
                        reports=here / "prefecture-reports", pseudonym_key=None, lock_wait=5)
    outcome = run_rollup(settings)
    assert outcome.success, outcome.text()
    bundles = {b.manifest.county_code: b for b in (read_bundle(p) for p in inbox.glob("*.zip"))}
    return settings, bundles


def _county_rows(bundle) -> pl.DataFrame:
    return (bundle.tables["indicator_values.parquet"].filter(pl.col("is_county"))
            .select("indicator_id", "period", "numerator", "denominator", "value"))


def test_the_exported_bundle_is_received_as_current(prefecture):
    settings, bundles = prefecture
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        statuses = dict(con.execute("select county_code, status from rollup.bundle_receipts").fetchall())
    finally:
        con.close()
    assert statuses == {COUNTY: "current", SIMULATED: "current"}


def test_each_county_row_is_its_own_bundle_and_the_prefecture_row_their_sum(prefecture):
    settings, bundles = prefecture
    kinds = {row["indicator_id"]: row["kind"] for row in read_catalog()}
    a, b = _county_rows(bundles[COUNTY]), _county_rows(bundles[SIMULATED])
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        got = {(i, p, area): v for i, p, area, v in con.execute(
            "select indicator_id, period, area_code, value from marts.indicator_values").fetchall()}
    finally:
        con.close()
    both = a.join(b, on=["indicator_id", "period"], suffix="_b")
    checked: set[str] = set()
    for row in both.iter_rows(named=True):
        key = (row["indicator_id"], row["period"])
        if row["value"] is None:
            assert got[(*key, COUNTY)] is None
        else:
            assert got[(*key, COUNTY)] == pytest.approx(row["value"], rel=0, abs=1e-9)
        if row["indicator_id"] == "service_type_count":
            continue  # types present in either county: not a sum (tests/test_rollup_figures.py)
        factor = FACTOR[kinds[row["indicator_id"]]]
        if row["numerator"] is None or row["numerator_b"] is None:
            assert got[(*key, PREFECTURE)] is None  # a county without the month: no_data by default
            continue
        if factor is None:
            expected = row["numerator"] + row["numerator_b"]
        else:
            denominator = row["denominator"] + row["denominator_b"]
            expected = factor * (row["numerator"] + row["numerator_b"]) / denominator if denominator else None
        if expected is None:
            assert got[(*key, PREFECTURE)] is None
        else:
            assert got[(*key, PREFECTURE)] == pytest.approx(expected, rel=0, abs=1e-9)
        checked.add(row["indicator_id"])
    # the sample run has months with every extract kind: every indicator but the one that is
    # not a sum was compared in at least one month
    assert checked == set(kinds) - {"service_type_count"}
