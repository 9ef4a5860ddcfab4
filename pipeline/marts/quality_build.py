"""The quality review's models (docs/quality.md): built after the indicator marts, as a step
of their own, and only for the months whose flags can have changed.

The models of sql/marts with the header `-- owner: quality review` (`build.quality_models()`:
marts.quality_flags and marts.reporting_rates) read the indicator marts' per-month tables,
so they are built after them. What they are built from is known by then: the marts'
fingerprints (pipeline/marts/incremental.py, kept in `audit.marts_build_state` by the
marts build, one per month and one for the SQL, the catalog and the reference tables,
the quality parameters among them), a digest of the load log (the reporting rates read
when each file was first seen) and one of the confirmations. After a build these are kept
in `audit.quality_build_state`, and the next build compares:

- nothing changed: nothing is built (a run with nothing new);
- the global fingerprint changed, a table is missing, or no state was kept: everything is
  rebuilt;
- otherwise marts.quality_flags (`incremental_by: period`) is rebuilt for the months whose
  fingerprint changed, appeared or went, and for the `reach` months after each of them: a
  month's flags read its own figures and those of up to `reach` = max(out_series
  history_months, area_jump months, 1) earlier months, so a new month rebuilds its own
  flags only and a revised month those of the twelve after it too. marts.reporting_rates
  (a few hundred rows) is rebuilt whole when the load log changed. A confirmation since
  the last build only sets `confirmed` of the rows it concerns.

As with the marts, the state is deleted before any table is touched and written after the
last one is built: an interrupted build leaves no state and the next one is full. The
marts' own state must be there: without it (a marts build interrupted) every model here
is rebuilt and no state is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.marts import incremental as months
from pipeline.marts.build import _row_count, is_quality_model, marts_models, model_params
from pipeline.marts.catalog import CATALOG_PATH
from pipeline.period import shift_month
from pipeline.warehouse import sql_models as sqlmodels
from pipeline.warehouse.connection import table_exists

STATE_TABLE = "audit.quality_build_state"
# Keys of the state besides the marts' own (their months and GLOBAL_KEY).
LOAD_LOG_KEY = "load_log"
CONFIRMATIONS_KEY = "confirmations"
# Bumped when what the state means changes.
_VERSION_KEY, _VERSION = "quality_build_version", "1"


@dataclass(frozen=True)
class Plan:
    full: bool  # every model, every month
    periods: tuple[str, ...]  # the months of marts.quality_flags to rebuild (every month when full)
    rates: bool  # rebuild marts.reporting_rates
    confirmations: bool  # bring `confirmed` up to date in the rows not rebuilt
    state: dict[str, str]  # to keep once the build is done (empty: keep none)
    months: int = 0  # months of the calendar

    @property
    def nothing(self) -> bool:
        return not (self.full or self.periods or self.rates or self.confirmations)


@dataclass
class Built:
    plan: Plan
    counts: dict[str, int] = field(default_factory=dict)  # row counts of the models built

    @property
    def flag_months(self) -> int:
        """Months of marts.quality_flags rebuilt (a month gone from the calendar: emptied)."""
        if "marts.quality_flags" not in self.counts:
            return 0
        return self.plan.months if self.plan.full else len(self.plan.periods)


def models() -> list[sqlmodels.SqlModel]:
    """The quality review's models, each after the models it depends on."""
    return [m for m in marts_models() if is_quality_model(m)]


def reach(con: duckdb.DuckDBPyConnection) -> int:
    """How many earlier months a month's flags read (quality.toml)."""
    (months_back,) = con.execute(
        "select greatest(out_series_history_months, area_jump_months, 1) from reference.quality_parameters"
    ).fetchone()
    return int(months_back)


def _digest(con: duckdb.DuckDBPyConnection, table: str, columns: str) -> str:
    if not table_exists(con, *table.split(".")):
        return "absent"
    count, total = con.execute(f"select count(*), coalesce(sum(hash({columns})), 0) from {table}").fetchone()
    return f"{count}:{total}"


