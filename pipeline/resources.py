"""The one Dagster resource: the project's settings, read from the environment when a run
starts (never at import), and the warehouse connection that goes with them."""


from contextlib import contextmanager
from collections.abc import Iterator

import dagster as dg
import duckdb

from pipeline.reference import default_reference_folder
from pipeline.settings import Settings
from pipeline.warehouse import connect


class TuoyuResource(dg.ConfigurableResource):
    """Paths and key from TUOYU_* variables (EXTRACTS.md §5); `demo` forces demo/test mode."""

    demo: bool = False

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
