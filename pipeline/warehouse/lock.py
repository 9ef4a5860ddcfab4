"""One run at a time against the warehouse: the run lock of `tuoyu run`, `tuoyu report` and the
runs Dagster launches.

The run lock is an exclusive `flock` on `<warehouse>.lock`, held for the whole run. A second
run waits for it (TUOYU_LOCK_WAIT seconds, default 600), then gives up with a message. The
kernel releases the lock when the holding process ends in any way (also `kill -9`, a crash,
a power cut), so a `.lock` file left behind never blocks anything: only a live process
holds the lock, and the file itself is just where it is taken.

`run_lock` yields a `RunLock`: the holder hands it to what writes during the run (the job's
resource), which so knows the lock is held and does not take it a second time.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.warehouse.connection import make_warehouse_folder


class RunInProgress(Exception):
    pass


@dataclass
class RunLock:
    """The run lock of one warehouse, held from the start of `run_lock` to its end."""

    warehouse: Path
    held: bool = True

    def holds(self, warehouse: Path) -> bool:
        """Whether this lock is held, and on `warehouse`."""
        return self.held and self.warehouse.resolve() == warehouse.resolve()


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
             on_wait: Callable[[str], None] | None = None) -> Iterator[RunLock]:
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
        lock = RunLock(warehouse)
        try:
            yield lock
        finally:
            lock.held = False
            fcntl.flock(handle, fcntl.LOCK_UN)

