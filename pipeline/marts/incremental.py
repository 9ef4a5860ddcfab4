"""Which months the per-month marts must rebuild: a new month costs a month's work.

The models with an `incremental_by: period` header (operating institutions, the
per-institution children and staff, the area measures: nearly all of the marts' work)
compute each month from that month's inputs alone. So each month gets a fingerprint of
everything its rows depend on:

- every load-log row of the month (kind, status, file version): which files are current,
  and which months have which extracts (marts.month_calendar);
- the month's rejected rows (audit.rejected_rows): which staged rows are accepted;

and the build as a whole a fingerprint of what every month depends on: the SQL of the
core and marts models, the indicator catalog, and the reference tables (areas,
population). After a build the fingerprints are kept in `audit.marts_build_state`.

The next build rebuilds only the months whose fingerprint changed or is new (and drops
the months no longer in the calendar); when the global fingerprint changed, a table is
missing, or no state was kept, it rebuilds everything. The state is deleted before any
table is touched and written after the last one is built, so a build interrupted
half-way leaves no state and the next one rebuilds everything.

The staged rows of a file version never change (a changed file is a new version), so the
version and the rejected rows determine the month's accepted rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.warehouse import sql_models as sqlmodels
from pipeline.warehouse.connection import table_exists

STATE_TABLE = "audit.marts_build_state"
GLOBAL_KEY = "*"
# The months being (re)built: a DuckDB variable the incremental models filter on (unset:
# every month), and the same months as a temp table for replacing their rows. A variable
# because DuckDB folds `list_contains(getvariable(...), period)` into a constant filter
# that reaches the staging scan under the core views; a join with the table does not,
# and every month would be read to rebuild one.
VARIABLE = "tuoyu_build_periods"
BUILD_PERIODS = "build_periods"
# Bumped when the meaning of a fingerprint changes.
_VERSION = "1"

_PERIOD_FINGERPRINTS = """
with calendar as (
    select period from marts.month_calendar
),
files as (
    select period,
           string_agg(concat_ws(':', kind, status, coalesce(sha256, ''), file_path), '|'
                      order by kind, status, sha256, file_path) as files
    from audit.load_log
    where period is not null
    group by period
),
rejects as (
    select period, count(*) as n, sum(hash(kind, sha256, row_number, rule_id)) as h
    from audit.rejected_rows
    group by period
)
select calendar.period,
       md5(concat_ws('#', calendar.period, coalesce(files.files, ''),
                     coalesce(rejects.n, 0)::varchar, coalesce(rejects.h, 0)::varchar))
from calendar
left join files on files.period = calendar.period
left join rejects on rejects.period = calendar.period
order by calendar.period
"""


@dataclass(frozen=True)
class Plan:
    full: bool
    periods: tuple[str, ...]  # the months to rebuild (every month when full)
    fingerprints: dict[str, str]  # the state to keep once the build is done


def _reference_digest(con: duckdb.DuckDBPyConnection) -> str:
    tables = [name for (name,) in con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'reference' and table_type = 'BASE TABLE' order by table_name").fetchall()]
    parts = []
    for name in tables:
        relation = f"reference.{sqlmodels.quote_ident(name)}"
        count, digest = con.execute(f"select count(*), sum(hash(t)) from {relation} as t").fetchone()
        parts.append(f"{name}:{count}:{digest}")
    return ";".join(parts)


def global_fingerprint(con: duckdb.DuckDBPyConnection, catalog_path: Path, sql_dir: Path = sqlmodels.SQL_DIR) -> str:
    digest = hashlib.sha256(_VERSION.encode())
    for path in sorted([*(sql_dir / "core").glob("*.sql"), *(sql_dir / "marts").glob("*.sql")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(catalog_path.read_bytes())
    digest.update(_reference_digest(con).encode())
    return digest.hexdigest()


def fingerprints(con: duckdb.DuckDBPyConnection, catalog_path: Path) -> dict[str, str]:
    """{month: its fingerprint} for every month of marts.month_calendar, and the global
    fingerprint under GLOBAL_KEY: what the marts are built from, as they stand now."""
    current = dict(con.execute(_PERIOD_FINGERPRINTS).fetchall())
    current[GLOBAL_KEY] = global_fingerprint(con, catalog_path)
    return current


def stored(con: duckdb.DuckDBPyConnection, table: str = STATE_TABLE) -> dict[str, str]:
    """The fingerprints kept by the last complete build (empty when there are none). `table`:
    the state table of a build (this module's, or the quality step's: pipeline/marts/quality_build.py)."""
    if not _exists(con, table):
        return {}
    return dict(con.execute(f"select key, fingerprint from {table}").fetchall())


def plan(con: duckdb.DuckDBPyConnection, models: list[sqlmodels.SqlModel], catalog_path: Path,
         stored: dict[str, str] | None) -> Plan:
    """What to rebuild, once month_calendar and the reference tables are up to date.
    `stored`: the last build's fingerprints (`stored()`, read before `forget()`); None or
    empty: rebuild everything."""
    current = fingerprints(con, catalog_path)
    months = tuple(p for p in current if p != GLOBAL_KEY)
    stored = stored or {}
    tables_exist = all(_exists(con, m.table) for m in models if m.incremental_by)
    if not tables_exist or stored.get(GLOBAL_KEY) != current[GLOBAL_KEY]:
        return Plan(True, months, current)
    changed = {p for p in months if stored.get(p) != current[p]}
    gone = {p for p in stored if p != GLOBAL_KEY and p not in current}
    return Plan(False, tuple(sorted(changed | gone)), current)


def set_build_periods(con: duckdb.DuckDBPyConnection, periods: tuple[str, ...] | None) -> None:
    """The months the incremental models build; None: every month."""
    con.execute(f"create or replace temp table {BUILD_PERIODS} (period varchar primary key)")
    if periods is None:
        con.execute(f"reset variable {VARIABLE}")
        return
    if periods:
        con.executemany(f"insert into {BUILD_PERIODS} values (?)", [[p] for p in periods])
    con.execute(f"set variable {VARIABLE} = "
                f"(select coalesce(list(period order by period), []::varchar[]) from {BUILD_PERIODS})")


def forget(con: duckdb.DuckDBPyConnection, table: str = STATE_TABLE) -> None:
    """Before any table is touched: an interrupted build must leave no state behind."""
    con.execute(f"create table if not exists {table} (key varchar primary key, fingerprint varchar not null)")
    con.execute(f"delete from {table}")


def remember(con: duckdb.DuckDBPyConnection, fingerprints: dict[str, str], table: str = STATE_TABLE) -> None:
    """After the last table is built."""
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {table}")
        con.executemany(f"insert into {table} values (?, ?)", sorted(fingerprints.items()))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return table_exists(con, *table.split("."))
