"""Which current files cannot be trusted: more than the suite's `blocking_rejected_share` of
their rows rejected for defects of their own (docs/decisions.md).

Rows rejected only by a rule in the suite's `blocking_excludes_rules` (an enrollment or
staff row whose institution was not accepted that month) are not the file's own defect:
the month then lacks institutions, which is "no data", not distrust. The Dagster asset
check (pipeline/orchestration/assets/validate.py) and the report's summary both read this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from pipeline.validate.suites import SUITES_DIR


@dataclass(frozen=True)
class FileTrust:
    kind: str
    period: str
    file_path: str
    rows_read: int
    rows_rejected_own: int  # rows rejected by at least one rule that is the file's own defect
    limit: float  # the suite's blocking_rejected_share

    @property
    def share(self) -> float:
        return self.rows_rejected_own / self.rows_read if self.rows_read else 0.0

    @property
    def trusted(self) -> bool:
        return self.share <= self.limit


def threshold(kind: str) -> tuple[float, list[str]]:
    """The suite's share above which a file is not trusted, and the rules not counted."""
    meta = json.loads((SUITES_DIR / f"{kind}.json").read_text(encoding="utf-8")).get("meta", {})
    return float(meta.get("blocking_rejected_share", 0.5)), list(meta.get("blocking_excludes_rules", []))


def file_trust(con: duckdb.DuckDBPyConnection, kind: str, period: str | None = None) -> list[FileTrust]:
    """The current (loaded) files of `kind`, of one month or all, in month order."""
    limit, excluded = threshold(kind)
    rows = con.execute(
        """select l.period, l.file_path, l.rows_read,
                  (select count(distinct r.row_number) from audit.rejected_rows r
                   where r.kind = l.kind and r.period = l.period and r.sha256 = l.sha256
                     and not list_contains(?, r.rule_id))
           from audit.load_log l
           where l.status = 'loaded' and l.kind = ? and (? is null or l.period = ?)
           order by l.period""",
        [excluded, kind, period, period]).fetchall()
    return [FileTrust(kind, p, path, read or 0, rejected or 0, limit) for p, path, read, rejected in rows]
