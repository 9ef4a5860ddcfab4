"""The prefecture's Dagster Definitions (docs/rollup.md §6): the counties of areas.csv as
partitions, one county's partition receiving that county only, the build giving the same
figures as `tuoyu run`, and the inbox sensor asking for the changed counties alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.orchestration.assets.rollup import COUNTY_BUNDLE, PREFECTURE_MARTS, PREFECTURE_REPORT, UNKNOWN_BUNDLES
from pipeline.orchestration.definitions import build_definitions
from pipeline.orchestration.instance import PREFECTURE_DAGSTER_YAML, ROLLUP_CONCURRENT_RUNS, prepare_dagster_home
from pipeline.orchestration.resources import Tuoyu
from pipeline.orchestration.rollup import BUILD_JOB, RECEIVE_JOB, SENSOR
from pipeline.rollup.receive import read_receipts
from pipeline.rollup.run import bundle_store, run_rollup
from pipeline.settings import Settings
from pipeline.warehouse.lock import run_lock
from tests.rollup_fixtures import COUNTIES, county_bundle, made, prefecture_folder

ROOT = Path(__file__).resolve().parents[1]
WEIFANG = ROOT / "pipeline" / "reference" / "weifang"


def _settings(tmp_path: Path, name: str = "warehouse") -> Settings:
    return Settings.from_env({"TUOYU_REFERENCE": str(prefecture_folder(tmp_path)),
                              "TUOYU_INBOX": str(tmp_path / "inbox"),
                              "TUOYU_WAREHOUSE": str(tmp_path / name / "warehouse.duckdb"),
                              "TUOYU_REPORTS": str(tmp_path / name / "reports")})


def _settle(path: Path) -> None:
    """As if copied into the inbox a while ago (the sensor waits for fresh files)."""
    past = time.time() - 600
    os.utime(path, (past, past))


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    _settle(county_bundle(folder, "990101", {"2024-06": {"filing_rate": (8, 10), "places_per_1000": (40, 10_000)},
                                            "2024-07": {"filing_rate": (9, 10)}}, made_at=made(1)))
    _settle(county_bundle(folder, "990102", {"2024-06": {"filing_rate": (2, 10), "places_per_1000": (5, 2_000)},
                                            "2024-07": {"filing_rate": (3, 10)}}, made_at=made(1)))
    _settle(county_bundle(folder, "990103", {"2024-06": {"filing_rate": (5, 5)}}, made_at=made(2)))
    return folder


def _execute(settings: Settings, job_name: str, partition_key: str | None = None,
             instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    with run_lock(settings.warehouse, 5) as lock:
        defs = build_definitions(settings, Tuoyu(settings, lock))
        job = defs.resolve_job_def(job_name)
        return job.execute_in_process(partition_key=partition_key, instance=instance or dg.DagsterInstance.ephemeral(),
                                      resources=None)


def test_a_prefecture_folder_gets_the_rollup_definitions_partitioned_by_its_counties(tmp_path):
    settings = _settings(tmp_path)
    defs = build_definitions(settings, Tuoyu(settings, _held(settings)))
    dg.Definitions.validate_loadable(defs)
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == {COUNTY_BUNDLE, UNKNOWN_BUNDLES, PREFECTURE_MARTS, PREFECTURE_REPORT}  # none of the county's
    partitions = specs[COUNTY_BUNDLE].partitions_def
    assert isinstance(partitions, dg.StaticPartitionsDefinition)
    assert partitions.get_partition_keys() == list(COUNTIES)  # the counties of areas.csv, in order
    assert all(spec.description and spec.group_name == "rollup" for spec in specs.values())
    graph = defs.resolve_asset_graph()
    assert graph.get(PREFECTURE_MARTS).parent_keys == {COUNTY_BUNDLE, UNKNOWN_BUNDLES}
    assert graph.get(PREFECTURE_REPORT).parent_keys == {PREFECTURE_MARTS}
    assert all(spec.description.split("。")[0].isascii() is False for spec in specs.values())  # Chinese first
    assert defs.resolve_job_def(RECEIVE_JOB).partitions_def == partitions
    assert set(defs.resolve_job_def(BUILD_JOB).asset_layer.selected_asset_keys) == {
        UNKNOWN_BUNDLES, PREFECTURE_MARTS, PREFECTURE_REPORT}
    assert defs.resolve_sensor_def(SENSOR) is not None


def _held(settings: Settings):
    from pipeline.warehouse.lock import RunLock

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return RunLock(settings.warehouse)  # the Definitions are only inspected here


def test_one_partition_receives_its_county_only_and_the_build_matches_tuoyu_run(tmp_path, inbox):
    settings = _settings(tmp_path)
    store = bundle_store(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        result = _execute(settings, RECEIVE_JOB, "990101", instance)
        assert result.success
        [materialization] = result.asset_materializations_for_node("rollup__county_bundle")
        assert materialization.partition == "990101"
        assert materialization.metadata["new_bundles"].value == 1
        assert [r["status"] for r in read_receipts(store / "990101")] == ["current"]
        assert (store / "990101" / "current" / "manifest.json").is_file()
        for other in ("990102", "990103"):  # in the inbox, not received
            assert read_receipts(store / other) == []
            assert not (store / other / "current").exists()
        assert not (settings.warehouse).exists()  # receiving never writes the warehouse

        for code in ("990102", "990103"):
            assert _execute(settings, RECEIVE_JOB, code, instance).success
        built = _execute(settings, BUILD_JOB, instance=instance)
        assert built.success
        [report] = built.asset_materializations_for_node("rollup__prefecture_report")
        assert "地市汇总报告（2024-06）" in report.metadata["report"].value  # 990103 lacks July: June is the latest
        assert any(settings.reports.glob("*/report_*.pdf"))
        status = instance.get_status_by_partition(COUNTY_BUNDLE, list(COUNTIES),
                                                  dg.StaticPartitionsDefinition(list(COUNTIES)))
        assert set(status.values()) == {dg.AssetPartitionStatus.MATERIALIZED}  # what the UI shows per county

    # the same inbox through `tuoyu run`'s functions, into a warehouse of its own
    cli = _settings(tmp_path, "cli")
    assert run_rollup(cli).success
    query = ("select indicator_id, period, area_code, value, numerator, denominator, status "
             "from marts.indicator_values order by all")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    dagster_rows = con.execute(query).fetchall()
    con.close()
    con = duckdb.connect(str(cli.warehouse), read_only=True)
    cli_rows = con.execute(query).fetchall()
    con.close()
    assert dagster_rows and dagster_rows == cli_rows
    assert ("filing_rate", "2024-06", "990100", pytest.approx(15 / 25 * 100), 15.0, 25.0) == dagster_rows[
        [r[:3] for r in dagster_rows].index(("filing_rate", "2024-06", "990100"))][:6]

    # `tuoyu run` after the Dagster build: nothing new, nothing rebuilt (the build recorded its inputs)
    outcome = run_rollup(settings)
    assert "没有新的汇总包。全市数据已是最新，未重新计算。" in outcome.text()


def _tick(defs: dg.Definitions, cursor: str | None, instance: dg.DagsterInstance) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def(SENSOR)
    return sensor(dg.build_sensor_context(cursor=cursor, instance=instance, definitions=defs))


def _requested(result) -> tuple[set[str], set[dg.AssetKey]]:
    [request] = result.run_requests
    subset = request.asset_graph_subset
    partitions = subset.partitions_subsets_by_asset_key.get(COUNTY_BUNDLE)
    return (set(partitions.get_partition_keys()) if partitions else set()), set(subset.non_partitioned_asset_keys)


def test_the_sensor_asks_for_the_changed_counties_only_then_the_build(tmp_path, inbox):
    settings = _settings(tmp_path)
    defs = build_definitions(settings, Tuoyu(settings, _held(settings)))
    with dg.DagsterInstance.ephemeral() as instance:
        first = _tick(defs, None, instance)
        assert _requested(first) == (set(COUNTIES), {UNKNOWN_BUNDLES, PREFECTURE_MARTS, PREFECTURE_REPORT})
        assert first.run_requests[0].requires_backfill_daemon()  # the partitions, then the build after them
        again = _tick(defs, first.cursor, instance)  # the same delivery is asked for once
        assert not again.run_requests

        for code in COUNTIES:  # the runs the backfill would start
            assert _execute(settings, RECEIVE_JOB, code, instance).success
        assert not _tick(defs, None, instance).run_requests  # every bundle has its receipt: nothing to ask

        # one late county: a newer bundle of 990102 only
        late = county_bundle(inbox, "990102", {"2024-07": {"filing_rate": (4, 10)}}, made_at=made(9))
        fresh = _tick(defs, first.cursor, instance)
        assert not fresh.run_requests and "still being written" in fresh.skip_reason.skip_message
        _settle(late)
        result = _tick(defs, first.cursor, instance)
        assert _requested(result) == ({"990102"}, {UNKNOWN_BUNDLES, PREFECTURE_MARTS, PREFECTURE_REPORT})
        assert result.run_requests[0].tags["tuoyu/counties"] == "990102"


def test_dagster_validates_the_definitions_of_the_weifang_prefecture_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUOYU_", "DAGSTER_"))}
    env.update(TUOYU_REFERENCE=str(WEIFANG), TUOYU_INBOX=str(tmp_path / "inbox"),
               TUOYU_WAREHOUSE=str(tmp_path / "warehouse" / "warehouse.duckdb"), DAGSTER_HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "pipeline.orchestration.definitions"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_a_prefecture_instance_runs_several_counties_at_once_and_builds_one_at_a_time(tmp_path):
    home = prepare_dagster_home(tmp_path / "home", prefecture=True)
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == PREFECTURE_DAGSTER_YAML
    with dg.DagsterInstance.from_config(str(home)) as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == ROLLUP_CONCURRENT_RUNS > 1
        assert config.pool_config.default_pool_limit == 1  # the build's pool: one writer
