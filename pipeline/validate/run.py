"""validate(): run the suites on the staged months in scope and record what they found.

Order, for each kind in VALIDATION_ORDER (institutions first):
  1. point the kind's batch view at the months in scope (validation.scope);
  2. GX validates the batch with the kind's suite (counts per rule);
  3. the same query texts fill audit.rejected_rows / audit.row_warnings for those months,
     and the load log gets rows_accepted / rows_rejected (one transaction);
  4. GX's count and the audit rows written must agree, rule by rule. Called directly
     (`strict`, the default: every test) a disagreement stops validation (GxError); in the
     office's run (`validate_or_set_aside`, strict only with TUOYU_STRICT_CHECKS=1) it sets
     aside the file(s) it concerns (status `file_rejected`, a message naming the file) and
     the run goes on: no file can stop the run by what it holds.
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
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.warehouse.sql_models import run_models
from pipeline.validate.batch import SCOPE_TABLE, batch_relation, clear_scope, create_batch_views, set_scope
from pipeline.validate.findings import AUDIT_TABLE, write_findings
from pipeline.validate.gx_session import GxError, GxOutcome, GxSession
from pipeline.validate.report import ValidationReport, build_report
from pipeline.validate.suites import SUITES_DIR, VALIDATION_ORDER, Suite, load_suites
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
    strict: bool = True,
) -> ValidationReport:
    """Validate the staged rows of the given kinds × periods (None: every current period).

    `con_or_path` is either the pipeline's open DuckDB connection (in autocommit state) or
    the warehouse file's path, which is then opened and closed here. GX never opens the
    file: it works on cursors of this connection (see gx_session.py).

    `strict` (the default) makes a disagreement between GX and the audit rows raise GxError;
    otherwise the files it concerns are set aside and named (the office's run).
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
        set_aside: list[tuple[str, str, str]] = []  # (kind, period, file_path) of files set aside
        try:
            if plan:
                with GxSession(con) as gx:
                    for kind in VALIDATION_ORDER:
                        if kind not in plan:
                            continue
                        set_scope(con, kind, plan[kind])
                        outcome = gx.validate(suites[kind])
                        written = write_findings(con, suites[kind])
                        differing = _disagreement(outcome, written)
                        if differing:
                            files = _files_disagreeing(con, suites[kind], differing)
                            if strict:
                                raise GxError(
                                    f"{kind}: GX counts and audit rows differ (rule: (gx, audit)) {differing} "
                                    f"in {[path for _, _, path in files]}; a rule query probably returns the same "
                                    "row twice")
                            rules = ", ".join(sorted(differing))
                            set_aside += _set_aside(con, kind, files, f"校验结果核对不一致（规则 {rules}）",
                                                    f"GX and the audit rows disagree on {rules}")
                        outcomes[kind] = outcome
                        log.info("validated %s %s: %s", kind, ",".join(plan[kind]),
                                 {rule: n for rule, n in written.items() if n})
            run_models(con, "core")
            return build_report(con, plan, suites, outcomes, time.perf_counter() - started, tuple(set_aside))
        finally:
            clear_scope(con)


def _disagreement(outcome: GxOutcome, written: dict[str, int]) -> dict[str, tuple[int | None, int]]:
    """Rules whose GX unexpected-row count is not the number of audit rows written."""
    return {rule: (outcome.observed.get(rule), n) for rule, n in written.items() if outcome.observed.get(rule) != n}


def _files_disagreeing(con: duckdb.DuckDBPyConnection, suite: Suite,
                       differing: dict[str, tuple[int | None, int]]) -> list[tuple[str, str, str]]:
    """(period, sha256, file_path) of the files in scope whose rows a differing rule's query
    returns in another number than the audit rows written for them; all of the kind's files
    in scope when no file differs on its own (then GX counted something the query did not)."""
    batch = batch_relation(suite.kind)
    files = con.execute(
        f"select cf.period, cf.sha256, cf.file_path from audit.current_files as cf "
        f"join {SCOPE_TABLE} as s on s.kind = cf.kind and s.period = cf.period where cf.kind = ? order by 1, 3",
        [suite.kind]).fetchall()
    culprits: set[tuple[str, str]] = set()
    for rule in suite.rules:
        if rule.rule_id not in differing:
            continue
        returned = dict(((p, s), n) for s, p, n in con.execute(
            f"select sha256, period_file, count(*) from ({rule.query_for(batch)}) group by all").fetchall())
        written = dict(((p, s), n) for p, s, n in con.execute(
            f"select period, sha256, count(*) from {AUDIT_TABLE[rule.severity]} "
            "where kind = ? and rule_id = ? group by all", [suite.kind, rule.rule_id]).fetchall())
        culprits |= {(p, s) for p, s, _ in files if returned.get((p, s), 0) != written.get((p, s), 0)}
    return [f for f in files if (f[0], f[1]) in culprits] or files


def _set_aside(con: duckdb.DuckDBPyConnection, kind: str, files: list[tuple[str, str, str]],
               reason_zh: str, reason_en: str) -> list[tuple[str, str, str]]:
    """Set aside `files` (period, sha256, path) of `kind`, in one transaction, saying why."""
    from pipeline.ingest.withdraw import set_aside

    now = datetime.now().replace(microsecond=0)
    con.execute("begin transaction")
    try:
        for period, sha256, path in files:
            set_aside(con, kind, period, sha256, "file_rejected",
                      f"文件 {path}：{reason_zh}，为避免统计出错，本文件暂不采用，该月此类数据暂缺。"
                      "请把此文件和本说明交给技术人员检查；问题解决后重新报送该文件即可。"
                      f" File {path}: {reason_en}; set aside.", now)
            log.error("validation: %s %s set aside: %s", kind, path, reason_en)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return [(kind, period, path) for period, _, path in files]


def validate_or_set_aside(path: str | Path, scope: dict[str, list[str]], *, suites_dir: Path = SUITES_DIR,
                          strict: bool = False) -> ValidationReport:
    """`validate(path, scope)` for the office's run: when validation of the whole scope fails
    (DuckDB out of memory on a cell, a rule that cannot be evaluated on some file's values),
    each kind × month is validated alone, in order, and the current file of one that still
    fails is set aside with a message naming it; then the scope is validated again. So no
    file can stop the run, or leave its month queued for every later run to trip on. When
    no kind × month validates alone, the fault is not a file's (a full disk, a broken
    warehouse): the first error is raised as it was."""
    from pipeline.warehouse.faults import explain

    try:
        return validate(path, scope, suites_dir=suites_dir, strict=strict)
    except Exception as first:
        if strict or explain(first) is not None:  # a full disk is no file's fault: set nothing aside
            raise
        log.error("validation of %s failed (%s): validating each month alone", scope, type(first).__name__)
        failed: list[tuple[str, str, str]] = []
        passed = 0
        for kind in VALIDATION_ORDER:
            for period in scope.get(kind, []):
                try:
                    validate(path, {kind: [period]}, cascade=False, suites_dir=suites_dir, strict=False)
                    passed += 1
                except Exception as exc:  # noqa: BLE001 - any error of this month is its file's
                    if explain(exc) is not None:  # … but a fault of the machine met on the way
                        raise
                    failed.append((kind, period, type(exc).__name__))
        if not passed or not failed:
            raise first
        aside: list[tuple[str, str, str]] = []
        with _connection(path) as con:
            for kind, period, error in failed:
                files = con.execute("select period, sha256, file_path from audit.current_files "
                                    "where kind = ? and period = ?", [kind, period]).fetchall()
                aside += _set_aside(con, kind, files, f"校验时出错（{error}）", f"validation failed ({error})")
        report = validate(path, scope, suites_dir=suites_dir, strict=False)
        return replace(report, set_aside=report.set_aside + tuple(aside))
