"""What a validation run found, in counts: per (kind, period, rule) and per file.

Everything here is a count, a rule id, a file path or a hash: no row values, so the report
can go into Dagster metadata and logs as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from pipeline.validate.batch import SCOPE_TABLE
from pipeline.validate.gx_session import GxOutcome
from pipeline.validate.suites import Suite


@dataclass(frozen=True)
class FileResult:
    """One validated file version (the `loaded` one of its kind × month)."""

    kind: str
    period: str
    sha256: str
    file_path: str
    rows_read: int
    rows_duplicate: int
    rows_accepted: int
    rows_rejected: int
    rows_warned: int  # accepted rows with at least one W finding
    file_warnings: tuple[str, ...]  # rule ids of file-level warnings (e.g. ENR-ROW-COUNT)
    blocking_rejected_share: float  # from the suite's meta

    @property
    def rejected_share(self) -> float:
        """Rejected rows over rows read (as the load log counts them); 0 for an empty file."""
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    @property
    def blocking(self) -> bool:
        """The file cannot be trusted at all: too large a share of its rows was rejected."""
        return self.rejected_share > self.blocking_rejected_share

    @property
    def reconciled(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_rejected + self.rows_duplicate

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(rejected_share=self.rejected_share, blocking=self.blocking, reconciled=self.reconciled)
        return data


@dataclass(frozen=True)
class ValidationReport:
    scope: dict[str, list[str]]  # what was validated, after the cascade
    rule_counts: dict[tuple[str, str, str], int]  # (kind, period, rule_id) -> failing rows
    files: tuple[FileResult, ...]
    gx: dict[str, GxOutcome] = field(repr=False)
    seconds: float = 0.0
    set_aside: tuple[tuple[str, str, str], ...] = ()  # (kind, period, file_path): GX and the audit disagreed

    def file(self, kind: str, period: str) -> FileResult | None:
        for result in self.files:
            if result.kind == kind and result.period == period:
                return result
        return None

    def rules_for(self, kind: str, period: str) -> dict[str, int]:
        """Failing rows per rule id of one kind × month, most frequent first."""
        counts = {rule: n for (k, p, rule), n in self.rule_counts.items() if k == kind and p == period}
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def counts_by_rule(self) -> dict[str, int]:
        """Failing rows per rule id over the whole scope, most frequent first."""
        totals: dict[str, int] = {}
        for (_, _, rule_id), n in self.rule_counts.items():
            totals[rule_id] = totals.get(rule_id, 0) + n
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    @property
    def rows_rejected(self) -> int:
        return sum(result.rows_rejected for result in self.files)

    @property
    def rows_warned(self) -> int:
        return sum(result.rows_warned for result in self.files)

    @property
    def blocking_files(self) -> tuple[FileResult, ...]:
        return tuple(result for result in self.files if result.blocking)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for Dagster metadata or a log line)."""
        return {
            "scope": self.scope,
            "seconds": round(self.seconds, 3),
            "set_aside": [list(f) for f in self.set_aside],
            "files": [result.as_dict() for result in self.files],
            "rule_counts": [
                {"kind": kind, "period": period, "rule_id": rule_id, "rows": n}
                for (kind, period, rule_id), n in sorted(self.rule_counts.items())
            ],
            "gx": {
                kind: {"success": o.success, "evaluated": o.evaluated, "successful": o.successful}
                for kind, o in self.gx.items()
            },
        }


_RULE_COUNTS_SQL = f"""
select a.kind, a.period, a.rule_id, count(*) as n
from (
    select kind, period, rule_id from audit.rejected_rows
    union all
    select kind, period, rule_id from audit.row_warnings
) as a
join {SCOPE_TABLE} as s on s.kind = a.kind and s.period = a.period
group by all
order by all"""

_FILES_SQL = f"""
with warned as (
    select w.kind, w.period, w.sha256, count(distinct w.row_number) as rows_warned
    from audit.row_warnings as w
    where w.row_number > 0
      and not exists (select 1 from audit.rejected_rows as r
                      where r.kind = w.kind and r.period = w.period and r.sha256 = w.sha256
                        and r.row_number = w.row_number)
    group by all
),
file_warnings as (
    select kind, period, sha256, list(distinct rule_id order by rule_id) as rule_ids
    from audit.row_warnings
    where row_number = 0
    group by all
)
select cf.kind, cf.period, cf.sha256, cf.file_path,
       coalesce(l.rows_read, 0), coalesce(l.rows_duplicate, 0),
       coalesce(l.rows_accepted, 0), coalesce(l.rows_rejected, 0),
       coalesce(w.rows_warned, 0), coalesce(fw.rule_ids, [])
from audit.current_files as cf
join {SCOPE_TABLE} as s on s.kind = cf.kind and s.period = cf.period
join audit.load_log as l on l.status = 'loaded' and l.kind = cf.kind and l.sha256 = cf.sha256 and l.period = cf.period
left join warned as w on w.kind = cf.kind and w.period = cf.period and w.sha256 = cf.sha256
left join file_warnings as fw on fw.kind = cf.kind and fw.period = cf.period and fw.sha256 = cf.sha256
order by cf.period, cf.kind"""


def build_report(
    con: duckdb.DuckDBPyConnection,
    scope: dict[str, list[str]],
    suites: dict[str, Suite],
    gx: dict[str, GxOutcome],
    seconds: float,
    set_aside: tuple[tuple[str, str, str], ...] = (),
) -> ValidationReport:
    """Read the audit tables for the (kind, period) pairs in `validation.scope`."""
    rule_counts = {(k, p, r): n for k, p, r, n in con.execute(_RULE_COUNTS_SQL).fetchall()}
    files = tuple(
        FileResult(
            kind=kind, period=period, sha256=sha256, file_path=file_path,
            rows_read=rows_read, rows_duplicate=rows_duplicate,
            rows_accepted=rows_accepted, rows_rejected=rows_rejected, rows_warned=rows_warned,
            file_warnings=tuple(rule_ids),
            blocking_rejected_share=suites[kind].blocking_rejected_share,
        )
        for kind, period, sha256, file_path, rows_read, rows_duplicate, rows_accepted, rows_rejected,
        rows_warned, rule_ids in con.execute(_FILES_SQL).fetchall()
    )
    return ValidationReport(scope=scope, rule_counts=rule_counts, files=files, gx=gx, seconds=seconds,
                            set_aside=set_aside)
