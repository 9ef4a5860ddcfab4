"""`tuoyu run`: preflight checks with clear messages, then the Dagster job in-process."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.settings import ConfigError, Settings


@dataclass
class RunOutcome:
    success: bool
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)


def export_settings(settings: Settings) -> None:
    """The Dagster resource reads the environment: make it say what these settings say."""
    os.environ["TUOYU_INBOX"] = str(settings.inbox)
    os.environ["TUOYU_WAREHOUSE"] = str(settings.warehouse)
    os.environ["TUOYU_REPORTS"] = str(settings.reports)
    if settings.reference is not None:
        os.environ["TUOYU_REFERENCE"] = str(settings.reference)
    if settings.demo:
        os.environ["TUOYU_DEMO"] = "1"


def preflight(settings: Settings) -> None:
    """Stop before anything is written when the run cannot complete."""
    from pipeline.reference import load_reference
    from pipeline.warehouse import connect

    settings.key()  # ConfigError without a key outside demo mode
    load_reference(settings.reference)  # ReferenceDataError names file and line
    if not settings.inbox.is_dir():
        raise ConfigError(f"收件箱文件夹不存在：{settings.inbox}。请检查 TUOYU_INBOX。Inbox folder not found.")
    connect(settings.warehouse).close()  # WarehouseLocked when another process holds it


def _summary(settings: Settings) -> list[str]:
    from pipeline.warehouse import connect

    con = connect(settings.warehouse, read_only=True)
    try:
        counts = dict(con.execute("select status, count(*) from audit.load_log group by status").fetchall())
        rejected = con.execute(
            "select coalesce(sum(rows_rejected), 0), coalesce(sum(rows_read), 0) from audit.load_log where status = 'loaded'"
        ).fetchone()
    finally:
        con.close()
    return [
        "文件 files: " + "，".join(f"{k} {v}" for k, v in sorted(counts.items())),
        f"当前数据行 rows in current files: {rejected[1]}，其中剔除 rejected {rejected[0]}",
    ]


class RunInProgress(Exception):
    pass


@contextmanager
def run_lock(warehouse: Path, wait_seconds: float):
    """One writer at a time: an exclusive lock on `<warehouse>.lock`. A second run waits up
    to `wait_seconds` for the first to finish, then gives up with a clear message."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    path = warehouse.with_name(warehouse.name + ".lock")
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunInProgress(
                        f"另一次运行正在使用数据仓库 {warehouse}，请等其结束后再运行（已等待 {wait_seconds:.0f} 秒）。"
                        f" Another run is using {warehouse}; try again when it has finished."
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_pipeline(settings: Settings, wait_seconds: float | None = None) -> RunOutcome:
    if wait_seconds is None:
        wait_seconds = float(os.environ.get("TUOYU_LOCK_WAIT", "600"))
    try:
        with run_lock(settings.warehouse, wait_seconds):
            return _run_pipeline(settings)
    except RunInProgress as exc:
        return RunOutcome(False, [f"无法运行 Cannot run: {exc}"])


def _run_pipeline(settings: Settings) -> RunOutcome:
    import dagster as dg

    from pipeline.definitions import defs
    from pipeline.reference import ReferenceDataError
    from pipeline.warehouse import WarehouseLocked

    try:
        preflight(settings)
    except (ConfigError, ReferenceDataError, WarehouseLocked) as exc:
        return RunOutcome(False, [f"无法运行 Cannot run: {exc}"])
    export_settings(settings)
    started = datetime.now().replace(microsecond=0)
    run_id = f"cli-{started:%Y%m%dT%H%M%S}-{os.getpid()}"
    _record(settings, run_id, started)
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    level = os.environ.get("TUOYU_LOG_LEVEL", "WARNING")
    result = defs.resolve_job_def("tuoyu_pipeline").execute_in_process(
        instance=instance, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": level}}}},
    )
    if not result.success:
        failures = [e.message for e in result.all_events if e.is_failure]
        outcome = RunOutcome(False, ["运行未完成 Run did not complete:", *failures[:5]])
    else:
        outcome = RunOutcome(True, ["运行完成 Run complete.", *_summary(settings)])
    _record(settings, run_id, started, outcome)
    return outcome


def _record(settings: Settings, run_id: str, started: datetime, outcome: RunOutcome | None = None) -> None:
    """One row per run in audit.runs, for `tuoyu status`."""
    from pipeline.status import record_run
    from pipeline.warehouse import connect

    con = connect(settings.warehouse)
    try:
        record_run(con, run_id, started,
                   finished_at=datetime.now().replace(microsecond=0) if outcome else None,
                   success=outcome.success if outcome else None,
                   summary=outcome.text() if outcome else None)
    finally:
        con.close()
