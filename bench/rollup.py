"""The rollup's benchmark (issue 17): a prefecture of 12, 140 and 2,800 simulated counties ×
60 months of bundles, `tuoyu run` on its reference folder as one process, start to exit.

    uv run --frozen python bench/rollup.py [--counties 12,140,2800] [--months 60] [--repeat N]
    make bench            (runs bench/run.py, then this)

For each size the bundles are simulated once (pipeline/rollup/simulate.py) into
bench/cache/rollup-<N>/ with a prefecture folder of N counties; that time is printed but
not counted. Then, on an empty bundle store and warehouse, `--repeat` times over:

    first        `tuoyu run`: receive every bundle (receive_all's path, run_rollup) and build
    nothing_new  `tuoyu run` again: every bundle has its receipt; nothing read, nothing built

each measured like the pipeline's bench (bench/measure.py: wall, CPU, peak RSS from wait4,
others' share of the CPU meanwhile). The best repetition is reported. Targets: 140
counties ≤ 30 s and ≤ 2 GB; 2,800 counties ≤ 5 min.

Results: a table on stdout, bench/results/rollup.json (git-ignored), and the section
"Rollup" of bench/RESULTS.md (replaced, or appended when there is none).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import run_measured  # noqa: E402
from output import _render, machine, targets_table  # noqa: E402

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / "cache"
RESULTS = BENCH / "results"
SIZES = (12, 140, 2800)
MEASURES = ("first", "nothing_new")
PREFECTURE = "980000"
SECTION = "## Rollup (bench/rollup.py)"

# (counties, measure, key, limit, unit): the targets of issue 17
TARGETS = (
    (140, "first", "wall_s", 30.0, "s", "rollup, 140 counties × 60 months"),
    (140, "first", "peak_rss_mb", 2048.0, "MiB", "rollup peak RSS, 140 counties × 60 months"),
    (2800, "first", "wall_s", 300.0, "s", "rollup, 2,800 counties × 60 months"),
)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def months(count: int, end: str = "2025-12") -> list[str]:
    year, month = map(int, end.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(out)


def counties(n: int) -> list[tuple[str, str]]:
    return [(f"{910000 + i}", f"模拟县{i:04d}") for i in range(1, n + 1)]


def ensure_prefecture(n: int, month_count: int) -> tuple[Path, Path, float]:
    """The prefecture folder and the inbox of `n` simulated counties (made once, cached);
    the seconds the simulation took (when it was made)."""
    from pipeline.rollup.simulate import simulate_bundles

    folder = CACHE / f"rollup-{n}x{month_count}"
    reference, inbox, done = folder / "prefecture", folder / "inbox", folder / ".complete"
    if done.exists():
        return reference, inbox, float(done.read_text().strip() or 0)
    shutil.rmtree(folder, ignore_errors=True)
    reference.mkdir(parents=True)
    rows = [f"{PREFECTURE},模拟市,地级市,,"] + [f"{code},{name},县,,{PREFECTURE}" for code, name in counties(n)]
    (reference / "areas.csv").write_text("area_code,area_name,area_type,urban_rural,parent_code\n"
                                         + "\n".join(rows) + "\n", encoding="utf-8")
    started = time.perf_counter()
    simulate_bundles(inbox, counties(n), months(month_count), seed=17)
    seconds = time.perf_counter() - started
    done.write_text(f"{seconds:.1f}\n")
    return reference, inbox, seconds


def tuoyu() -> list[str]:
    script = Path(sys.executable).parent / "tuoyu"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline.commands.cli"]


def child_env(reference: Path, inbox: Path, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUOYU_", "DAGSTER_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(PYTHONPYCACHEPREFIX=str(CACHE / "pycache"), TUOYU_REFERENCE=str(reference), TUOYU_INBOX=str(inbox),
               TUOYU_WAREHOUSE=str(work / "warehouse.duckdb"), TUOYU_REPORTS=str(work / "reports"),
               TUOYU_LOCK_WAIT="5")
    return env


def sequence(n: int, reference: Path, inbox: Path) -> dict[str, dict]:
    work = CACHE / f"rollup-{n}-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = child_env(reference, inbox, work)
    out = {}
    for name in MEASURES:
        m = run_measured(tuoyu() + ["run"], env=env, cwd=work, log_dir=work / "logs", name=name)
        if m.exit_code != 0:
            log(f"  {name}: exit code {m.exit_code}; see {work / 'logs' / name}.err")
        log(f"  {name:<12} {m.wall_s:7.1f} s wall  {m.cpu_s:7.1f} s cpu  {m.peak_rss_mb:7.0f} MiB  "
            f"others {m.others_cpu_share or 0:.0%}  load {m.load_before:.1f}")
        out[name] = {**m.as_dict(), "load_before": m.load_before}
    return out


def judge(results: dict) -> list[dict]:
    rows = []
    for n, measure, key, limit, unit, name in TARGETS:
        m = results["sizes"].get(str(n), {}).get("measures", {}).get(measure)
        value = m[key] if m and m["exit_code"] == 0 else None
        verdict = "not measured" if value is None else ("PASS" if value <= limit else "FAIL")
        rows.append({"target": name, "unit": unit, "limit": limit,
                     "figure": None if value is None else round(value, 3), "verdict": verdict})
    return rows


def summary_table(results: dict, markdown: bool = False) -> str:
    header = ("counties", "measure", "wall s", "cpu s", "peak RSS MiB", "bundles MB", "load", "others' CPU")
    rows = []
    for n, data in results["sizes"].items():
        for name, m in data["measures"].items():
            rows.append([n, name + ("" if m["exit_code"] == 0 else f" (exit {m['exit_code']})"),
                         f"{m['wall_s']:,.1f}", f"{m['cpu_s']:,.1f}", f"{m['peak_rss_mb']:,.0f}",
                         f"{data['bundle_mb']:,.1f}", f"{m['load_before']:.1f}",
                         "—" if m.get("others_cpu_share") is None else f"{m['others_cpu_share']:.0%}"])
    return _render(header, rows, markdown)


def markdown_section(results: dict) -> str:
    m = results["machine"]
    sims = "; ".join(f"{n} counties: {d['simulate_s']:.1f} s" for n, d in results["sizes"].items())
    return f"""{SECTION}

