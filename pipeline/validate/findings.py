"""Writing what the rules found into the audit tables, and the load log's row counts.

For the kind × months in `validation.scope`: delete their rows of audit.rejected_rows and
audit.row_warnings, run every rule's query (the same text GX ran, `{batch}` replaced by the
qualified batch view) and insert one audit row per failing row and rule, then set
rows_accepted / rows_rejected of each file's `loaded` load-log row. All in one transaction,
so a month is never left half validated.

A row is known by its file version, its month and its place in the file (`sha256`,
`period_file`, `row_number`): two months may hold byte-identical files (a June file
copied as July's), so the hash alone does not say which month's row a finding is about.

The rule queries themselves are cheap; what costs is finding each failing row's source row,
institution and values in the batch (a join over every row of the months in scope). So the
failing keys of all rules are collected first (`validation_keys`, a temporary table of this
connection), joined to the batch once, and the audit rows of each table are inserted from
that in rule order.

A file-level rule (level "file") selects `row_number` 0: its audit row has no source row,
institution or values.
"""

from __future__ import annotations

import duckdb

from pipeline.validate.batch import SCOPE_TABLE, batch_relation, row_values_sql
from pipeline.validate.suites import Suite

AUDIT_TABLE = {"R": "audit.rejected_rows", "W": "audit.row_warnings"}

_KEYS = "validation_keys"
_RULES = "validation_rules"
_FOUND = "validation_found"

_KEYS_SQL = f"""
insert into {_KEYS} (position, sha256, period, row_number)
select distinct $position, sha256, period_file, row_number from (
{{query}}
)"""

# One row per failing row and rule, as each rule's own insert would have joined it.
_FOUND_SQL = f"""
create or replace temp table {_FOUND} as
select k.position, k.sha256, cf.kind, cf.period, k.row_number, b.source_row, b.institution_id,
       case when b.sha256 is not null then {{row_values}} end as row_values
from {_KEYS} as k
join audit.current_files as cf on cf.kind = $kind and cf.period = k.period and cf.sha256 = k.sha256
left join {{batch}} as b on b.sha256 = k.sha256 and b.period_file = k.period and b.row_number = k.row_number"""

_INSERT_SQL = f"""
insert into {{table}}
    (sha256, kind, period, row_number, source_row, institution_id, rule_id, severity, message, row_values)
select f.sha256, f.kind, f.period, f.row_number, f.source_row, f.institution_id,
       r.rule_id, r.severity, r.message, f.row_values
from {_FOUND} as f
join {_RULES} as r on r.position = f.position
where r.severity = $severity
order by f.position"""

_DELETE_SQL = """
delete from {table} as a
where a.kind = $kind and a.period in (select s.period from {scope} as s where s.kind = $kind)"""

# rows_read = rows_accepted + rows_rejected + rows_duplicate, with the non-duplicate staging
# rows of the file split into accepted and rejected (a row is rejected once, whatever the
# number of R rules it fails). A file without non-duplicate rows gets 0 and 0.
_LOAD_LOG_SQL = """
update audit.load_log as l
set rows_accepted = c.validated - c.rejected, rows_rejected = c.rejected
from (
    select cf.sha256, cf.period,
           count(b.row_number) as validated,
           count(r.row_number) as rejected
    from audit.current_files as cf
    join {scope} as s on s.kind = cf.kind and s.period = cf.period
    left join {batch} as b on b.sha256 = cf.sha256 and b.period_file = cf.period
    left join (select distinct sha256, period, row_number from audit.rejected_rows where kind = $kind) as r
        on r.sha256 = b.sha256 and r.period = b.period_file and r.row_number = b.row_number
    where cf.kind = $kind
    group by cf.sha256, cf.period
) as c
where l.status = 'loaded' and l.kind = $kind and l.sha256 = c.sha256 and l.period = c.period"""


def write_findings(con: duckdb.DuckDBPyConnection, suite: Suite) -> dict[str, int]:
    """Replace the kind's audit rows for the months in scope; return rows written per rule."""
    batch = batch_relation(suite.kind)
    con.execute("begin transaction")
    try:
        for table in AUDIT_TABLE.values():
            con.execute(_DELETE_SQL.format(table=table, scope=SCOPE_TABLE), {"kind": suite.kind})
        con.execute(f"create or replace temp table {_KEYS} "
                    "(position integer, sha256 varchar, period varchar, row_number integer)")
        con.execute(f"create or replace temp table {_RULES} "
                    "(position integer, rule_id varchar, severity varchar, message varchar)")
        con.executemany(f"insert into {_RULES} values (?, ?, ?, ?)",
                        [[i, r.rule_id, r.severity, r.message_zh] for i, r in enumerate(suite.rules)])
        for position, rule in enumerate(suite.rules):
            con.execute(_KEYS_SQL.format(query=rule.query_for(batch)), {"position": position})
        con.execute(_FOUND_SQL.format(batch=batch, row_values=row_values_sql(suite, "b")), {"kind": suite.kind})
        for severity, table in AUDIT_TABLE.items():
            con.execute(_INSERT_SQL.format(table=table), {"severity": severity})
        counts = dict(con.execute(f"select position, count(*) from {_FOUND} group by position").fetchall())
        written = {rule.rule_id: int(counts.get(i, 0)) for i, rule in enumerate(suite.rules)}
        con.execute(_LOAD_LOG_SQL.format(scope=SCOPE_TABLE, batch=batch), {"kind": suite.kind})
        for name in (_FOUND, _KEYS, _RULES):
            con.execute(f"drop table {name}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return written
