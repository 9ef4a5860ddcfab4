"""The benchmark's results as text: the machine, the measures table, the targets table,
and bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from measure import STAGES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dagster", "duckdb", "polars", "great-expectations", "fastexcel", "matplotlib", "typst")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pipeline", "sql", "expectations"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        return commit + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
        "code": _git(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


_COLUMNS = ("scale", "measure", "wall s", "cpu s", "peak RSS MiB", "rows", "rows/s",
            *[f"{s} s" for s in STAGES], "other s", "÷ floor", "others' CPU")


# Other processes took more than this share of the machine during a measure: its figure
# says as much about them as about the code.
BUSY_SHARE = 0.10


def _load(m: dict[str, Any]) -> str:
    """Other processes' share of the machine's CPU while the measure ran."""
    share = m.get("others_cpu_share")
    return "—" if share is None else f"{share:.0%}"


def busy_measures(results: dict[str, Any]) -> list[str]:
    """The reported measures during which other processes took more than BUSY_SHARE."""
    busy = []
    for scale, data in results["scales"].items():
        for name, m in [*data["measures"].items(), ("floor", data["floor"])]:
            if (m.get("others_cpu_share") or 0) > BUSY_SHARE:
                busy.append(f"scale {scale} {name} ({m['others_cpu_share']:.0%})")
    return busy


def _rows(results: dict[str, Any]) -> list[list[str]]:
    table = []
    for scale, data in results["scales"].items():
        floor = data["floor"]
        for name, m in data["measures"].items():
            stages = m.get("stages", {})
            ratio = m["wall_s"] / floor["wall_s"] if name == "backfill" and floor.get("wall_s") else None
            table.append([
                scale, name + ("" if m["exit_code"] == 0 else f" (exit {m['exit_code']})"),
                _num(m["wall_s"]), _num(m["cpu_s"]), _num(m["peak_rss_mb"], 0),
                f"{m['rows']:,}" if m.get("rows") else "—", _num(m.get("rows_per_s"), 0),
                *[_num(stages.get(s)) if s in stages else "—" for s in STAGES],
                _num(stages.get("other")), _num(ratio, 2), _load(m),
            ])
        table.append([scale, "floor", _num(floor["wall_s"]), _num(floor["cpu_s"]), _num(floor["peak_rss_mb"], 0),
                      f"{floor.get('rows', 0):,}", _num(floor.get("rows_per_s"), 0),
                      *["—"] * len(STAGES), "—", "1.00", _load(floor)])
    return table


def _render(header: list[str] | tuple[str, ...], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = lambda r: "  ".join(str(x).rjust(w) if i > 1 else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def summary_table(results: dict[str, Any], markdown: bool = False) -> str:
    return _render(_COLUMNS, _rows(results), markdown)


def _target_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for t in targets:
        digits = 0 if t["unit"] in ("MiB", "months") else (2 if t["unit"] == "x" else 1)
        rows.append([t["target"], f"≤ {_num(t['limit'], digits)} {t['unit']}",
                     "—" if t["figure"] is None else f"{_num(t['figure'], digits)} {t['unit']}", t["verdict"]])
    return rows


def targets_table(targets: list[dict[str, Any]], markdown: bool = False) -> str:
    return _render(("target", "limit", "figure", "verdict"), _target_rows(targets), markdown)


def _busy_note(results: dict[str, Any]) -> str:
    busy = busy_measures(results)
    if not busy:
        return ""
    return (f"\nOther processes took more than {BUSY_SHARE:.0%} of the machine's CPU during: "
            f"{', '.join(busy)}; those figures are slower than the code.\n")


def _pairs(results: dict[str, Any]) -> str:
    return "; ".join(f"scale {scale}: " + ", ".join(f"{r:.2f}" for r in data["repetitions"]["backfill_over_floor"])
                     for scale, data in results["scales"].items())


def results_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    started = datetime.fromisoformat(results["started_at"])
    return f"""# Benchmark results

Written by `bench/run.py` (`make bench`, or `uv run --frozen python bench/run.py`) on
{started:%Y-%m-%d %H:%M} UTC; the full figures are in `bench/results/latest.json`.

**Machine:** {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']};
{packages}. Code: {m['code']}. Load average (1 min) {m['load_average_start'][0]} at the start and
{m['load_average_end'][0]} at the end: the machine is shared, so each figure is the best of
{results['repeat']} repetition(s).

**What is measured:** each line is one whole process (`tuoyu run`, `tuoyu report`,
`bench/floor.py`) from start to exit, timed with `os.wait4` (wall, user + system CPU, peak
RSS). The sample is `tuoyu sample --scale N`; the backfill reads the 61 months before
{results['months']['incremental']} into an empty warehouse, the incremental run adds
{results['months']['incremental']}, then a run with nothing new and the report of
{results['months']['incremental']}. Stage seconds are the run's own Dagster step timings
(ingest = reference + staging, validate = suites + file checks, indicators = marts + checks,
quality = the data-quality flags and reporting rates + their checks, reports = report +
published copy); `other` is everything outside the steps (interpreter
start, imports, preflight). The floor reads every file of the backfill's inbox as text with
polars/fastexcel and writes the rows into a DuckDB file. Children run with a bytecode
cache (`PYTHONPYCACHEPREFIX=bench/cache/pycache`), as an installed environment has.

Reproduce with `make bench` (or `uv run --frozen python bench/run.py --scales 1,10,50`);
samples are generated into `bench/cache/` on the first run (about 3 minutes for the three
scales) and reused while the generator is unchanged. A full run takes 15–25 minutes.

## Targets

{targets_table(results['targets'], markdown=True)}
{_busy_note(results)}
## Measures

{summary_table(results, markdown=True)}

Pipeline ÷ floor of each repetition (its backfill over the floor measured right around it):
{_pairs(results)}.
"""
