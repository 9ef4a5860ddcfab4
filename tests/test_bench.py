"""The benchmark's reading of a run (bench/measure.py) and its targets (bench/targets.py):
the quality step is a stage of its own, judged against issue 16's targets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str):
    """A module of bench/ (not a package: it runs as a script) under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("measure"), _load("targets")


LOG = """\
2026-12-05 10:40:01 - dagster - DEBUG - tuoyu_pipeline - 1 - marts - STEP_SUCCESS - Finished execution of step "marts" in 706ms.
10/14 数据核查 quality: quality review: flags of 1 of 62 month(s) rebuilt
2026-12-05 10:40:01 - dagster - INFO - tuoyu_pipeline - 1 - quality - quality review: flags of 1 of 62 month(s) rebuilt
2026-12-05 10:40:01 - dagster - DEBUG - tuoyu_pipeline - 1 - quality - STEP_SUCCESS - Finished execution of step "quality" in 1.2s.
2026-12-05 10:40:01 - dagster - DEBUG - tuoyu_pipeline - 1 - quality_flag_checks - STEP_SUCCESS - Finished execution of step "quality_flag_checks" in 300ms.
2026-12-05 10:40:02 - dagster - DEBUG - tuoyu_pipeline - 1 - reports__monthly_report - STEP_SUCCESS - Finished execution of step "reports__monthly_report" in 3.08s.
"""


def test_the_quality_step_and_its_checks_are_the_quality_stage(bench):
    measure, _ = bench
    assert "quality" in measure.STAGES
    assert measure.stage_of("quality") == measure.stage_of("quality_flag_checks") == "quality"
    assert measure.stage_of("marts") == "indicators"
    stages = measure.stage_seconds(measure.step_seconds(LOG), wall_s=6.0)
    assert stages["quality"] == pytest.approx(1.5)
    assert stages["indicators"] == pytest.approx(0.706)
    assert measure.flag_months(LOG) == 1
    assert measure.flag_months("no quality step") is None


def _results(backfill_quality: float, flag_months: int | None) -> dict:
    def run(stages: dict, months: int | None = None) -> dict:
        return {"exit_code": 0, "wall_s": 60.0, "peak_rss_mb": 1000.0, "stages": stages, "flag_months": months}

    return {"scales": {"50": {"measures": {
        "backfill": run({"quality": backfill_quality, "indicators": 7.0}, 62),
        "incremental": run({"quality": 0.5, "validate": 3.0}, flag_months),
    }}}}


def test_issue_16_targets(bench):
    _, targets = bench
    names = {"quality flags, all months, scale 50 (backfill's quality stage)": (15, "s"),
             "quality, one new month, scale 50: months of flags rebuilt (incremental run)": (1, "months")}
    judged = {t["target"]: t for t in targets.judge(_results(4.0, 1))}
    for name, (limit, unit) in names.items():
        assert (judged[name]["limit"], judged[name]["unit"], judged[name]["verdict"]) == (limit, unit, "PASS")
    judged = {t["target"]: t for t in targets.judge(_results(15.5, 62))}
    assert [judged[name]["verdict"] for name in names] == ["FAIL", "FAIL"]
    judged = {t["target"]: t for t in targets.judge(_results(4.0, None))}
    assert judged["quality, one new month, scale 50: months of flags rebuilt (incremental run)"]["verdict"] == \
        "not measured"
