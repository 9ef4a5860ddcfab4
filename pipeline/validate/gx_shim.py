"""A shim that lets Great Expectations 1.24 read query results from DuckDB.

GX executes a metric query inside `with engine.connect()` and reads the result only after
that block has returned the connection to the pool. Returning it rolls the DuckDB
connection back, which drops DuckDB's pending result, so every expectation silently ends
with `success=False` and a `MetricResolutionError` ("list index out of range", or
"'NoneType' object is not subscriptable") in its `exception_info` (upstream GX issue #11579).

The shim wraps the private `SqlAlchemyExecutionEngine._execute_query_with_recovery`: it calls
the original and, for a DuckDB connection whose result returns rows, buffers the rows while
the connection is still open (`result.freeze()()` gives an equivalent, already-fetched
result). Nothing else changes.

It patches private code, so it is applied only while validation runs (`buffered_results()`)
and `tests/test_validate_gx_shim.py` runs a known-failing expectation without and with it:
if a GX upgrade fixes or moves the behaviour, that test fails and this module must be
revisited (possibly deleted).

great_expectations is imported inside the functions: importing it takes seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_PATCHED_ATTR = "_execute_query_with_recovery"
_MARK = "__tuoyu_buffered__"


def _engine_class() -> Any:
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

    original = SqlAlchemyExecutionEngine.__dict__.get(_PATCHED_ATTR)
    if not isinstance(original, staticmethod):
        raise RuntimeError(
            "great_expectations changed: SqlAlchemyExecutionEngine._execute_query_with_recovery is no longer "
            "a staticmethod; re-check pipeline/validate/gx_shim.py against the installed version"
        )
    return SqlAlchemyExecutionEngine


@contextmanager
def buffered_results() -> Iterator[None]:
    """Within the block, GX buffers DuckDB query results before releasing the connection."""
    engine_class = _engine_class()
    original = engine_class.__dict__[_PATCHED_ATTR]
    if getattr(original.__func__, _MARK, False):  # already active (nested use): nothing to do
        yield
        return
    execute = original.__func__

    def execute_buffered(connection: Any, query: Any) -> Any:
        result = execute(connection, query)
        if connection.dialect.name == "duckdb" and result.returns_rows:
            return result.freeze()()
        return result

    setattr(execute_buffered, _MARK, True)
    setattr(engine_class, _PATCHED_ATTR, staticmethod(execute_buffered))
    try:
        yield
    finally:
        setattr(engine_class, _PATCHED_ATTR, original)
