"""A run's log file, `<log folder>/<run id>.log` (Settings.log_folder: `logs` beside the
warehouse): the pipeline's messages at INFO and above, English included, that the terminal
does not show. `tuoyu run` names its runs `cli-<start>-<pid>` (pipeline/commands/run.py,
pipeline/rollup/run.py), runs that Dagster launches (schedule, sensor, UI) `dagster-<start>-
<run id>` (pipeline/orchestration/resources.py); the newest KEEP_LOGS of each kind are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

# The run logs of each kind kept in the log folder, newest first: a few years of monthly runs
# and the sensor's.
KEEP_LOGS = 200


def run_id(kind: str, started: datetime, tag: str) -> str:
    """`<kind>-<start, to the second>-<tag>`: the log file's name, which sorts by start within
    a kind (what run_log's pruning relies on); `tuoyu run`'s is also audit.runs' id."""
    return f"{kind}-{started:%Y%m%dT%H%M%S}-{tag}"


_TAKEN: set[str] = set()


def new_run_id(kind: str, started: datetime, tag: str) -> str:
    """`run_id(…)` for a run of this process, or `<run id>.2`, `.3`, … when the process has
    already used it: a run with nothing new takes well under a second, and two runs of one
    process (the tests', or an embedding program's) may start within the same second."""
    base = run_id(kind, started, tag)
    candidate, n = base, 1
    while candidate in _TAKEN:
        n += 1
        candidate = f"{base}.{n}"
    _TAKEN.add(candidate)
    return candidate


@contextmanager
def run_log(folder: Path, run_id: str) -> Iterator[Path | None]:
    """This run's log file, `<log folder>/<run id>.log`, for as long as the block runs. None
    when the folder cannot be written (the run goes on without it); the oldest logs of the
    same kind (the run id's first word: `cli`, `dagster`) beyond KEEP_LOGS are removed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{run_id}.log"
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        yield None
        return
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("pipeline")
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # the terminal's handler keeps its own level (cli._configure_logging)
    logger.addHandler(handler)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
        kind = run_id.split("-", 1)[0]
        for old in sorted(folder.glob(f"{kind}-*.log"), reverse=True)[KEEP_LOGS:]:
            old.unlink(missing_ok=True)
