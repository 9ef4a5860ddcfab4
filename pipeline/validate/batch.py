"""The batches that the suites validate: one view per kind over the months in scope.

`validation.scope` holds the (kind, period) pairs being validated, with the month's last day; it is filled with bound
parameters, so no value is ever pasted into SQL. `validation.<kind>_batch` is a fixed view:
the non-duplicate staging rows of the loaded file versions (audit.current_files) of the
months in scope, plus

    month_end   the last day of period_file (the date rules compare against)
    row_values  the row's text columns as JSON (suite meta.row_values; pseudonyms, no names)

Both GX (through its own connection, see gx_session.py) and the audit writer read these
views, so the suite's query text means the same thing to both.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from pipeline.warehouse.sql_models import quote_ident
from pipeline.validate.suites import Suite

SCHEMA = "validation"
SCOPE_TABLE = f"{SCHEMA}.scope"


def batch_name(kind: str) -> str:
    """The view's name inside the `validation` schema (GX sees it unqualified)."""
    return f"{kind}_batch"


def batch_relation(kind: str) -> str:
    """The view's qualified name, as the audit writer substitutes it for `{batch}`."""
    return f"{SCHEMA}.{batch_name(kind)}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def row_values_sql(suite: Suite, alias: str) -> str:
    """The `row_values` JSON of a row of `alias` (suite meta.row_values, in order)."""
    pairs = ", ".join(f"{_literal(col)}, {alias}.{quote_ident(col)}" for col in suite.row_values)
    return f"json_object({pairs})"


def _view_sql(suite: Suite) -> str:
    kind = _literal(suite.kind)
    return f"""
create or replace view {SCHEMA}.{quote_ident(batch_name(suite.kind))} as
select
    s.*,
    v.month_end,
    {row_values_sql(suite, 's')} as row_values
from staging.{quote_ident(suite.kind)} as s
join {SCOPE_TABLE} as v on v.kind = {kind} and v.period = s.period_file
join audit.current_files as f on f.kind = {kind} and f.period = s.period_file and f.sha256 = s.sha256
where not s.is_duplicate"""


def create_batch_views(con: duckdb.DuckDBPyConnection, suites: Iterable[Suite]) -> None:
    """Create the scope table and (re)define one batch view per suite."""
    con.execute(f"create schema if not exists {SCHEMA}")
    # Transient (emptied after every validation), so it is simply re-created: month_end is
    # computed once per month here rather than once per row in every rule.
    con.execute(f"create or replace table {SCOPE_TABLE} "
                "(kind varchar not null, period varchar not null, month_end date not null)")
    for suite in suites:
        con.execute(_view_sql(suite))


def set_scope(con: duckdb.DuckDBPyConnection, kind: str, periods: Iterable[str]) -> None:
    """Make the batch of `kind` cover exactly `periods`."""
    con.execute(f"delete from {SCOPE_TABLE} where kind = ?", [kind])
    rows = [[kind, period, period] for period in periods]
    if rows:
        con.executemany(f"insert into {SCOPE_TABLE} (kind, period, month_end) "
                        "values (?, ?, last_day(strptime(?, '%Y-%m')))", rows)


def clear_scope(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"delete from {SCOPE_TABLE}")
