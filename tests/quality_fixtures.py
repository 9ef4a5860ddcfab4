"""A tiny warehouse for the data-quality tests (tests/test_quality_flags.py).

`QualityWarehouse` is the indicator tests' `Warehouse` (tests/indicator_fixtures.py: one
county, 甲街道, 乙镇, 丙镇) with what the quality models read besides: the real audit
tables (load log with `loaded_at`, rejected rows, warnings, `audit.quality_confirmations`),
`staging.institutions` (every delivered institution row, accepted or quarantined) and
`reference.quality_parameters` from the shipped quality.toml. `build()` runs every model
of sql/marts as the pipeline does (`build_marts(con, incremental=True)`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.marts.build import build_marts
from pipeline.period import shift_month
from pipeline.reference.load import default_reference_folder
from pipeline.reference.quality import QualityParameters, parse_quality
from pipeline.reference.tables import write_quality_parameters
from pipeline.warehouse.schema import AUDIT_DDL, STAGING_DDL
from tests.indicator_fixtures import Warehouse

DEFAULTS = parse_quality(default_reference_folder() / "quality.toml")


def on_day(period: str, day: int, months_later: int = 1) -> datetime:
    """9 o'clock on `day` of the month `months_later` after `period`."""
    year, month = map(int, shift_month(period, months_later).split("-"))
    return datetime(year, month, day, 9, 0)


class QualityWarehouse(Warehouse):
    def __init__(self, path: Path, **quality: Any) -> None:
        super().__init__(path)
        self.con.execute("drop view audit.current_files")
        self.con.execute("drop table audit.load_log")
        self.con.execute("create schema if not exists staging")
        for ddl in AUDIT_DDL:
            self.con.execute(ddl)
        self.con.execute(STAGING_DDL["institutions"])
        self.quality: QualityParameters = replace(DEFAULTS, **quality)
        write_quality_parameters(self.con, self.quality)
        self.versions: dict[tuple[str, str], int] = {}

    def sha(self, kind: str, period: str) -> str:
        return f"sha-{kind}-{period}-v{self.versions.get((kind, period), 1)}"

    def file(self, kind: str, period: str, status: str = "loaded", seen: datetime | None = None) -> None:
        """One file version in the load log; first seen on day 5 of the next month unless told."""
        self.con.execute(
            "insert into audit.load_log (file_path, kind, period, sha256, status, loaded_at) values (?, ?, ?, ?, ?, ?)",
            [f"{kind}_{period}_v{self.versions.get((kind, period), 1)}.csv", kind, period, self.sha(kind, period),
             status, seen or on_day(period, 5)],
        )

    def revise(self, kind: str, period: str, seen: datetime) -> None:
        """A revised file of the month: the old version superseded, its accepted rows gone
        (add the new version's rows after this)."""
        self.con.execute("update audit.load_log set status = 'superseded' where kind = ? and period = ? "
                         "and status = 'loaded'", [kind, period])
        self.con.execute(f"delete from core.{kind} where period = ?", [period])
        if kind == "institutions":
            self.con.execute("delete from staging.institutions where period_file = ?", [period])
        self.versions[(kind, period)] = self.versions.get((kind, period), 1) + 1
        self.file(kind, period, seen=seen)

    def institution(self, period: str, institution_id: str, area_code: str, **kwargs: Any) -> None:
        """An accepted institution row (core) and the delivered row it comes from (staging)."""
        super().institution(period, institution_id, area_code, **kwargs)
        self.quarantined(period, institution_id)

    def quarantined(self, period: str, institution_id: str) -> None:
        """A delivered institution row that failed a rule: in staging, not in core."""
        self._row += 1
        self.con.execute(
            "insert into staging.institutions (sha256, period_file, row_number, source_row, period, institution_id) "
            "values (?, ?, ?, ?, ?, ?)",
            [self.sha("institutions", period), period, self._row, self._row + 2, period, institution_id],
        )

    def confirm(self, flag_key: str, note: str = "已电话核实") -> None:
        self.con.execute("insert into audit.quality_confirmations values (?, ?, ?)",
                         [flag_key, note, datetime(2024, 6, 1, 10, 0)])

    def build(self) -> dict[str, int]:
        return build_marts(self.con, incremental=True)

    def flags(self, check_id: str | None = None) -> set[tuple]:
        """(period, check_id, area_code, institution_id, measure) of every flag (of one check)."""
        rows = self.query(
            "select period, check_id, area_code, institution_id, measure from marts.quality_flags "
            "where ? is null or check_id = ?", [check_id, check_id])
        return set(rows)

    def flag(self, check_id: str, period: str, who: str, measure: str | None) -> dict[str, Any]:
        """The one flag of a check, month, institution (or area, for AREA-JUMP) and measure."""
        cursor = self.con.execute(
            "select * from marts.quality_flags where check_id = ? and period = ? "
            "and coalesce(institution_id, area_code) = ? and measure is not distinct from ?",
            [check_id, period, who, measure])
        names = [d[0] for d in cursor.description]
        found = cursor.fetchall()
        assert len(found) == 1, f"{len(found)} flags for {check_id} {period} {who} {measure}"
        return dict(zip(names, found[0]))

    def rates(self, kind: str, period: str, window_months: int) -> dict[str, Any]:
        cursor = self.con.execute(
            "select * from marts.reporting_rates where kind = ? and period = ? and window_months = ?",
            [kind, period, window_months])
        names = [d[0] for d in cursor.description]
        found = cursor.fetchall()
        assert len(found) == 1
        return dict(zip(names, found[0]))
