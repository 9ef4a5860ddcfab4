"""The quality review as a step of its own (pipeline/marts/quality_build.py): after the
indicator marts in the Dagster job, the marts step no longer building its models, and
each build rebuilding only what can have changed — nothing when nothing did, a new
month's flags only, a revised month's and the twelve after it — with exactly the flags
a full rebuild gives.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipeline.marts import build as marts_build, quality_build
from pipeline.period import months_between
from pipeline.warehouse import sql_models as sqlmodels
from tests.indicator_fixtures import TOWN_A, TOWN_B
from tests.quality_fixtures import QualityWarehouse, on_day

QUALITY_TABLES = {"marts.quality_flags", "marts.reporting_rates"}

pytestmark = pytest.mark.heavy(seconds=6)


# ---------------------------------------------------------------- the Dagster job


def _job():
    from pipeline.orchestration.definitions import defs

    return defs().resolve_job_def("tuoyu_pipeline")


def test_the_quality_models_are_those_of_the_quality_review():
    assert set(marts_build.quality_models()) == {"quality_flags", "reporting_rates"}
    assert {m.table for m in quality_build.models()} == QUALITY_TABLES


def test_the_job_runs_the_quality_step_after_the_marts_step():
    from dagster._core.execution.api import create_execution_plan

    from pipeline.orchestration.assets.marts import marts
    from pipeline.orchestration.assets.quality import quality, quality_flag_checks

    marts_tables = {".".join(k.path) for k in marts.keys}
    assert marts_tables.isdisjoint(QUALITY_TABLES)  # the marts step does not build them
    assert {".".join(k.path) for k in quality.keys} == QUALITY_TABLES
    graph = _job().asset_layer.asset_graph
    assert {graph.get(k).group_name for k in quality.keys} == {"quality"}
    # the quality step reads the marts' per-month tables: Dagster runs it after the marts step
    upstream = {".".join(k.path) for key in quality.keys for k in graph.get(key).parent_keys}
    assert {"marts.operating_institutions", "marts.area_measures", "marts.month_calendar"} <= upstream
    steps = [s.key for s in create_execution_plan(_job()).get_steps_to_execute_in_topo_order()]
    assert steps.index("marts") < steps.index("quality") < steps.index("quality_flag_checks")
    assert steps.index("quality") < steps.index("reports__monthly_report")
    # the checks of the flags are on the quality step's asset
    assert {tuple(c.asset_key.path) for c in quality_flag_checks.check_keys} == {("marts", "quality_flags")}
    assert all(c.asset_key in quality.keys for c in quality_flag_checks.check_keys)


# ---------------------------------------------------------------- the builds


@pytest.fixture
def w(tmp_path):
    warehouse = QualityWarehouse(tmp_path / "warehouse.duckdb")
    yield warehouse
    warehouse.close()


@pytest.fixture
def built(monkeypatch):
    """The models each build runs: `built[-1]` is the last build's."""
    runs: list[list[str]] = []
    real = sqlmodels.run_model

    def spy(con, model, *args, **kwargs):
        runs[-1].append(model.table)
        return real(con, model, *args, **kwargs)

    monkeypatch.setattr(sqlmodels, "run_model", spy)
    return runs


def _month(w: QualityWarehouse, period: str, places_p1: int = 20, staff_p2: int = 4) -> None:
    w.files(period, "institutions", "enrollment", "staffing")
    w.institution(period, "P1", TOWN_A, places=places_p1)
    w.institution(period, "P2", TOWN_B, places=15)
    for institution_id, staff in (("P1", 4), ("P2", staff_p2)):
        for i in range(staff):
            w.staff(period, institution_id, f"{institution_id}-s{i}")


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {t: con.execute(f"select * from {t} order by all").fetchall() for t in sorted(QUALITY_TABLES)}


def _assert_same_as_full_build(w: QualityWarehouse, tmp_path) -> None:
    w.con.execute("checkpoint")
    copy = tmp_path / "full.duckdb"
    shutil.copyfile(w.path, copy)
    con = duckdb.connect(str(copy))
    try:
        for table in QUALITY_TABLES:
            con.execute(f"drop table {table}")
        quality_build.build_quality(con, incremental=False)
        assert _snapshot(w.con) == _snapshot(con)
    finally:
        con.close()


