"""Running the suites through Great Expectations' SQL datasource, on the caller's DuckDB database.

Why GX gets cursors of the pipeline's connection instead of opening the file itself: DuckDB
lets one process hold a database file through one database instance only. duckdb-engine
opens connections with its own configuration (a `custom_user_agent`), so GX opening
`duckdb:///warehouse.duckdb` while the pipeline's connection is open fails with "Can't
open a connection to same database file with a different configuration"; and a GX engine
keeps the file until it is disposed. Here the SQLAlchemy engine is given a `creator` that
returns `con.cursor()` (DuckDB's second connection to the *same* database instance) in
duckdb-engine's wrapper. GX therefore never opens the file: no second instance, no
configuration clash, no lock, and it sees everything the pipeline has committed. The
cursor's default schema is `validation`, where the batch views live, so GX can reflect
them by their plain name. `GxSession.__exit__` disposes the engines, which closes those
cursors and never the caller's connection.

Results are summarised to counts per rule (`result_format="SUMMARY"`: for an
UnexpectedRowsExpectation that is the row count only, no row values), and the batch holds
pseudonymised staging rows only.
"""

from __future__ import annotations

import copy
import json
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipeline.validate.batch import SCHEMA, batch_name
from pipeline.validate.gx_shim import buffered_results
from pipeline.validate.suites import Suite

DATASOURCE = "warehouse"


@dataclass(frozen=True)
class GxOutcome:
    """What GX said about one kind's batch: counts only."""

    kind: str
    success: bool
    evaluated: int
    successful: int
    observed: dict[str, int]  # rule_id -> unexpected row count (GX observed_value)
    result_json: dict[str, Any] = field(repr=False)  # the GX validation result, as JSON


class GxError(RuntimeError):
    """GX could not evaluate an expectation (a broken query, or a GX change)."""


class _SharedContext:
    """The process's GX context, made by its first session and kept for the next ones.

    Making an ephemeral context and registering the SQL datasource, a kind's suite, its
    table asset and its validation definition take about a third of a kind's validation
    (about 0.1 s each time); they depend on nothing of the warehouse. The datasource's
    `creator` hands out cursors of the connection of the session that holds the context
    (`con`), so one context serves every warehouse of the process in turn. A suite is
    registered again when its content changes. A session that ends with an error discards
    the context: the next one starts from a new one.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        import great_expectations as gx
        import sqlalchemy
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.con: duckdb.DuckDBPyConnection | None = con  # adding the datasource tests a connection
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        # The URL only selects the dialect: every connection comes from `creator`.
        self.datasource = self.context.data_sources.add_sql(
            name=DATASOURCE,
            connection_string="duckdb:///:memory:",
            kwargs={"creator": self._connect, "poolclass": sqlalchemy.pool.StaticPool},
        )
        self._definitions: dict[str, tuple[str, Any]] = {}  # kind -> (suite's JSON, validation definition)

    def _connect(self) -> Any:
        from duckdb_engine import ConnectionWrapper

        if self.con is None:
            raise GxError("GX asked for a connection outside a validation session")
        cursor = self.con.cursor()
        cursor.execute(f"set schema = '{SCHEMA}'")
        return ConnectionWrapper(cursor)

    def definition(self, suite: Suite) -> Any:
        """The validation definition of `suite` on its kind's batch view, registered once."""
        content = json.dumps(suite.data, sort_keys=True, default=str)
        known = self._definitions.get(suite.kind)
        if known is not None and known[0] == content:
            return known[1]
        gx = self.gx
        gx_suite = gx.ExpectationSuite(**copy.deepcopy(suite.data))
        if len(gx_suite.expectations) != len(suite.rules):
            # GX logs and skips an expectation it cannot parse: never let a rule vanish silently.
            raise GxError(f"{suite.path}: GX accepted {len(gx_suite.expectations)} of {len(suite.rules)} expectations")
        name = f"{suite.kind}_rules"
        if known is not None:  # the kind's suite changed: replace it
            self.context.validation_definitions.delete(name)
            self.context.suites.delete(known[1].suite.name)
            batch_definition = known[1].data
        else:
            asset = self.datasource.add_table_asset(name=suite.kind, table_name=batch_name(suite.kind))
            batch_definition = asset.add_batch_definition_whole_table(f"{suite.kind}_scope")
        gx_suite = self.context.suites.add(gx_suite)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=gx_suite)
        )
        self._definitions[suite.kind] = (content, definition)
        return definition

    def release(self) -> None:
        """Close GX's cursors of the session's connection: the datasource keeps one engine
        for connection tests, its execution engine another (both open anew on next use)."""
        try:
            self.datasource.get_execution_engine().engine.dispose()
            self.datasource.get_engine().dispose()
        finally:
            self.con = None


_shared: _SharedContext | None = None
_shared_lock = threading.Lock()  # one session at a time holds the shared context


class GxSession:
    """A GX validation session on `con`: the process's shared GX context (`_SharedContext`),
    whose SQL datasource runs on cursors of `con` until the session ends."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._shared: _SharedContext | None = None
        self._stack = ExitStack()

    def __enter__(self) -> GxSession:
        global _shared
        self._stack.enter_context(_shared_lock)
        try:
            self._stack.enter_context(buffered_results())
            if _shared is None:
                _shared = _SharedContext(self._con)
            self._shared = _shared
            _shared.con = self._con
            self._stack.callback(_shared.release)
        except BaseException:
            _shared = None
            self._stack.close()
            raise
        return self

    def validate(self, suite: Suite) -> GxOutcome:
        """Run one kind's suite on its batch view (whatever `validation.scope` holds now)."""
        assert self._shared is not None, "GxSession.validate outside `with`"
        result = self._shared.definition(suite).run(result_format="SUMMARY")
        observed: dict[str, int] = {}
        for item in result.results:
            rule_id = item.expectation_config.meta["rule_id"]
            problem = _raised(item.exception_info)
            if problem:
                raise GxError(f"GX could not evaluate {rule_id} of {suite.path.name}: {problem}")
            observed[rule_id] = int(item.result["observed_value"])
        statistics = result.statistics
        return GxOutcome(
            kind=suite.kind,
            success=bool(result.success),
            evaluated=int(statistics["evaluated_expectations"]),
            successful=int(statistics["successful_expectations"]),
            observed=observed,
            result_json=result.to_json_dict(),
        )

    def __exit__(self, exc_type: object, *exc: object) -> None:
        global _shared
        if exc_type is not None:
            _shared = None  # nothing of a failed session is kept
        self._stack.close()


def _raised(exception_info: Any) -> str | None:
    """The first exception message GX recorded for an expectation, if any."""
    if not isinstance(exception_info, dict):
        return None
    if exception_info.get("raised_exception"):
        return str(exception_info.get("exception_message"))
    for value in exception_info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None
