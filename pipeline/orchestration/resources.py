"""The one Dagster resource, `tuoyu`: a run's settings, the run lock it holds, and the warehouse
connection that goes with them (`Tuoyu`).

Two routes make it, and neither goes through the environment:

- `tuoyu run` holds the run lock and hands its own Settings and the held lock to the job as a
  ready `Tuoyu` (pipeline/commands/run.py);
- runs that Dagster launches (schedule, sensor, UI) get it from `TuoyuResource`, whose fields
  the one Definitions configures with `dg.EnvVar`: when the run starts, the resource builds the
  Settings from its fields and takes the run lock, and keeps the run's log file, for as long
  as it is in use (a step, when Dagster runs each step in a process of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import dagster as dg
import duckdb

from pipeline.orchestration.console_log import FAULT_METADATA  # a step failure a fault caused
from pipeline.settings import VARIABLES, Settings, variables_set
from pipeline.warehouse.connection import connect
from pipeline.warehouse.faults import explain
from pipeline.warehouse.lock import RunLock, run_lock
from pipeline.warehouse.run_log import run_id as log_name, run_log


class Tuoyu:
    """What every asset and check gets as `tuoyu`: the run's settings and, while the run lock is
    held, connections to its warehouse."""

    def __init__(self, settings: Settings, lock: RunLock) -> None:
        if not lock.holds(settings.warehouse):
            raise ValueError(f"the run lock held is not the one of {settings.warehouse}")
        self._settings = settings
        self.lock = lock

    def settings(self) -> Settings:
        return self._settings

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.lock.held:  # the run is over: nothing writes without the lock
            raise RuntimeError(f"the run lock of {self._settings.warehouse} is no longer held")
        try:
            con = connect(self._settings.warehouse, memory_limit=self._settings.memory_limit)
            try:
                yield con
            finally:
                con.close()
        except Exception as exc:
            _stop_on_fault(exc, self._settings)
            raise


def _stop_on_fault(error: Exception, settings: Settings) -> None:
    """A full disk, a folder that cannot be written, a corrupt warehouse: a retry (the job's
    policy retries twice, 15 s apart) cannot mend them, so the step fails at once, with the
    sentence for the office (pipeline/warehouse/faults.py) and the fault's kind as metadata."""
    fault = explain(error, warehouse=settings.warehouse)
    if fault is not None:
        raise dg.Failure(description=str(fault), metadata={FAULT_METADATA: fault.kind},
                         allow_retries=False) from None


class TuoyuResource(dg.ConfigurableResource):
    """The settings of runs that Dagster launches, one field per variable (extract-format.md §5),
    each configured with `dg.EnvVar` by `from_environment`; an empty field is an unset variable
    (the setting's default). Dagster shows the variables' names, never their values."""

    inbox: str = ""
    reference: str = ""
    warehouse: str = ""
    reports: str = ""
    pseudonym_key: str = ""
    demo: str = ""
    compiler: str = ""
    lock_wait: str = ""
    schedule_cron: str = ""
    memory_limit: str = ""
    log_level: str = ""
    sql_timeout: str = ""
    sql_memory_limit: str = ""
    first_month: str = ""
    strict_checks: str = ""
    dagster_home: str = ""

    @classmethod
    def from_environment(cls) -> TuoyuResource:
        """An `EnvVar` for each variable the environment sets (Dagster has no EnvVar default:
        an unset one would fail the run), resolved when a run starts."""
        return cls(**{field: dg.EnvVar(name) for field, name in variables_set().items()})

    def settings(self) -> Settings:
        values = {name: getattr(self, field) for field, name in VARIABLES.items()}
        return Settings.from_env({name: value for name, value in values.items() if value})

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Tuoyu]:
        """The run lock, and the run's log file `dagster-<start>-<run id>.log` in the log
        folder, as `tuoyu run` keeps its own (pipeline/warehouse/run_log.py), for as long as
        the resource is in use."""
        settings = self.settings()
        with run_lock(settings.warehouse, settings.lock_wait) as lock:
            with run_log(settings.log_folder, _log_name(context)):
                yield Tuoyu(settings, lock)


def _log_name(context: dg.InitResourceContext) -> str:
    """`dagster-<the run's start>-<run id>`: the same for every time the run sets its resources
    up (Dagster does it once more after the last step), so that one run keeps one file."""
    run_id = context.run_id or "adhoc"
    record = context.instance.get_run_record_by_id(run_id) if context.instance and context.run_id else None
    started = record.create_timestamp.astimezone() if record is not None else datetime.now()
    return log_name("dagster", started, run_id[:8])