Written by `bench/rollup.py` on {datetime.fromisoformat(results['started_at']):%Y-%m-%d %H:%M} UTC
({m['cores']} cores, {m['memory_gib']} GiB, code {m['code']}); load average at the start
{m['load_average_start']}, at the end {results['load_average_end']}. Each figure is `tuoyu run` on a
prefecture folder as one process (best of {results['repeat']}): `first` receives every county's bundle of
{results['months']} months and builds; `nothing_new` runs again with nothing new. Simulating
the bundles is not counted (when they were made: {sims}). bench/run.py rewrites this file
after a full run; `make bench` runs this script after it, which adds this section again.

{summary_table(results, markdown=True)}

{targets_table(results['targets'], markdown=True)}
"""


def write_section(text: str) -> None:
    """Replace the Rollup section of bench/RESULTS.md (up to the next `## ` heading), or append it."""
    path = BENCH / "RESULTS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if SECTION in current:
        before, rest = current.split(SECTION, 1)
        after = rest.split("\n## ", 1)
        current = before.rstrip("\n") + "\n\n" + text + ("\n## " + after[1] if len(after) > 1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counties", default=",".join(map(str, SIZES)), help="comma-separated (default 12,140,2800)")
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-markdown", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    sizes = [int(x) for x in args.counties.split(",")]
    results: dict = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                     "months": args.months, "repeat": args.repeat, "sizes": {}}
    log(f"rollup: counties {sizes} × {args.months} months; load average {os.getloadavg()}")
    for n in sizes:
        reference, inbox, simulated = ensure_prefecture(n, args.months)
        size = sum(p.stat().st_size for p in inbox.iterdir())
        log(f"{n} counties: {size / 1e6:.1f} MB of bundles (simulated in {simulated:.1f} s, not counted)")
        reps = [sequence(n, reference, inbox) for _ in range(args.repeat)]
        best = {name: min((r[name] for r in reps), key=lambda m: (m["exit_code"] != 0, m["wall_s"]))
                for name in MEASURES}
        results["sizes"][str(n)] = {"measures": best, "bundle_mb": round(size / 1e6, 1), "simulate_s": simulated,
                                    "repetitions": reps}
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = judge(results)
    print(summary_table(results))
    print()
    print(targets_table(results["targets"]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rollup.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if not args.no_markdown:
        write_section(markdown_section(results))
        log(f"wrote the Rollup section of {BENCH / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
