"""validate(): run the suites on the staged months in scope and record what they found.

Order, for each kind in VALIDATION_ORDER (institutions first):
  1. point the kind's batch view at the months in scope (validation.scope);
  2. GX validates the batch with the kind's suite (counts per rule);
  3. the same query texts fill audit.rejected_rows / audit.row_warnings for those months,
     and the load log gets rows_accepted / rows_rejected (one transaction);
  4. GX's count and the audit rows written must agree, rule by rule.
Then the core views are (re)built. Because core.institutions reads audit.rejected_rows,
enrollment and staffing, validated after institutions, see which institutions were accepted
(the cascade).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.warehouse.sql_models import run_models
from pipeline.validate.batch import clear_scope, create_batch_views, set_scope
from pipeline.validate.findings import write_findings
from pipeline.validate.gx_session import GxError, GxOutcome, GxSession
from pipeline.validate.report import ValidationReport, build_report
from pipeline.validate.suites import SUITES_DIR, VALIDATION_ORDER, load_suites
from pipeline.warehouse.connection import connect

log = logging.getLogger(__name__)

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@contextmanager
def _connection(con_or_path: duckdb.DuckDBPyConnection | str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The caller's connection as it is, or one opened (and closed) on the warehouse path."""
    if isinstance(con_or_path, duckdb.DuckDBPyConnection):
        yield con_or_path
        return
    con = connect(Path(con_or_path))  # the warehouse's own settings (pipeline/warehouse/connection.py)
    try:
        yield con
    finally:
        con.close()


def _require_autocommit(con: duckdb.DuckDBPyConnection) -> None:
    # GX reads through other connections of the same database, which see committed data only;
    # and the audit writes use their own transaction per kind.
    try:
        con.execute("begin transaction")
    except duckdb.TransactionException as exc:
        raise ValueError(
            "validate() needs a connection without an open transaction: commit the staged rows first"
        ) from exc
    con.execute("rollback")


def resolve_scope(
    con: duckdb.DuckDBPyConnection, scope: dict[str, list[str]] | None, cascade: bool = True
) -> dict[str, list[str]]:
    """The (kind → sorted periods) to validate.

    None means every month that has a loaded file of the kind. With `cascade`, validating the
    institutions of a month also re-validates that month's enrollment and staffing files (when
    there are any), whose ENR-/STF-INSTITUTION findings depend on which institutions were
    accepted.
    """
    current: dict[str, set[str]] = {}
    for kind, period in con.execute("select kind, period from audit.current_files").fetchall():
        current.setdefault(kind, set()).add(period)
    if scope is None:
        wanted = {kind: set(periods) for kind, periods in current.items()}
    else:
        unknown = sorted(set(scope) - set(VALIDATION_ORDER))
        if unknown:
            raise ValueError(f"unknown extract kind(s) {unknown}; expected some of {list(VALIDATION_ORDER)}")
        wanted = {kind: set(periods) for kind, periods in scope.items()}
        bad = sorted(str(p) for periods in wanted.values() for p in periods if not _PERIOD.match(str(p)))
        if bad:
            raise ValueError(f"periods must be written YYYY-MM, not {bad}")
    if cascade:
        for kind in ("enrollment", "staffing"):
            followers = wanted.get("institutions", set()) & current.get(kind, set())
            wanted.setdefault(kind, set()).update(followers)
    return {kind: sorted(wanted[kind]) for kind in VALIDATION_ORDER if wanted.get(kind)}


def validate(
    con_or_path: duckdb.DuckDBPyConnection | str | Path,
    scope: dict[str, list[str]] | None = None,
    *,
    cascade: bool = True,
    suites_dir: Path = SUITES_DIR,
) -> ValidationReport:
    """Validate the staged rows of the given kinds × periods (None: every current period).

    `con_or_path` is either the pipeline's open DuckDB connection (in autocommit state) or
    the warehouse file's path, which is then opened and closed here. GX never opens the
    file: it works on cursors of this connection (see gx_session.py).
    """
    started = time.perf_counter()
    suites = load_suites(suites_dir)
    with _connection(con_or_path) as con:
        _require_autocommit(con)
        plan = resolve_scope(con, scope, cascade)
        create_batch_views(con, suites.values())
        clear_scope(con)
        run_models(con, "core")  # ENR-/STF-INSTITUTION read core.institutions
        outcomes: dict[str, GxOutcome] = {}
        try:
            if plan:
                with GxSession(con) as gx:
                    for kind in VALIDATION_ORDER:
                        if kind not in plan:
                            continue
                        set_scope(con, kind, plan[kind])
                        outcome = gx.validate(suites[kind])
                        written = write_findings(con, suites[kind])
                        _check_agreement(outcome, written)
                        outcomes[kind] = outcome
                        log.info("validated %s %s: %s", kind, ",".join(plan[kind]),
                                 {rule: n for rule, n in written.items() if n})
            run_models(con, "core")
            return build_report(con, plan, suites, outcomes, time.perf_counter() - started)
        finally:
            clear_scope(con)


def _check_agreement(outcome: GxOutcome, written: dict[str, int]) -> None:
    """GX's unexpected-row count and the audit rows written must be the same numbers."""
    differing = {rule: (outcome.observed.get(rule), n)
                 for rule, n in written.items() if outcome.observed.get(rule) != n}
    if differing:
        raise GxError(
            f"{outcome.kind}: GX counts and audit rows differ (rule: (gx, audit)) {differing}; "
            "a rule query probably returns the same row twice"
        )
