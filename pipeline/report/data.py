"""Everything the monthly report shows, read from the warehouse (all of the report's SQL).

`load_report_data(con, period)` returns one `ReportData` (the month's data-quality flags
through `pipeline/marts/quality.py: read_flags`, which `tuoyu quality list` shares);
nothing else in the report package talks to the database except `record_published` (which writes
`marts.published_values`, the memory of what each report printed, so that the next
report can list the figures revised since).

The report shows what the marts hold and works nothing out again: values and statuses
come from marts.indicator_values, whether and by how much a target is met from
marts.target_checks and marts.target_verdicts, the operating institutions from
marts.operating_institutions. Every table is read by its column names as the pipeline
builds it; marts.published_values, which the report itself keeps, is the one that may
not exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipeline.period import month_end, months_between, shift_month
from pipeline.report.formatting import fmt_value, rounded
from pipeline.warehouse.connection import table_exists

QUALITY_MONTHS = 12

# marts.published_values: one row per (report_period, indicator_id, period, area_code):
# the figure as the report of `report_period` printed it. Written by the report itself
# (delete-and-reinsert of its own report month), never by a SQL model.
PUBLISHED_DDL = """
create schema if not exists marts;
create table if not exists marts.published_values (
    report_period varchar not null,   -- the report month that printed the figure
    indicator_id varchar not null,
    period varchar not null,          -- the month the figure is for
    area_code varchar not null,
    value_rounded double,             -- as printed, rounded; NULL when printed "—"
    value_text varchar not null       -- the printed text ("3.14", "—")
)
"""


@dataclass(frozen=True)
class Indicator:
    """One row of marts.indicator_catalog."""

    indicator_id: str
    name: str
    unit: str
    levels: str
    kind: str
    decimals: int
    definition: str
    clause: str
    lead_unit: str
    target: float | None
    comparison: str | None
    deadline: str | None
    sort_order: int

    @property
    def targeted(self) -> bool:
        return self.target is not None and self.deadline is not None

    @property
    def area_level(self) -> bool:
        return "A" in (self.levels or "").replace(" ", "").split(",")


@dataclass(frozen=True)
class Point:
    """One indicator value at one month for one area, with its target status and, from
    marts.target_checks, whether it meets the target and what is still missing to it
    (both None where no target applies or there is no value)."""

    value: float | None
    status: str | None
    meets_target: bool | None = None
    shortfall: float | None = None


@dataclass
class ReportData:
    period: str
    county_code: str
    county_name: str
    months: list[str]                     # first month with data … period
    areas: list[dict[str, Any]]           # the 镇街, in code order
    catalog: list[Indicator]              # sort_order
    county: dict[str, dict[str, Point]]   # indicator → month → point (county level)
    by_area: dict[str, dict[str, Point]]  # indicator → area_code → point at `period`
    verdicts: list[dict[str, Any]]        # marts.target_verdicts
    measures: list[dict[str, Any]]
    quality: list[dict[str, Any]]         # marts.data_quality, last 12 months
    rejected: list[dict[str, Any]]        # rejected rows by kind and rule
    mix: list[dict[str, Any]]             # operating institutions by type by month
    previous_report: str | None
    previous_published: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    untrusted_kinds: list[str] = field(default_factory=list)  # the month's files mostly rejected
    flags: list[dict[str, Any]] = field(default_factory=list)  # marts.quality_flags of the month, open first

    @property
    def period_end(self):
        return month_end(self.period)

    def indicator(self, indicator_id: str) -> Indicator | None:
        return next((i for i in self.catalog if i.indicator_id == indicator_id), None)

    def point(self, indicator_id: str, period: str) -> Point:
        return self.county.get(indicator_id, {}).get(period, Point(None, None))


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def latest_period(con: duckdb.DuckDBPyConnection) -> str:
    """The latest month with an institutions extract (audit.current_files)."""
    row = con.execute(
        "select max(period) from audit.current_files where kind = 'institutions'"
    ).fetchone()
    if not row or row[0] is None:
        raise ValueError("仓库中没有任何托育机构报表（audit.current_files），无法确定报告月份；"
                         "请先加载数据，或指定报告月份。")
    return row[0]


def _county(con) -> tuple[str, str]:
    rows = _rows(con, "select area_code, area_name from reference.areas where parent_code is null")
    if len(rows) != 1:
        raise ValueError(f"reference.areas 应恰有一行县级记录（parent_code 为空），实有 {len(rows)} 行。")
    return rows[0]["area_code"], rows[0]["area_name"]


def _catalog(con) -> list[Indicator]:
    rows = _rows(con, """
        select indicator_id, name_zh, unit_zh, levels, kind, decimals, definition_zh, clause,
               lead_unit, target_value, comparison, target_deadline, sort_order
        from marts.indicator_catalog
        order by sort_order, indicator_id, target_deadline
    """)
    seen: set[str] = set()
    out = []
    for r in rows:
        # An indicator with two targets may appear twice; the scorecard shows the first.
        if r["indicator_id"] in seen:
            continue
        seen.add(r["indicator_id"])
        out.append(Indicator(r["indicator_id"], r["name_zh"], r["unit_zh"] or "",
                             r["levels"] or "C", r["kind"], int(r["decimals"]),
                             r["definition_zh"] or "", r["clause"] or "", r["lead_unit"] or "",
                             r["target_value"], r["comparison"], r["target_deadline"],
                             int(r["sort_order"] or 0)))
    return out


def _verdicts(con) -> list[dict]:
    """The verdict on each target at its deadline (marts.target_verdicts). Whether a
    deadline is due is the report month's to say (a report for an earlier month shows a
    later deadline as not yet due, whatever the table says): pipeline/report/tables.py."""
    return _rows(con, """
        select indicator_id, deadline, target_value, comparison, verdict, deadline_value,
               shortfall, beyond_planned_range
        from marts.target_verdicts
        order by deadline, indicator_id
    """)


def _quality(con, period: str) -> list[dict]:
    first = shift_month(period, -(QUALITY_MONTHS - 1))
    return _rows(con, "select * from marts.data_quality where period between ? and ? "
                      "order by period, kind", [first, period])


def _rejected(con, period: str) -> list[dict]:
    """Rejected rows by kind and rule: in the report month and in the last 12 months."""
    first = shift_month(period, -(QUALITY_MONTHS - 1))
    # Only rows of the current version of each file count (a superseded file's rejects
    # no longer matter); audit.current_files says which versions are current.
    return _rows(con, """
        with current_rejects as (
            select r.kind, r.period, r.rule_id, r.message
            from audit.rejected_rows as r
            join audit.current_files as f
              on f.sha256 = r.sha256 and f.kind = r.kind and f.period = r.period
            where r.period between ? and ?
        ),
        final as (
            select kind, rule_id,
                   count(*) filter (where period = ?) as rows_this_month,
                   count(*) as rows_12_months,
                   mode(message) as typical_message
            from current_rejects
            group by kind, rule_id
        )
        select * from final order by rows_this_month desc, rows_12_months desc, kind, rule_id
    """, [first, period, period])


def _mix(con, period: str) -> list[dict]:
    """Operating institutions (O(M), marts.operating_institutions) by type per month."""
    return _rows(con, """
        select period, institution_type, count(*) as institutions, sum(places) as places
        from marts.operating_institutions
        where period <= ?
        group by period, institution_type
        order by period, institution_type
    """, [period])


def _previous_published(con, period: str) -> tuple[str | None, dict]:
    if not table_exists(con, "marts", "published_values"):
        return None, {}
    row = con.execute("select max(report_period) from marts.published_values "
                      "where report_period < ?", [period]).fetchone()
    if not row or row[0] is None:
        return None, {}
    rows = _rows(con, "select indicator_id, period, area_code, value_rounded, value_text "
                      "from marts.published_values where report_period = ?", [row[0]])
    return row[0], {(r["indicator_id"], r["period"], r["area_code"]): r for r in rows}


def _points(con, where: str, params: list) -> list[dict]:
    """Rows of marts.indicator_values (`where` over alias v) with their Point: the value,
    the status and, where a target applies, the row of marts.target_checks."""
    rows = _rows(con, f"""
        select v.indicator_id, v.period, v.area_code, v.value, v.status, c.meets_target, c.shortfall
        from marts.indicator_values as v
        left join marts.target_checks as c
          on c.indicator_id = v.indicator_id and c.period = v.period and c.area_code = v.area_code
        where {where}
    """, params)
    for r in rows:
        r["point"] = Point(r["value"], r["status"], r["meets_target"], r["shortfall"])
    return rows


def load_report_data(con: duckdb.DuckDBPyConnection, period: str) -> ReportData:
    county_code, county_name = _county(con)
    catalog = _catalog(con)
    areas = _rows(con, """
        select area_code, area_name, area_type, urban_rural
        from reference.areas where parent_code is not null order by area_code
    """)
    values = _points(con, "v.area_code = ? and v.period <= ?", [county_code, period])
    county: dict[str, dict[str, Point]] = {}
    for r in values:
        county.setdefault(r["indicator_id"], {})[r["period"]] = r["point"]
    first = min((r["period"] for r in values), default=period)
    by_area: dict[str, dict[str, Point]] = {}
    for r in _points(con, "v.area_code <> ? and v.period = ?", [county_code, period]):
        by_area.setdefault(r["indicator_id"], {})[r["area_code"]] = r["point"]
    measures = _rows(con, """
        select measure_no, title_zh, lead_unit, responsible_units, indicator_ids, coverage_note_zh
        from marts.policy_measures order by measure_no
    """)
    previous_report, previous = _previous_published(con, period)
    return ReportData(
        period=period, county_code=county_code, county_name=county_name,
        months=months_between(first, period), areas=areas, catalog=catalog,
        county=county, by_area=by_area, verdicts=_verdicts(con), measures=measures,
        quality=_quality(con, period), rejected=_rejected(con, period), mix=_mix(con, period),
        previous_report=previous_report, previous_published=previous,
        untrusted_kinds=untrusted_kinds_of(con, period), flags=_flags(con, period),
    )


def _flags(con, period: str) -> list[dict]:
    """The month's data-quality flags (marts.quality_flags with the institution's name and
    the confirmation's note, pipeline/marts/quality.py): open ones first, then 已核实."""
    from pipeline.marts.quality import read_flags

    flags = read_flags(con, period, include_confirmed=True)
    return [f for f in flags if not f["confirmed"]] + [f for f in flags if f["confirmed"]]