def inputs(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """What the quality models are built from, as it stands: empty when the marts keep no
    state (their last build did not finish)."""
    marts = months.stored(con)
    if not marts:
        return {}
    return {
        **marts,
        _VERSION_KEY: _VERSION,
        # Not loaded_at (the time of writing: a rerun of the same deliveries keeps the same
        # state): the first-seen times the reporting rates read change only with a row added
        # or a status changed (a withdrawal), which the digest sees.
        LOAD_LOG_KEY: _digest(con, "audit.load_log", "file_path, kind, period, sha256, status"),
        CONFIRMATIONS_KEY: _digest(con, "audit.quality_confirmations", "flag_key"),
    }


def stored(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The state kept by the last complete build (empty when there is none)."""
    return months.stored(con, STATE_TABLE)


def _is_month(key: str) -> bool:
    return len(key) == 7 and key[4] == "-" and key[:4].isdigit() and key[5:].isdigit()


def plan(con: duckdb.DuckDBPyConnection, last: dict[str, str] | None, incremental: bool = True) -> Plan:
    """What to build, once the marts are built. `last`: the state of the last build
    (`stored()`); None, empty or `incremental` False: everything."""
    current = inputs(con)
    calendar = [p for (p,) in con.execute("select period from marts.month_calendar order by period").fetchall()]
    everything = Plan(True, tuple(calendar), True, True, current, len(calendar))
    tables_exist = all(table_exists(con, m.schema, m.name) for m in models())
    if (not incremental or not last or not current or not tables_exist
            or any(last.get(k) != current.get(k) for k in (months.GLOBAL_KEY, _VERSION_KEY))):
        return everything
    changed = {k for k in current.keys() | last.keys() if _is_month(k) and last.get(k) != current.get(k)}
    after = reach(con)
    affected = {shift_month(p, n) for p in changed for n in range(after + 1)}
    periods = tuple(sorted(affected & (set(calendar) | {k for k in last if _is_month(k)})))
    return Plan(False, periods, last.get(LOAD_LOG_KEY) != current[LOAD_LOG_KEY],
                last.get(CONFIRMATIONS_KEY) != current[CONFIRMATIONS_KEY], current, len(calendar))


def _update_confirmed(con: duckdb.DuckDBPyConnection) -> None:
    """`confirmed` as the model computes it, in the rows that were not rebuilt."""
    con.execute("""
        update marts.quality_flags as flags
        set confirmed = not confirmed
        where confirmed is distinct from (flags.flag_key in (select flag_key from audit.quality_confirmations))
    """)


def build_quality(con: duckdb.DuckDBPyConnection, catalog_path: Path = CATALOG_PATH,
                  incremental: bool = True) -> Built:
    """Build the quality review's models after the marts (`build.build_marts` with every
    model, or the pipeline's marts step, ran first). `incremental`: only what changed since
    the last build (above); otherwise every model, every month. Returns the plan and the
    row counts of the models built (none when nothing changed)."""
    todo = plan(con, stored(con) if incremental else None, incremental)
    built = Built(todo)
    if todo.nothing:
        return built
    months.forget(con, STATE_TABLE)
    params = model_params(catalog_path)
    try:
        for model in models():
            if model.incremental_by:
                if not (todo.full or todo.periods):
                    if todo.confirmations:
                        _update_confirmed(con)
                    continue
                months.set_build_periods(con, None if todo.full else todo.periods)
                replace_only = None if todo.full else f"select period from {months.BUILD_PERIODS}"
                sqlmodels.run_model(con, model, params, replace_only)
                if not todo.full and todo.confirmations:
                    _update_confirmed(con)
            elif not (todo.full or todo.rates):
                continue
            else:
                sqlmodels.run_model(con, model, params)
            built.counts[model.table] = _row_count(con, model)
    finally:
        months.set_build_periods(con, None)
    if todo.state:
        months.remember(con, todo.state, STATE_TABLE)
    return built
