"""Operating the Dagster instance: one run at a time against the warehouse."""

from __future__ import annotations

from pathlib import Path

# The warehouse has one writer: the run queue starts one run at a time, and the daemon
# retries a run that failed for a transient reason (see the job's retry policy too).
DAGSTER_YAML = """\
# Written by `tuoyu dev`.
run_queue:
  max_concurrent_runs: 1
run_retries:
  enabled: true
  max_retries: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home
