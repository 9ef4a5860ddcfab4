"""One run at a time against the warehouse: the run lock of `tuoyu run` (and `tuoyu report`),
and the run queue of the Dagster instance of `tuoyu dev`.

The run lock is an exclusive `flock` on `<warehouse>.lock`, held for the whole run. A second
run waits for it (TUOYU_LOCK_WAIT seconds, default 600), then gives up with a message. The
kernel releases the lock when the holding process ends in any way (also `kill -9`, a crash,
a power cut), so a `.lock` file left behind never blocks anything: only a live process
holds the lock, and the file itself is just where it is taken.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pipeline.settings import ConfigError
from pipeline.warehouse.connection import make_warehouse_folder

DEFAULT_LOCK_WAIT = 600.0

# ---------------------------------------------------------------- the Dagster instance of `tuoyu dev`

# The warehouse has one writer. The run queue starts one run at a time (a schedule tick and
# a sensor run never overlap), and the daemon retries a run once when it died for a reason
# other than a failing step (the process was killed, the machine restarted): a step that
# fails is already retried by the job's own retry policy, and retrying a whole run for bad
# data would only repeat the same failure.
DAGSTER_YAML = """\
# Written by `tuoyu dev` (pipeline/warehouse/lock.py). Delete it to get the current defaults.
concurrency:
  runs:
    max_concurrent_runs: 1
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    """Create DAGSTER_HOME with its dagster.yaml, unless one is there already (kept as is)."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


# ---------------------------------------------------------------- the run lock of `tuoyu run`


class RunInProgress(Exception):
    pass


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(path: Path) -> str:
    """Who holds the lock, as the holder wrote it into the lock file (best effort)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return text.splitlines()[0] if text else ""


@contextmanager
def run_lock(warehouse: Path, wait_seconds: float,
             on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """One writer at a time: an exclusive lock on `<warehouse>.lock`. A second run waits up
    to `wait_seconds` for the first to finish (telling `on_wait` once), then gives up with
    a clear message."""
    make_warehouse_folder(warehouse)
    path = lock_path(warehouse)
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                who = f"（{holder}）" if holder else ""
                if time.monotonic() >= deadline:
                    raise RunInProgress(
                        f"另一次运行{who}正在使用数据仓库 {warehouse}，请等其结束后再运行"
                        f"（已等待 {wait_seconds:.0f} 秒，等待时间由 TUOYU_LOCK_WAIT 设置）。"
                        f" Another run ({holder or 'unknown process'}) is using {warehouse}; "
                        "try again when it has finished."
                    ) from None
                if on_wait is not None and not told:
                    on_wait(f"另一次运行{who}正在使用数据仓库，等待其结束（最多 {wait_seconds:.0f} 秒）…"
                            f" Waiting for the other run to finish (up to {wait_seconds:.0f} s)…")
                    told = True
                time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
        # Who holds it, for the message of the next run to come along. A SIGKILLed holder
        # leaves this text behind; it only ever describes, never decides.
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now():%Y-%m-%d %H:%M:%S}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_wait_seconds(env: dict[str, str] | None = None) -> float:
    """TUOYU_LOCK_WAIT: how long a second run waits for the first (seconds, default 600)."""
    raw = (env if env is not None else os.environ).get("TUOYU_LOCK_WAIT", "").strip()
    if not raw:
        return DEFAULT_LOCK_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigError(f"TUOYU_LOCK_WAIT 应为等待的秒数（如 600），现为 {raw!r}。"
                          f" TUOYU_LOCK_WAIT must be a number of seconds, not {raw!r}.")
    return value
