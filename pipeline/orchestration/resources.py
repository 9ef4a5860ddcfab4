"""The one Dagster resource: the project's settings, read from the environment when a run
starts (never at import), and the warehouse connection that goes with them."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
import os

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipeline.reference import default_reference_folder
from pipeline.settings import Settings
from pipeline.warehouse.connection import connect

# Set by `tuoyu run` to its own process id while it holds the run lock, so that the
# resource inside that same process does not try to take the lock a second time.
LOCK_HELD_ENV = "TUOYU_LOCK_HELD"


class TuoyuResource(dg.ConfigurableResource):
    """Paths and key from TUOYU_* variables (extract-format.md §5); `demo` forces demo/test mode.

    Runs started by Dagster itself (schedule, sensor, UI) take the same run lock as
    `tuoyu run` for as long as the resource is in use, so the two never write at once.
    """

    demo: bool = False
    _locks: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from pipeline.warehouse.lock import lock_wait_seconds, run_lock

        if os.environ.get(LOCK_HELD_ENV) == str(os.getpid()):
            return
        stack = ExitStack()
        stack.enter_context(run_lock(self.settings().warehouse, lock_wait_seconds()))
        self._locks = stack

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._locks is not None:
            self._locks.close()
            self._locks = None

    def settings(self) -> Settings:
        settings = Settings.from_env()
        if self.demo:
            settings = settings.with_(demo=True)
        if settings.reference is None:
            settings = settings.with_(reference=default_reference_folder())
        return settings

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.settings().warehouse)
        try:
            yield con
        finally:
            con.close()
