"""The monthly schedule and the inbox sensor, evaluated with Dagster's test contexts, the
Definitions as `dagster dev` loads them (what `dagster definitions validate` checks), and the
project's own Dagster instance."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from pipeline import period
from pipeline.orchestration import automation
from pipeline.orchestration.definitions import defs as load_definitions
from pipeline.orchestration.instance import DAGSTER_YAML, dagster_instance, prepare_dagster_home
from pipeline.settings import DEFAULT_CRON

SHANGHAI = ZoneInfo("Asia/Shanghai")
defs = load_definitions()  # as Dagster loads them
JOB = defs.resolve_job_def("tuoyu_pipeline")
STAGES = {"ingest", "validate", "indicators", "quality", "reports"}


# ---------------------------------------------------------------- schedule


def test_schedule_runs_the_pipeline_on_the_5th_at_8_beijing_time():
    schedule = automation.build_schedule(JOB, DEFAULT_CRON)
    assert schedule.cron_schedule == "0 8 5 * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.job_name == "tuoyu_pipeline"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("monthly_pipeline").job_name == "tuoyu_pipeline"


def test_schedule_requests_a_run_for_the_previous_month_with_a_run_key():
    schedule = defs.resolve_schedule_def("monthly_pipeline")
    tick = datetime(2024, 1, 5, 8, 0, tzinfo=SHANGHAI)
    data = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick))
    assert data.skip_message is None
    [request] = data.run_requests
    assert request.tags["tuoyu/period"] == "2023-12"  # January's run reports December
    assert request.run_key == "monthly-2023-12-20240105T0800"


def test_schedule_month_is_the_beijing_month_whatever_the_tick_zone():
    schedule = defs.resolve_schedule_def("monthly_pipeline")
    # 2024-02-29 23:30 UTC is already 1 March 07:30 in Beijing: the month to report is February
    tick = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    [request] = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests
    assert request.tags["tuoyu/period"] == "2024-02"
    assert request.run_key.endswith("20240301T0730")


def test_schedule_ticks_of_different_times_have_different_run_keys():
    schedule = defs.resolve_schedule_def("monthly_pipeline")
    keys = {
        schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=t)).run_requests[0].run_key
        for t in (datetime(2024, 3, 5, 8, tzinfo=SHANGHAI), datetime(2024, 4, 5, 8, tzinfo=SHANGHAI))
    }
    assert len(keys) == 2


def test_schedule_cron_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    monkeypatch.setenv("TUOYU_SCHEDULE_CRON", "30 9 10 * *")
    schedule = load_definitions().resolve_schedule_def("monthly_pipeline")  # as Dagster loads it
    assert schedule.cron_schedule == "30 9 10 * *"
    assert schedule.execution_timezone == "Asia/Shanghai"


def test_previous_month_wraps_the_year():
    assert period.previous_month(datetime(2024, 1, 5, 8)) == "2023-12"
    assert period.previous_month(datetime(2024, 12, 5, 8)) == "2024-11"


# ---------------------------------------------------------------- sensor

PAST = time.time() - 3600  # delivered an hour ago: settled


def _put(inbox: Path, rel: str, data: bytes, mtime: float = PAST) -> Path:
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def inbox(tmp_path, monkeypatch):
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("TUOYU_INBOX", str(folder))
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "warehouse" / "warehouse.duckdb"))
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    return folder


def _tick(cursor: str | None = None):
    sensor = load_definitions().resolve_sensor_def("inbox_sensor")  # on TUOYU_INBOX, as Dagster loads it
    return sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor))


def test_sensor_targets_the_pipeline_and_is_on_by_default():
    sensor = defs.resolve_sensor_def("inbox_sensor")
    assert sensor.job_name == "tuoyu_pipeline"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_sensor_skips_with_a_reason_when_the_inbox_is_empty(inbox):
    data = _tick()
    assert not data.run_requests
    assert "no new or changed extracts" in data.skip_message


def test_sensor_requests_a_run_for_new_files_and_keeps_their_hashes(inbox):
    _put(inbox, "2023/托育机构_2023-01.csv", b"institutions january")
    _put(inbox, "2023/在托幼儿_2023-01.csv", b"enrollment january")
    data = _tick()
    [request] = data.run_requests
    assert request.run_key.startswith("inbox-")
    assert request.tags["tuoyu/files"] == "2"
    cursor = json.loads(data.cursor)
    assert set(cursor) == {"2023/托育机构_2023-01.csv", "2023/在托幼儿_2023-01.csv"}
    size, mtime_ns, sha = cursor["2023/托育机构_2023-01.csv"]
    assert size == len(b"institutions january") and len(sha) == 64

    again = _tick(data.cursor)  # nothing new since
    assert not again.run_requests and again.skip_message


def test_the_same_delivery_gets_the_same_run_key(inbox):
    _put(inbox, "托育机构_2023-01.csv", b"v1")
    first = _tick()
    # the cursor is lost (sensor reset): the same delivery asks again under the same key,
    # which Dagster runs only once
    second = _tick(None)
    assert first.run_requests[0].run_key == second.run_requests[0].run_key


def test_a_changed_file_triggers_again_under_a_new_key(inbox):
    path = _put(inbox, "托育机构_2023-01.csv", b"version 1")
    first = _tick()
    _put(inbox, "托育机构_2023-01.csv", b"version 2, revised", mtime=PAST + 60)
    second = _tick(first.cursor)
    [request] = second.run_requests
    assert request.run_key != first.run_requests[0].run_key
    assert request.tags["tuoyu/files"] == "1"
    assert json.loads(second.cursor)["托育机构_2023-01.csv"][0] == path.stat().st_size


def test_a_new_month_next_to_old_files_triggers(inbox):
    _put(inbox, "托育机构_2023-01.csv", b"january")
    first = _tick()
    _put(inbox, "托育机构_2023-02.csv", b"february")
    [request] = _tick(first.cursor).run_requests
    assert request.tags["tuoyu/files"] == "1"


def test_touching_a_file_without_changing_its_bytes_does_not_trigger(inbox):
    path = _put(inbox, "托育机构_2023-01.csv", b"same bytes")
    first = _tick()
    os.utime(path, (PAST + 120, PAST + 120))
    again = _tick(first.cursor)
    assert not again.run_requests


def test_unchanged_files_are_not_hashed_again(inbox, monkeypatch):
    _put(inbox, "托育机构_2023-01.csv", b"january")
    _put(inbox, "从业人员_2023-01.csv", b"staff")
    first = _tick()
    hashed = []
    real = automation.sha256_of
    monkeypatch.setattr(automation, "sha256_of", lambda p: hashed.append(p.name) or real(p))
    _tick(first.cursor)
    assert hashed == []  # same size and mtime: the cursor's hash is trusted
    _put(inbox, "从业人员_2023-01.csv", b"staff, revised", mtime=PAST + 60)
    _tick(first.cursor)
    assert hashed == ["从业人员_2023-01.csv"]


def test_unrecognised_names_hidden_files_and_symlinks_are_ignored(inbox, tmp_path):
    _put(inbox, "readme.txt", b"notes")
    _put(inbox, "托育机构 一月.csv", b"no month in the name")
    _put(inbox, "~$托育机构_2023-01.xlsx", b"office lock file")
    outside = _put(tmp_path, "elsewhere/托育机构_2023-02.csv", b"outside the inbox")
    (inbox / "托育机构_2023-02.csv").symlink_to(outside)
    data = _tick()
    assert not data.run_requests
    assert data.skip_message


def test_a_file_still_being_written_waits_for_the_next_evaluation(inbox):
    _put(inbox, "托育机构_2023-01.csv", b"half a file", mtime=time.time())
    data = _tick()
    assert not data.run_requests
    assert "still being written" in data.skip_message
    assert data.cursor is None  # not recorded: seen again next time


def _last_run_loaded(tmp_path: Path, inbox: Path, statuses: dict[str, str]) -> None:
    """A warehouse whose load log holds the inbox's files as they are now ({path: status}),
    and its published copy: what a completed run leaves for the sensor to compare with."""
    from pipeline.analysts.publish import publish
    from pipeline.ingest.extracts.files import recognise
    from pipeline.warehouse.schema import create_tables

    warehouse = tmp_path / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir(exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        create_tables(con)
        for rel, status in statuses.items():
            name = recognise(Path(rel).name)
            con.execute("insert into audit.load_log (file_path, kind, period, sha256, status, loaded_at) "
                        "values (?, ?, ?, ?, ?, current_timestamp)",
                        [rel, name.kind, name.period, automation.sha256_of(inbox / rel), status])
        publish(con, warehouse)
    finally:
        con.close()


def test_an_inbox_the_last_run_loaded_starts_no_run_even_without_a_cursor(inbox, tmp_path):
    # e.g. `tuoyu run` by hand right after the delivery, or the sensor's cursor lost
    _put(inbox, "2023/托育机构_2023-01.csv", b"institutions january")
    _put(inbox, "2023/在托幼儿_2023-01.csv", b"enrollment january")
    _put(inbox, "2023/从业人员_2023-01.csv", b"staff january, bad header")
    _last_run_loaded(tmp_path, inbox, {"2023/托育机构_2023-01.csv": "loaded", "2023/在托幼儿_2023-01.csv": "loaded",
                                       "2023/从业人员_2023-01.csv": "file_rejected"})
    data = _tick(None)
    assert not data.run_requests
    assert "nothing new for a run" in data.skip_message
    again = _tick(data.cursor)  # the files are in the cursor now: not even compared again
    assert not again.run_requests and "no new or changed extracts" in again.skip_message


def test_a_file_changed_since_the_last_run_starts_a_run_for_that_file(inbox, tmp_path):
    _put(inbox, "托育机构_2023-01.csv", b"january")
    _put(inbox, "托育机构_2023-02.csv", b"february")
    _last_run_loaded(tmp_path, inbox, {"托育机构_2023-01.csv": "loaded", "托育机构_2023-02.csv": "loaded"})
    first = _tick(None)
    assert not first.run_requests
    _put(inbox, "托育机构_2023-02.csv", b"february, revised", mtime=PAST + 60)
    [request] = _tick(first.cursor).run_requests
    assert request.tags["tuoyu/files"] == "1"


def test_an_earlier_version_delivered_again_starts_a_run(inbox, tmp_path):
    # the run loaded the revision (v2) and kept v1 as superseded; the office withdraws the
    # revision by delivering v1 again, newer: a run would read v1 again
    _put(inbox, "托育机构_2023-01.csv", b"version 1", mtime=PAST - 60)
    _put(inbox, "修订/托育机构_2023-01.csv", b"version 2")
    _last_run_loaded(tmp_path, inbox, {"托育机构_2023-01.csv": "superseded", "修订/托育机构_2023-01.csv": "loaded"})
    first = _tick(None)
    assert not first.run_requests
    (inbox / "修订" / "托育机构_2023-01.csv").unlink()
    [request] = _tick(first.cursor).run_requests
    assert request.tags["tuoyu/files"] == "1"


# ---------------------------------------------------------------- definitions


def test_definitions_load_as_dagster_loads_them():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("tuoyu_pipeline") is not None


def test_runs_from_the_ui_schedule_and_sensor_use_the_executor_of_tuoyu_run():
    # `tuoyu run` executes in-process; a run the daemon launches uses the job's executor.
    # Dagster's default (a process per step) made the sensor's runs five times slower.
    for name in ("tuoyu_pipeline", "report_for_month"):
        assert defs.resolve_job_def(name).executor_def.name == "in_process", name


def test_every_asset_has_a_description_and_a_stage_group():
    specs = defs.resolve_all_asset_specs()
    assert specs
    for spec in specs:
        name = spec.key.to_user_string()
        assert spec.description and spec.description.strip(), f"{name} has no description"
        assert spec.group_name in STAGES, f"{name} is in group {spec.group_name!r}"
    assert {spec.group_name for spec in specs} == STAGES


def test_the_pipeline_job_builds_every_unpartitioned_asset_and_runs_every_check():
    graph = defs.resolve_asset_graph()
    in_job = set(JOB.asset_layer.selected_asset_keys)
    for spec in defs.resolve_all_asset_specs():
        if spec.partitions_def is None:
            assert spec.key in in_job, f"{spec.key.to_user_string()} is not in tuoyu_pipeline"
    checks = set(graph.asset_check_keys)
    assert checks, "the validation checks are visible"
    job_checks = set(JOB.asset_layer.asset_graph.asset_check_keys)
    assert {c for c in checks if c.asset_key in in_job} <= job_checks


def test_every_partitioned_asset_has_a_job():
    jobs = [j for j in defs.resolve_all_job_defs() if not j.name.startswith("__")]
    covered = set().union(*(set(j.asset_layer.selected_asset_keys) for j in jobs))
    for spec in defs.resolve_all_asset_specs():
        assert spec.key in covered, f"{spec.key.to_user_string()} is in no job"


def test_dagster_home_runs_one_run_at_a_time_without_telemetry(tmp_path):
    with dagster_instance(tmp_path / "dagster_home") as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.telemetry_enabled
        assert instance.is_persistent and instance.root_directory == str((tmp_path / "dagster_home").resolve())


def test_dagster_yaml_is_brought_up_to_date_unless_it_is_the_offices_own(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = home / "dagster.yaml"
    config.write_text("# Written by `tuoyu dev` (pipeline/warehouse/lock.py).\nconcurrency: {}\n", encoding="utf-8")
    prepare_dagster_home(home)  # an earlier one of tuoyu's: replaced
    assert config.read_text(encoding="utf-8") == DAGSTER_YAML
    own = "telemetry:\n  enabled: false\nrun_monitoring:\n  enabled: true\n"
    config.write_text(own, encoding="utf-8")
    prepare_dagster_home(home)  # the office's own: kept
    assert config.read_text(encoding="utf-8") == own
    assert [p.name for p in home.iterdir()] == ["dagster.yaml"]  # no temporary file left
