"""The performance targets (issue 7, and the timing requirements of issues 3–5), each
worked out from the benchmark's results and judged PASS or FAIL.

`results["scales"][<scale>]["measures"][<measure>]` is the best repetition of a measure
(a dict of `Measured.as_dict()` plus `rows`), `results["scales"][<scale>]["floor"]` the
floor. A target whose inputs were not measured (a scale left out) is `not measured`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GiB = 1024.0


@dataclass(frozen=True)
class Target:
    name: str
    unit: str
    limit: float
    figure: Callable[[dict[str, Any]], float | None]


def _measure(scale: int, measure: str, key: str, stage: str | None = None) -> Callable[[dict[str, Any]], float | None]:
    def figure(results: dict[str, Any]) -> float | None:
        m = results["scales"].get(str(scale), {}).get("measures", {}).get(measure)
        if not m or m.get("exit_code") != 0:
            return None
        return m["stages"].get(stage) if stage else m.get(key)
    return figure


def _growth(results: dict[str, Any]) -> float | None:
    small, large = _measure(10, "backfill", "wall_s")(results), _measure(50, "backfill", "wall_s")(results)
    return large / small if small and large else None


def _over_floor(scale: int) -> Callable[[dict[str, Any]], float | None]:
    def figure(results: dict[str, Any]) -> float | None:
        wall = _measure(scale, "backfill", "wall_s")(results)
        floor = results["scales"].get(str(scale), {}).get("floor")
        return wall / floor["wall_s"] if wall and floor and floor.get("exit_code") == 0 else None
    return figure


TARGETS = (
    Target("full backfill, scale 1", "s", 60, _measure(1, "backfill", "wall_s")),
    Target("incremental month, scale 1", "s", 20, _measure(1, "incremental", "wall_s")),
    Target("nothing new, scale 1", "s", 4, _measure(1, "nothing_new", "wall_s")),
    Target("full backfill, scale 50", "s", 600, _measure(50, "backfill", "wall_s")),
    Target("full backfill peak RSS, scale 50", "MiB", 6 * GiB, _measure(50, "backfill", "peak_rss_mb")),
    Target("growth scale 10 -> 50 (backfill time ratio)", "x", 5.5, _growth),
    Target("pipeline / floor, scale 50", "x", 3, _over_floor(50)),
    # Issues 3-5: stage timings at scale 50, from the runs' own step timings.
    Target("validate one month, scale 50 (incremental run's validate stage)", "s", 30,
           _measure(50, "incremental", "wall_s", stage="validate")),
    Target("indicators, all months, scale 50 (backfill's indicators stage)", "s", 60,
           _measure(50, "backfill", "wall_s", stage="indicators")),
    Target("one report, scale 50 (whole `tuoyu report` process)", "s", 10, _measure(50, "report", "wall_s")),
    # Issue 16: the data-quality review (the quality step and its checks).
    Target("quality flags, all months, scale 50 (backfill's quality stage)", "s", 15,
           _measure(50, "backfill", "wall_s", stage="quality")),
    # "A new month adds only its own flags' cost": the incremental run rebuilds the flags
    # of its own month and of no other (the quality stage's seconds are in the measures).
    Target("quality, one new month, scale 50: months of flags rebuilt (incremental run)", "months", 1,
           _measure(50, "incremental", "flag_months")),
)


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        value = target.figure(results)
        verdict = "not measured" if value is None else ("PASS" if value <= target.limit else "FAIL")
        rows.append({"target": target.name, "unit": target.unit, "limit": target.limit,
                     "figure": None if value is None else round(value, 3), "verdict": verdict})
    return rows
