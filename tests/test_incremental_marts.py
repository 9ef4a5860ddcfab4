"""The per-month marts rebuilt incrementally equal the marts rebuilt from scratch.

The pipeline builds the per-month tables (`incremental_by: period`) only for the months
whose inputs changed (pipeline/marts/incremental.py). After every step of a county's history —
a first delivery, the following months, a revised old month, changed reference data —
the tables the pipeline left must hold exactly what a full rebuild of the same warehouse
gives, and each step must have rebuilt only the months it should have.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipeline.marts import build as indicators, incremental
from pipeline.warehouse import sql_models as sqlmodels
from pipeline.ingest.extracts.csv_reader import decode_csv
from pipeline.ingest.load import clear_pending, ingest_inbox, pending_scope
from pipeline.reference import load_reference, write_reference_tables
from pipeline.settings import Settings
from pipeline.warehouse.connection import connect
from tests.conftest import CONFORMANCE

pytestmark = pytest.mark.heavy(seconds=10)

PER_MONTH = [m.table for m in indicators.marts_models() if m.incremental_by]
DERIVED = ["marts.indicator_values", "marts.target_verdicts", "marts.quality_flags", "marts.reporting_rates"]


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {t: con.execute(f"select * from {t} order by all").fetchall() for t in PER_MONTH + DERIVED}


def _from_scratch(warehouse, tmp_path) -> dict[str, list[tuple]]:
    copy = tmp_path / "scratch.duckdb"
    shutil.copyfile(warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        for table in PER_MONTH:
            con.execute(f"drop table {table}")
        indicators.build_marts(con)  # not incremental: every month of every table
        return _snapshot(con)
    finally:
        con.close()


def _run_stages(settings: Settings) -> None:
    """Ingest, validation and the marts, called as their Dagster assets call them (the report
    and the published copy do not touch the marts; the whole job is tested end to end by
    test_conformance)."""
    from pipeline.validate import validate

    con = connect(settings.warehouse)
    try:
        write_reference_tables(con, load_reference(settings.reference))
        ingest_inbox(con, settings.inbox, settings.archive, settings.key())
        scope = pending_scope(con)
    finally:
        con.close()
    if scope:
        validate(settings.warehouse, scope)
    con = connect(settings.warehouse)
    try:
        clear_pending(con, scope)
        indicators.build_marts(con, incremental=True)
    finally:
        con.close()


@pytest.fixture
def county(tmp_path, monkeypatch):
    """A copy of the conformance county's reference data and an empty inbox; `run()`
    runs the stages up to the marts and returns the plan the marts build made."""
    reference = tmp_path / "reference"
    shutil.copytree(CONFORMANCE / "reference", reference)
    (tmp_path / "inbox").mkdir()
    settings = Settings(inbox=tmp_path / "inbox", reference=reference, warehouse=tmp_path / "warehouse.duckdb",
                        reports=tmp_path / "reports", pseudonym_key=None, demo=True, lock_wait=0)
    plans: list[incremental.Plan] = []
    real_plan = incremental.plan

    def spy(*args, **kwargs):
        plans.append(real_plan(*args, **kwargs))
        return plans[-1]

    monkeypatch.setattr(incremental, "plan", spy)

    def run() -> incremental.Plan:
        plans.clear()
        _run_stages(settings)
        assert len(plans) == 1
        return plans[0]

    return settings, run


def _deliver(inbox, *years: str) -> None:
    for year in years:
        shutil.copytree(CONFORMANCE / "inbox" / year, inbox / year)


def _assert_same_as_from_scratch(settings, tmp_path) -> None:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        built = _snapshot(con)
    finally:
        con.close()
    assert built == _from_scratch(settings.warehouse, tmp_path)


def test_incremental_builds_equal_full_builds(county, tmp_path):
    settings, run = county

    # 1. 2023 only: no state yet, every month is built
    _deliver(settings.inbox, "2023")
    first = run()
    assert first.full and first.periods == tuple(f"2023-{m:02d}" for m in range(1, 13))
    _assert_same_as_from_scratch(settings, tmp_path)

    # 2. 2024's six months arrive: only they are built
    _deliver(settings.inbox, "2024")
    second = run()
    assert not second.full and second.periods == tuple(f"2024-{m:02d}" for m in range(1, 7))
    _assert_same_as_from_scratch(settings, tmp_path)

    # 3. nothing new: nothing is built
    assert run().periods == ()

    # 3b. a build stopped half-way (a model fails) keeps no state: the next one is full
    con = duckdb.connect(str(settings.warehouse))
    real_run_model = sqlmodels.run_model

    def failing(con, model, *args, **kwargs):
        if model.name == "area_measures":
            raise RuntimeError("planted: the build stops here")
        return real_run_model(con, model, *args, **kwargs)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sqlmodels, "run_model", failing)
            with pytest.raises(RuntimeError, match="planted"):
                indicators.build_marts(con, incremental=True)
        assert incremental.stored(con) == {}
    finally:
        con.close()
    assert run().full
    _assert_same_as_from_scratch(settings, tmp_path)

    # 4. a revised 2023-05 institutions file (one institution's places changed): that month
    #    only (its enrollment and staffing are re-validated against the new institutions)
    original = settings.inbox / "2023" / "institutions_202305.csv"
    text, _ = decode_csv(original.read_bytes(), original.name)  # delivered in GBK
    lines = text.splitlines()
    header = lines[0].split(",")
    places = header.index("核定托位数")
    row = lines[1].split(",")
    row[places] = str(int(row[places]) + 7)  # planted: a changed place count
    lines[1] = ",".join(row)
    original.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fourth = run()
    assert not fourth.full and fourth.periods == ("2023-05",)
    _assert_same_as_from_scratch(settings, tmp_path)

    # 5. revised population figures: every month depends on them, every month is rebuilt
    population = settings.reference / "population.csv"
    text = population.read_text(encoding="utf-8")
    population.write_text(text.replace(",3388\n", ",3400\n", 1), encoding="utf-8")
    assert text != population.read_text(encoding="utf-8")
    fifth = run()
    assert fifth.full
    _assert_same_as_from_scratch(settings, tmp_path)
