"""Run logs: `tuoyu run` keeps `cli-<start>-<pid>.log`, a run that Dagster launches (schedule,
sensor, UI) `dagster-<start>-<run id>.log`, in the log folder beside the warehouse; the newest
KEEP_LOGS of each kind stay."""

from __future__ import annotations

import logging

import dagster as dg

from pipeline.orchestration.resources import TuoyuResource
from pipeline.settings import Settings
from pipeline.warehouse import run_log as run_log_module
from pipeline.warehouse.run_log import run_log


def test_a_run_dagster_launches_writes_its_own_log_file(tmp_path):
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    resource = TuoyuResource(warehouse=str(warehouse), lock_wait="0", demo="1")
    folder = Settings.from_env({"TUOYU_WAREHOUSE": str(warehouse), "TUOYU_DEMO": "1"}).log_folder
    with dg.build_resources({"tuoyu": resource}):
        logging.getLogger("pipeline.ingest.load").info("loaded 托育机构_2024-06.csv: 22 rows")
    logging.getLogger("pipeline.ingest.load").info("after the run: in no run's file")

    files = sorted(folder.glob("*.log"))
    assert [f.name.split("-")[0] for f in files] == ["dagster"]  # build_resources has no run: "adhoc"
    assert files[0].name.endswith("-adhoc.log")
    text = files[0].read_text(encoding="utf-8")
    assert "INFO pipeline.ingest.load: loaded 托育机构_2024-06.csv: 22 rows" in text
    assert "after the run" not in text  # the handler went with the run


def test_the_newest_logs_of_each_kind_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(run_log_module, "KEEP_LOGS", 3)
    for day in range(1, 6):  # five older runs of each kind
        (tmp_path / f"cli-2026110{day}T080000-100.log").write_text("", encoding="utf-8")
        (tmp_path / f"dagster-2026110{day}T080000-abcd1234.log").write_text("", encoding="utf-8")

    with run_log(tmp_path, "dagster-20261201T080000-ef567890") as path:
        assert path == tmp_path / "dagster-20261201T080000-ef567890.log"

    # 3 of the dagster kind: the new one and the two newest before it; the cli kind untouched
    assert sorted(p.name for p in tmp_path.glob("dagster-*.log")) == [
        "dagster-20261104T080000-abcd1234.log", "dagster-20261105T080000-abcd1234.log",
        "dagster-20261201T080000-ef567890.log"]
    assert len(list(tmp_path.glob("cli-*.log"))) == 5


def test_a_folder_that_cannot_be_made_gives_no_log_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with run_log(blocker, "cli-20261201T080000-1") as path:
        assert path is None