def _build(w: QualityWarehouse, built: list[list[str]]) -> quality_build.Built:
    built.append([])
    marts_build.build_marts(w.con, incremental=True, quality=False)
    assert QUALITY_TABLES.isdisjoint(built[-1])  # the marts step builds none of them
    built.append([])
    return quality_build.build_quality(w.con)


def test_the_marts_step_builds_no_quality_model(w, built):
    _month(w, "2024-01")
    built.append([])
    marts_build.build_marts(w.con, incremental=True, quality=False)
    assert built[-1] and QUALITY_TABLES.isdisjoint(built[-1])
    assert w.query("select count(*) from information_schema.tables where table_schema = 'marts' "
                   "and table_name in ('quality_flags', 'reporting_rates')") == [(0,)]
    built.append([])
    quality_build.build_quality(w.con)
    assert set(built[-1]) == QUALITY_TABLES
    # build_marts with every model (tests, tuoyu check) still builds them, last
    built.append([])
    marts_build.build_marts(w.con)
    assert built[-1][-2:] == ["marts.quality_flags", "marts.reporting_rates"]


def test_each_build_rebuilds_only_what_can_have_changed(w, built, tmp_path):
    # 2023-01…2024-06: two institutions; P1's places typed 200 for 20 in 2024-03, P2 with
    # 16 caregivers instead of 4 in 2024-05 (H = twelve 4s, MAD* = 2, z = 0.6745 × 12 ÷ 2 > 3.5)
    history = months_between("2023-01", "2024-06")
    for period in history:
        _month(w, period, places_p1=200 if period == "2024-03" else 20,
               staff_p2=16 if period == "2024-05" else 4)
    first = _build(w, built)
    assert first.plan.full and set(built[-1]) == QUALITY_TABLES
    assert first.flag_months == len(history) == 18
    flagged = w.flag("OUT-SERIES", "2024-03", "P1", "places")
    assert flagged["value"] == 200
    _assert_same_as_full_build(w, tmp_path)

    # nothing new: nothing built, the state kept
    state = quality_build.stored(w.con)
    again = _build(w, built)
    assert again.plan.nothing and built[-1] == [] and again.flag_months == 0
    assert quality_build.stored(w.con) == state

    # a new month: its own flags only (and the reporting rates, which read the load log)
    _month(w, "2024-07")
    new = _build(w, built)
    assert not new.plan.full and new.plan.periods == ("2024-07",) and new.flag_months == 1
    assert set(built[-1]) == QUALITY_TABLES
    _assert_same_as_full_build(w, tmp_path)

    # a revised 2024-03 (the typo corrected): that month and the twelve after it that exist
    w.revise("institutions", "2024-03", seen=on_day("2024-03", 20))
    w.institution("2024-03", "P1", TOWN_A, places=20)
    w.institution("2024-03", "P2", TOWN_B, places=15)
    revised = _build(w, built).plan
    assert not revised.full and revised.periods == tuple(months_between("2024-03", "2024-07"))
    assert ("2024-03", "OUT-SERIES", TOWN_A, "P1", "places") not in w.flags()
    _assert_same_as_full_build(w, tmp_path)

    # a confirmation only: no model is run, `confirmed` is set in place
    key = "OUT-SERIES/2024-05/P2/caregivers/16"
    assert w.flag("OUT-SERIES", "2024-05", "P2", "caregivers")["flag_key"] == key
    w.confirm(key)
    confirmed = _build(w, built).plan
    assert confirmed.confirmations and not confirmed.periods and not confirmed.rates
    assert built[-1] == []
    assert w.query("select confirmed from marts.quality_flags where flag_key = ?", [key]) == [(True,)]
    _assert_same_as_full_build(w, tmp_path)

    # changed parameters (quality.toml): every month
    w.con.execute("update reference.quality_parameters set out_series_threshold = 3.0")
    assert _build(w, built).plan.full
    _assert_same_as_full_build(w, tmp_path)


def test_a_build_without_the_marts_state_is_full_and_keeps_none(w, built):
    _month(w, "2024-01")
    _build(w, built)
    assert quality_build.stored(w.con)
    w.con.execute("delete from audit.marts_build_state")  # a marts build stopped half-way
    built.append([])
    assert quality_build.build_quality(w.con).plan.full
    assert set(built[-1]) == QUALITY_TABLES
    assert quality_build.stored(w.con) == {}
