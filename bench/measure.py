"""Timing one whole process, start to exit, like `/usr/bin/time -v`.

`run_measured` starts the command and reaps it with `os.wait4`, which returns the
resource usage of that one child (and the descendants it waited for): user and system
CPU seconds and the peak resident set size. `RUSAGE_CHILDREN` would give the maximum over
every child the benchmark ever ran, not this one's.

`others_cpu_share` says how much of the machine other processes took meanwhile (from
/proc/stat): the machine is shared, and a figure taken while others were busy is slower
than the code.

`stage_seconds` reads the run's own step timings from Dagster's console log (the bench
runs `tuoyu run` with TUOYU_LOG_LEVEL=DEBUG, which makes Dagster print
`Finished execution of step "<key>" in <duration>.` for every step) and adds them up by
stage. Whatever is not inside a step (interpreter start, imports, preflight, Dagster's
own bookkeeping) is `other`.

`flag_months` reads how many months of data-quality flags the quality step rebuilt (it
logs `quality review: flags of N of M month(s) rebuilt`): a new month should rebuild its
own flags only (issue 16).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

STAGES = ("ingest", "validate", "indicators", "quality", "reports")

# Step key prefixes of the tuoyu_pipeline job (asset keys joined by "__"; asset checks
# are steps of their own, named after their asset) and the stage each belongs to.
_STAGE_OF_STEP = (
    ("reference__", "ingest"),
    ("staging__", "ingest"),
    ("audit__validated_extracts", "validate"),
    ("marts", "indicators"),
    ("quality", "quality"),  # the quality step and its checks (quality_flag_checks)
    ("reports__", "reports"),
    ("published__", "reports"),
)
# Dagster's console line (` - <step> - <message>`), not the progress display's copy of it.
_FLAG_MONTHS = re.compile(r" - quality - quality review: flags of (?P<rebuilt>\d+) of (?P<months>\d+) month")
_STEP_DONE = re.compile(r'Finished execution of step "(?P<step>[^"]+)" in (?P<duration>[0-9hms.]+)\.')
_DURATION_PART = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    """One process: what it cost and what it printed."""

    command: list[str]
    exit_code: int
    wall_s: float
    cpu_s: float
    user_s: float
    system_s: float
    peak_rss_mb: float
    load_before: float
    load_after: float
    others_cpu_share: float | None  # other processes' CPU over the machine's capacity meanwhile
    steps: dict[str, float] = field(default_factory=dict)
    flag_months: int | None = None  # months of data-quality flags the quality step rebuilt
    stdout_tail: str = ""

    @property
    def stages(self) -> dict[str, float]:
        return stage_seconds(self.steps, self.wall_s)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["stages"] = self.stages
        return data


def parse_duration(text: str) -> float:
    """Dagster's `format_duration` back to seconds: `8.3ms`, `533ms`, `5.6s`, `4m52s`, `1h4m`."""
    return sum(float(m["value"]) * _UNIT_SECONDS[m["unit"]] for m in _DURATION_PART.finditer(text))


def step_seconds(log_text: str) -> dict[str, float]:
    steps: dict[str, float] = {}
    for match in _STEP_DONE.finditer(log_text):
        steps[match["step"]] = steps.get(match["step"], 0.0) + parse_duration(match["duration"])
    return steps


def flag_months(log_text: str) -> int | None:
    """Months of flags the run's quality step rebuilt (None: no quality step logged it; a
    step retried: its last attempt)."""
    found = _FLAG_MONTHS.findall(log_text)
    return int(found[-1][0]) if found else None


def stage_of(step: str) -> str:
    for prefix, stage in _STAGE_OF_STEP:
        if step.startswith(prefix):
            return stage
    return "other"


def stage_seconds(steps: dict[str, float], wall_s: float) -> dict[str, float]:
    """Seconds per stage; `other` = the wall time outside every step. Empty for a process
    that runs no Dagster steps (`tuoyu report`)."""
    if not steps:
        return {}
    stages = dict.fromkeys(STAGES, 0.0)
    for step, seconds in steps.items():
        stage = stage_of(step)
        stages[stage] = stages.get(stage, 0.0) + seconds
    stages["other"] = max(0.0, wall_s - sum(steps.values()))
    return {k: round(v, 3) for k, v in stages.items()}


def run_measured(command: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path, name: str) -> Measured:
    """Run `command` to completion; its output goes to `<log_dir>/<name>.out|.err`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    load_before = os.getloadavg()[0]
    busy_before = busy_cpu_seconds()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    busy_after = busy_cpu_seconds()
    cpu = usage.ru_utime + usage.ru_stime
    others = None
    if busy_before is not None and busy_after is not None:
        capacity = wall * (os.cpu_count() or 1)
        others = round(max(0.0, busy_after - busy_before - cpu) / capacity, 3)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    return Measured(
        command=command,
        exit_code=process.returncode,
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        user_s=round(usage.ru_utime, 3),
        system_s=round(usage.ru_stime, 3),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
        others_cpu_share=others,
        steps=step_seconds(stderr),
        flag_months=flag_months(stderr),
        stdout_tail="\n".join(stdout.strip().splitlines()[-4:]),
    )
