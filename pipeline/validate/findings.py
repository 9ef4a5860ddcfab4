"""Writing what the rules found into the audit tables, and the load log's row counts.

For the kind × months in `validation.scope`: delete their rows of audit.rejected_rows and
audit.row_warnings, run every rule's query (the same text GX ran, `{batch}` replaced by the
qualified batch view) and insert one audit row per failing row and rule, then set
rows_accepted / rows_rejected of each file's `loaded` load-log row. All in one transaction,
so a month is never left half validated.

A file-level rule (level "file") selects `row_number` 0: its audit row has no source row,
institution or values.
"""

from __future__ import annotations

import duckdb

from pipeline.validate.batch import SCOPE_TABLE, batch_relation
from pipeline.validate.suites import Rule, Suite

AUDIT_TABLE = {"R": "audit.rejected_rows", "W": "audit.row_warnings"}


def _insert_sql(rule: Rule) -> str:
    batch = batch_relation(rule.kind)
    return f"""
insert into {AUDIT_TABLE[rule.severity]}
    (sha256, kind, period, row_number, source_row, institution_id, rule_id, severity, message, row_values)
select f.sha256, cf.kind, cf.period, f.row_number, b.source_row, b.institution_id,
       $rule_id, $severity, $message, b.row_values
from (select distinct sha256, row_number from (
{rule.query_for(batch)}
)) as f
join audit.current_files as cf on cf.kind = $kind and cf.sha256 = f.sha256
left join {batch} as b on b.sha256 = f.sha256 and b.row_number = f.row_number"""


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
    left join (select distinct sha256, row_number from audit.rejected_rows where kind = $kind) as r
        on r.sha256 = b.sha256 and r.row_number = b.row_number
    where cf.kind = $kind
    group by cf.sha256, cf.period
) as c
where l.status = 'loaded' and l.kind = $kind and l.sha256 = c.sha256 and l.period = c.period"""


def write_findings(con: duckdb.DuckDBPyConnection, suite: Suite) -> dict[str, int]:
    """Replace the kind's audit rows for the months in scope; return rows written per rule."""
    written: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        for table in AUDIT_TABLE.values():
            con.execute(_DELETE_SQL.format(table=table, scope=SCOPE_TABLE), {"kind": suite.kind})
        for rule in suite.rules:
            params = {"rule_id": rule.rule_id, "severity": rule.severity, "message": rule.message_zh,
                      "kind": suite.kind}
            written[rule.rule_id] = con.execute(_insert_sql(rule), params).fetchone()[0]
        con.execute(_LOAD_LOG_SQL.format(scope=SCOPE_TABLE, batch=batch_relation(suite.kind)), {"kind": suite.kind})
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return written
