"""The one Definitions when the reference folder is a prefecture's (docs/rollup.md §6): the
rollup's assets (assets/rollup.py) instead of the county's, its jobs and its inbox sensor.

    build_rollup_definitions(settings, tuoyu) -> dg.Definitions

- `receive_counties`: county_bundle, partitioned by county (the prefecture's areas.csv,
  read when the Definitions are built). Dagster runs one partition per run; a backfill of
  many counties is many runs, as many at once as the instance lets run (the prefecture's
  dagster.yaml: ROLLUP_CONCURRENT_RUNS, pipeline/orchestration/instance.py). Receiving takes
  no run lock and writes only its county's folder, so those runs do not wait for each other.
- `build_prefecture`: the bundles of no county, then the prefecture's marts (the one writer
  of the warehouse, in the `tuoyu_warehouse` pool: one at a time).
- `rollup_inbox_sensor`: on the inbox, requests the partitions of the counties with a new
  or changed bundle only, and the build after them (one asset backfill: Dagster orders it),
  so a late county is received alone.

`tuoyu run` on the same folder calls the same plain functions without Dagster
(pipeline/rollup/run.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

from pipeline.orchestration.assets.rollup import (
    COUNTY_BUNDLE,
    PREFECTURE_MARTS,
    PREFECTURE_REPORT,
    UNKNOWN_BUNDLES,
    county_partitions,
    rollup_assets,
)
from pipeline.orchestration.automation import SETTLE_SECONDS
from pipeline.orchestration.console_log import console
from pipeline.orchestration.resources import Tuoyu, TuoyuResource
from pipeline.settings import Settings

RECEIVE_JOB = "receive_counties"
BUILD_JOB = "build_prefecture"
SENSOR = "rollup_inbox_sensor"


class TuoyuFolders(TuoyuResource):
    """The settings alone, without the run lock: what receiving a county needs (it writes only
    its county's folder of the bundle store, never the warehouse), so that counties' runs
    never wait for each other's lock."""

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Settings]:
        yield self.settings()


def pending_bundles(reference, inbox: Path, store: Path) -> tuple[dict[str, list], list]:
    """({county: [new bundles]}, [new bundles of no county]): the inbox's bundles that no
    receipt records with their size and modification time (pipeline/rollup/receive.py)."""
    from pipeline.rollup.receive import scan_inbox

    scan = scan_inbox(reference, inbox, store)
    by_county = {code: [c for c in found if not c.seen] for code, found in scan.by_county.items()}
    return {code: found for code, found in by_county.items() if found}, [c for c in scan.unknown if not c.seen]


def build_rollup_sensor(reference, partitions: dg.StaticPartitionsDefinition, inbox: Path, store: Path,
                        targets: list[dg.AssetsDefinition]) -> dg.SensorDefinition:
    # Why: bundles arrive county by county on no fixed day. A run of every county for one
    # late bundle would read nothing new for the others (their receipts say so) but would
    # still start a run per county; the sensor asks for the late county's partition alone,
    # then the build. The cursor holds the bundles already asked for ([size, mtime] by name),
    # so one delivery is asked for once; a bundle still being copied waits a tick.
    @dg.sensor(name=SENSOR, asset_selection=targets, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Requests county_bundle for the counties with a new or changed bundle in the inbox "
                           "(and no others), then the prefecture's build and report, as one backfill.")
    def rollup_inbox_sensor(context: dg.SensorEvaluationContext):
        asked = json.loads(context.cursor) if context.cursor else {}
        counties, unknown = pending_bundles(reference, inbox, store)
        new = [c for found in counties.values() for c in found] + unknown
        fresh = [c for c in new if asked.get(c.name) != [c.size, c.mtime_ns]]
        if not fresh:
            return dg.SensorResult(skip_reason=f"no new bundle in {inbox}")
        settling = [c.name for c in fresh if time.time() - c.mtime_ns / 1e9 < SETTLE_SECONDS]
        if settling:  # the cursor stays: the next evaluation sees these bundles again
            return dg.SensorResult(
                skip_reason=f"waiting for {len(settling)} bundle(s) still being written: {settling[0]}")
        fresh_names = {c.name for c in fresh}
        changed = sorted(code for code, found in counties.items() if any(c.name in fresh_names for c in found))
        subset = AssetGraphSubset(
            partitions_subsets_by_asset_key={COUNTY_BUNDLE: partitions.subset_with_partition_keys(changed)}
            if changed else {},
            non_partitioned_asset_keys={UNKNOWN_BUNDLES, PREFECTURE_MARTS, PREFECTURE_REPORT},
        )
        key = hashlib.sha256(json.dumps(sorted([c.name, c.size, c.mtime_ns] for c in fresh)).encode()).hexdigest()
        return dg.SensorResult(run_requests=[dg.RunRequest.for_asset_graph_subset(subset, tags={
            "tuoyu/trigger": "inbox", "tuoyu/counties": ",".join(changed) or "none",
            "tuoyu/delivery": key[:16]})], cursor=json.dumps({c.name: [c.size, c.mtime_ns] for c in new}, sort_keys=True))

    return rollup_inbox_sensor


def build_rollup_definitions(settings: Settings, tuoyu: Tuoyu | TuoyuResource) -> dg.Definitions:
    """The prefecture's Definitions. `tuoyu` (the run lock and the warehouse) is the build's
    resource; receiving gets the settings alone: of `tuoyu` when it is a ready Tuoyu (tests,
    a caller holding the lock), else of the environment, like the resource."""
    from pipeline.reference import load_prefecture_reference
    from pipeline.rollup.run import bundle_store

    reference = load_prefecture_reference(settings.reference)
    partitions = county_partitions(reference.county_codes)
    county_bundle, unknown_bundles, prefecture_marts, prefecture_report = assets = rollup_assets(partitions)
    folders = tuoyu.settings() if isinstance(tuoyu, Tuoyu) else TuoyuFolders.from_environment()
    receive_job = dg.define_asset_job(
        RECEIVE_JOB, selection=dg.AssetSelection.assets(county_bundle), partitions_def=partitions,
        tags={"tuoyu/rollup": "receive"}, executor_def=dg.in_process_executor,  # one step per run
        description="Receive one county's bundles (the partition). A backfill of several counties runs "
                    "them side by side, as many as the instance's run queue allows.")
    build_job = dg.define_asset_job(
        BUILD_JOB, selection=dg.AssetSelection.assets(unknown_bundles, prefecture_marts, prefecture_report),
        tags={"tuoyu/rollup": "build"},
        description="Record the bundles of no county, then build the prefecture's figures over every "
                    "county's current bundle, then render its report.")
    return dg.Definitions(
        assets=assets,
        jobs=[receive_job, build_job],
        sensors=[build_rollup_sensor(reference, partitions, settings.inbox, bundle_store(settings), assets)],
        resources={"tuoyu": tuoyu, "tuoyu_folders": folders},
        loggers={"console": console},
    )