def untrusted_kinds_of(con, period: str) -> list[str]:
    """The kinds whose file of `period` has most of its rows rejected (pipeline/validate/trust.py)."""
    from pipeline.warehouse.schema import KINDS
    from pipeline.validate.trust import file_trust

    return [kind for kind in KINDS if any(not t.trusted for t in file_trust(con, kind, period))]


def published_row(ind: Indicator, month: str, area: str, value: float | None) -> tuple[str, str, str, float | None, str]:
    """One figure a report prints, as `record_published` keeps it: (indicator_id, period,
    area_code, value rounded as printed, the printed text)."""
    return ind.indicator_id, month, area, rounded(value, ind.decimals), fmt_value(value, ind.decimals)


def record_published(con: duckdb.DuckDBPyConnection, report_period: str,
                     rows: list[tuple[str, str, str, float | None, str]]) -> None:
    """Replace what the report of `report_period` published with `rows`.

    rows: (indicator_id, period, area_code, value_rounded, value_text).
    """
    columns = list(zip(*rows)) if rows else [[], [], [], [], []]
    con.execute("begin transaction")
    try:
        con.execute(PUBLISHED_DDL)
        con.execute("delete from marts.published_values where report_period = ?", [report_period])
        con.execute("""
            insert into marts.published_values
                (report_period, indicator_id, period, area_code, value_rounded, value_text)
            select ?, unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]),
                   unnest(?::double[]), unnest(?::varchar[])
        """, [report_period, *[list(c) for c in columns]])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
