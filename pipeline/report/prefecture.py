"""The prefecture's monthly report (docs/rollup.md §7): the same PDF, PNG and XLSX family as
a county's, over the prefecture warehouse that `tuoyu run` builds from the counties' bundles.

    render_prefecture_report(con, period, out_dir) → <out_dir>/<period>/
        report_<period>.pdf      A4, Chinese, fonts embedded; the county × target matrix on a landscape page
        card_<period>.png        1080 × 1920 summary card for phones
        tables_<period>.xlsx     every table of the report
        charts/<chart>.png       one PNG per chart

What it shows, all read from the prefecture warehouse and worked out nowhere else: the
prefecture's value, target and status per targeted indicator with how many counties had a
value; a county × target matrix (each county's value coloured by its status against the
prefecture's targets); a ranking of the counties per indicator the prefecture's rollup.toml
ranks (`ranked`, in `reference.ranked_indicators`); the counties behind pace; which
county's bundle holds which month, and the rejected bundles with their message; each
county's own data-quality counts and reporting rates. The machinery is the county report's (render.py: Typst, charts,
workbook); the layout is `reports/prefecture.typ`.

Every figure the report prints (the prefecture's series, each county's values of the month) is
recorded in the prefecture warehouse's `marts.published_values`, as a county's report does: the
next report lists the figures that changed since (a county's revised bundle), and its summary
says how many.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import duckdb

from pipeline.period import month_end, month_label, months_between, shift_month
from pipeline.report.data import (Indicator, Point, _catalog, _points, _previous_published, _rows, published_row,
                                  record_published)
from pipeline.report.formatting import (BEHIND_STATUSES, DASH, DASH_NOTE, STATUS_ORDER, STATUS_ZH, date_label,
                                        fmt_target, fmt_value, rounded)
from pipeline.report.tables import (STATUS_NOTE, Table, change, name_with_unit, num, revised_values_table,
                                    status_cell)
from pipeline.settings import PROJECT_DIR

if TYPE_CHECKING:
    from pipeline.report.render import ReportResult

log = logging.getLogger(__name__)

TEMPLATE = PROJECT_DIR / "reports" / "prefecture.typ"
MARK = "【地市汇总】"
# Indicators whose figures count children: summed over counties, the same child counts twice.
CHILD_COUNTS = ("enrolled_children", "enrollment_rate", "place_utilization")
CHILDREN_NOTE = ("在托婴幼儿按县分别统计后相加：同一幼儿在两个县入托的计为两人"
                 "（各县不共享身份信息，无法去重）。")
# One letter beside a matrix cell's colour, so that the status reads in black and white too.
STATUS_MARK = {"attained": "达", "on_track": "稳", "needs_acceleration": "加", "limited_progress": "缓",
               "regressing": "退", "not_attained": "未", "insufficient_data": "少", "no_data": ""}
MATRIX_COLUMNS = 13       # indicator columns per matrix table on a landscape A4 page
MAX_COUNTY_ROWS = 60      # county rows of a table in the PDF (the XLSX holds all)
RECEIPT_MONTHS = 12
MAX_REJECTED_SHOWN = 30
MAX_NAMED_BEHIND = 30     # counties named per indicator and status in the PDF's table
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass
class PrefectureData:
    period: str
    code: str
    name: str
    months: list[str]                            # first month with data … period
    counties: list[tuple[str, str]]              # (code, name) in code order
    catalog: list[Indicator]
    applies_to: dict[str, str]                   # indicator → 'county' | 'county_and_towns'
    points: dict[tuple[str, str, str], Point]    # (indicator, period, area) → point
    coverage: dict[str, tuple[int, int]]         # indicator → (counties with value, counties) at period
    county_periods: list[dict[str, Any]]         # rollup.county_periods
    receipts: list[dict[str, Any]]               # rollup.bundle_receipts
    quality: dict[str, dict[str, Any]]           # county → the month's data-quality counts
    rates: dict[str, dict[str, Any]]             # county → 12-month reporting rates
    untargeted_note: list[str] = field(default_factory=list)
    ranked: tuple[str, ...] = ()                 # the indicators ranked county by county (reference.ranked_indicators)
    previous_report: str | None = None           # the latest earlier report's month (marts.published_values)
    previous_published: dict = field(default_factory=dict)  # (indicator, month, area) → what it printed

    def point(self, indicator_id: str, period: str, area: str | None = None) -> Point:
        return self.points.get((indicator_id, period, area or self.code), Point(None, None))

    def targeted(self) -> list[Indicator]:
        return [i for i in self.catalog if i.targeted]

    def judged_by_county(self, ind: Indicator) -> bool:
        """Whether a county's value of `ind` has a status (the target is not the prefecture's total only)."""
        return ind.targeted and self.applies_to.get(ind.indicator_id) == "county_and_towns"


def prefecture_root(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    rows = _rows(con, "select area_code, area_name from reference.areas where parent_code is null")
    if len(rows) != 1:
        raise ValueError(f"reference.areas 应恰有一行地市记录（parent_code 为空），实有 {len(rows)} 行。")
    return rows[0]["area_code"], rows[0]["area_name"]


def latest_prefecture_period(con: duckdb.DuckDBPyConnection) -> str | None:
    """The latest month with a prefecture value of any indicator (None when there is none)."""
    from pipeline.warehouse.connection import table_exists

    if not table_exists(con, "marts", "indicator_values"):
        return None
    code, _name = prefecture_root(con)
    row = con.execute("select max(period) from marts.indicator_values where area_code = ? and value is not null",
                      [code]).fetchone()
    return row[0] if row else None


def prefecture_months(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The months a report can be made for: those of any county's current bundle, in order
    (a month some county lacks too: its report says which)."""
    from pipeline.warehouse.connection import table_exists

    if not table_exists(con, "rollup", "county_periods"):
        return []
    return [p for (p,) in con.execute("select distinct period from rollup.county_periods order by 1").fetchall()]


def load_prefecture_data(con: duckdb.DuckDBPyConnection, period: str) -> PrefectureData:
    code, name = prefecture_root(con)
    counties = [(r["area_code"], r["area_name"]) for r in _rows(
        con, "select area_code, area_name from reference.areas where parent_code = ? order by area_code", [code])]
    catalog = _catalog(con)
    applies = {r["indicator_id"]: r["applies_to"] for r in _rows(
        con, "select indicator_id, applies_to from reference.targets")}
    points = {}
    rows = _points(con, "((v.area_code = ? and v.period <= ?) or (v.area_code <> ? and v.period = ?))",
                   [code, period, code, period])
    for r in rows:
        points[(r["indicator_id"], r["period"], r["area_code"])] = r["point"]
    first = min((r["period"] for r in rows if r["area_code"] == code), default=period)
    coverage = {r["indicator_id"]: (r["counties_with_value"], r["counties"]) for r in _rows(con, """
        select indicator_id, counties_with_value, counties from rollup.indicator_series
        where area_code = ? and period = ?""", [code, period])}
    county_periods = _rows(con, "select * from rollup.county_periods order by county_code, period")
    receipts = _rows(con, "select * from rollup.bundle_receipts order by received_at desc, bundle")
    quality = {r["county_code"]: r for r in _rows(con, """
        select county_code,
               sum(rows_read) filter (where kind <> 'all') as rows_read,
               sum(rows_rejected) filter (where kind <> 'all') as rows_rejected,
               sum(rows_warned) filter (where kind <> 'all') as rows_warned,
               sum(quality_flags) filter (where kind = 'all') as quality_flags,
               sum(quality_flags_open) filter (where kind = 'all') as quality_flags_open,
               count(*) filter (where kind <> 'all' and file_present) as files_present
        from rollup.county_data_quality where period = ?
        group by county_code""", [period])}
    rates = {r["county_code"]: r for r in _rows(con, """
        select county_code, sum(expected) as expected, sum(received) as received, sum(on_time) as on_time,
               100.0 * sum(received) / nullif(sum(expected), 0) as received_rate,
               100.0 * sum(on_time) / nullif(sum(expected), 0) as on_time_rate
        from rollup.county_reporting_rates where period = ? and window_months = 12
        group by county_code""", [period])}
    previous_report, previous = _previous_published(con, period)
    return PrefectureData(period, code, name, months_between(first, period), counties, catalog, applies, points,
                          coverage, county_periods, receipts, quality, rates, ranked=_ranked(con),
                          previous_report=previous_report, previous_published=previous)


def _ranked(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The indicators to rank, as the last build wrote them from rollup.toml (a warehouse built
    before the table existed: the default list; the next build writes the table)."""
    from pipeline.reference.load import DEFAULT_RANKED
    from pipeline.warehouse.connection import table_exists

    if not table_exists(con, "reference", "ranked_indicators"):
        return DEFAULT_RANKED
    return tuple(i for (i,) in con.execute("select indicator_id from reference.ranked_indicators order by rank_no")
                 .fetchall())


def published_values(data: PrefectureData) -> list[tuple[str, str, str, float | None, str]]:
    """Every figure the report prints: the prefecture's series for all months (表1, the other
    indicators, the monthly sheet), each county's value of the month (the matrix, the
    rankings, the sheet of every indicator by county)."""
    rows = []
    for ind in data.catalog:
        rows += [published_row(ind, m, data.code, data.point(ind.indicator_id, m).value) for m in data.months]
        rows += [published_row(ind, data.period, code, data.point(ind.indicator_id, data.period, code).value)
                 for code, _name in data.counties]
    return rows


def revisions_table(data: PrefectureData, published: list[tuple], number: int) -> tuple[Table, int]:
    area_names = {code: name for code, name in data.counties}
    area_names[data.code] = f"{data.name}（全市）"
    table, revised = revised_values_table(data.catalog, area_names, data.previous_report, data.previous_published,
                                          published, number)
    if revised:
        table.notes.append("数值变动来自各县报送的新汇总包（修订了已报送月份的数据）；各县的汇总包见“汇总包接收”表。")
    return table, revised


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

def _with_dash_note(table: Table) -> Table:
    if any((c.get("text") if isinstance(c, dict) else c) == DASH for row in table.rows for c in row):
        table.notes.append(DASH_NOTE)
    return table


def _coverage_text(data: PrefectureData, indicator_id: str) -> str:
    have, of = data.coverage.get(indicator_id, (None, None))
    return DASH if of is None else f"{have}/{of}"


def _share_note(data: PrefectureData) -> str:
    return ("“有数据的县”为本月有该指标数值的县数/县总数；缺少任一县数据的指标，全市数值按规则记为无数据"
            "（rollup.toml 的 min_county_share）。全市数值由各县分子、分母分别相加后计算，不是各县数值的平均。")


def prefecture_table(data: PrefectureData) -> Table:
    p, prev = data.period, shift_month(data.period, -1)
    rows = []
    for n, ind in enumerate(data.targeted(), start=1):
        now = data.point(ind.indicator_id, p)
        rows.append([str(n), name_with_unit(ind), num(now.value, ind.decimals),
                     fmt_target(ind.target, ind.comparison, ind.unit), month_label(ind.deadline),
                     status_cell(now.status), change(now.value, data.point(ind.indicator_id, prev).value, ind.decimals),
                     _coverage_text(data, ind.indicator_id),
                     "全市和各县" if data.judged_by_county(ind) else "仅全市合计"])
    notes = [_share_note(data), STATUS_NOTE]
    if any(i.indicator_id in CHILD_COUNTS for i in data.targeted()):
        notes.append(CHILDREN_NOTE)
    return _with_dash_note(Table(
        "全市目标指标", "表1　全市目标指标监测总表",
        ["序号", "指标（单位）", "全市本月值", "目标值", "期限", "状态", "环比增减", "有数据的县", "考核范围"],
        rows, notes, ["auto", "1fr", "auto", "auto", "auto", "auto", "auto", "auto", "auto"], "clrrcccrc"))


def others_table(data: PrefectureData, number: int) -> Table:
    p, prev = data.period, shift_month(data.period, -1)
    rows = []
    for n, ind in enumerate((i for i in data.catalog if not i.targeted), start=1):
        now = data.point(ind.indicator_id, p).value
        before = data.point(ind.indicator_id, prev).value
        rows.append([str(n), name_with_unit(ind), num(now, ind.decimals), num(before, ind.decimals),
                     change(now, before, ind.decimals), _coverage_text(data, ind.indicator_id)])
    notes = []
    if any(i.indicator_id in CHILD_COUNTS for i in data.catalog if not i.targeted):
        notes.append(CHILDREN_NOTE)
    return _with_dash_note(Table(
        "其他指标", f"表{number}　全市其他监测指标（未设目标）",
        ["序号", "指标（单位）", "全市本月值", "上月值", "环比增减", "有数据的县"],
        rows, notes, ["auto", "1fr", "auto", "auto", "auto", "auto"], "clrrrc"))


def _matrix_cell(ind: Indicator, point: Point, judged: bool) -> dict[str, Any]:
    cell = num(point.value, ind.decimals)
    if judged:
        status = point.status or "no_data"
        cell.update(shade=status, mark=STATUS_MARK.get(status, ""))
    return cell


def _balanced(items: list, size: int) -> list[list]:
    n = max(1, -(-len(items) // size))
    base, extra = divmod(len(items), n)
    out, start = [], 0
    for k in range(n):
        end = start + base + (k < extra)
        out.append(items[start:end])
        start = end
    return out


def _header(ind: Indicator, data: PrefectureData) -> str:
    star = "" if data.judged_by_county(ind) else "※"
    return f"{ind.name}{star}\n（{ind.unit}）" if ind.unit else f"{ind.name}{star}"


def matrix_tables(data: PrefectureData, first_number: int) -> list[Table]:
    """Counties × targeted indicators in the month: the value, coloured by the county's status
    against the prefecture's targets; the prefecture's own row last. Several tables when
    there are more indicators than fit across a landscape page."""
    inds = data.targeted()
    chunks = _balanced(inds, MATRIX_COLUMNS) if inds else [[]]
    tables = []
    for k, chunk in enumerate(chunks):
        rows = []
        for code, name in data.counties:
            rows.append([name] + [_matrix_cell(i, data.point(i.indicator_id, data.period, code),
                                               data.judged_by_county(i)) for i in chunk])
        rows.append([f"{data.name}（全市）"] + [_matrix_cell(i, data.point(i.indicator_id, data.period), True)
                                              for i in chunk])
        notes = ["单元格底色为该县数值对照全市目标的状态，右侧小字为状态简称："
                 + "，".join(f"{STATUS_MARK[s]}＝{STATUS_ZH[s]}" for s in STATUS_ORDER if STATUS_MARK[s]) + "。"]
        only_total = [i.name for i in chunk if not data.judged_by_county(i)]
        if only_total:
            notes.append(f"标“※”的指标（{'、'.join(only_total)}），全市目标只考核全市合计，"
                         "各县数值不判定状态，不着色。")
        if any(i.indicator_id in CHILD_COUNTS for i in chunk):
            notes.append(CHILDREN_NOTE)
        if len(data.counties) > MAX_COUNTY_ROWS:
            notes.append(f"共{len(data.counties)}个县，此处按代码顺序列出前{MAX_COUNTY_ROWS}个和全市合计，"
                         "全部见同期XLSX工作簿。")
        suffix = f"（{k + 1}）" if len(chunks) > 1 else ""
        tables.append(_with_dash_note(Table(
            f"各县目标矩阵{k + 1 if len(chunks) > 1 else ''}",
            f"表{first_number + k}　各县目标指标数值与状态（{month_label(data.period)}）{suffix}",
            ["县（市、区）"] + [_header(i, data) for i in chunk], rows, notes,
            ["auto"] + ["1fr"] * len(chunk), "l" + "r" * len(chunk),
            max_rows=MAX_COUNTY_ROWS + 1, keep_last=1)))
    return tables


def matrix_status_sheet(data: PrefectureData) -> Table:
    """The matrix's statuses in words (XLSX only: a spreadsheet cell has no status colour)."""
    inds = data.targeted()
    rows = []
    for code, name in [*data.counties, (data.code, f"{data.name}（全市）")]:
        row = [name]
        for i in inds:
            if code != data.code and not data.judged_by_county(i):
                row.append("不判定")
            else:
                row.append(STATUS_ZH.get(data.point(i.indicator_id, data.period, code).status or "no_data"))
        rows.append(row)
    return Table("各县目标状态", f"各县目标指标状态（{month_label(data.period)}）",
                 ["县（市、区）"] + [i.name for i in inds], rows,
                 ["“不判定”：全市目标只考核全市合计。"])


def rank_counties(values: list[tuple[str, float | None]], decimals: int, higher_is_better: bool = True
                  ) -> list[tuple[int | None, str, float | None]]:
    """(place, name, value), best first. Ties (equal printed values: the handbook's rounding)
    share a place and the next place is skipped (1, 2, 2, 4); counties without a value come
    last without a place, in the given order."""
    have = [(name, v, rounded(v, decimals)) for name, v in values if v is not None]
    have.sort(key=lambda t: -t[2] if higher_is_better else t[2])  # stable: the given order among ties
    out: list[tuple[int | None, str, float | None]] = []
    for k, (name, v, r) in enumerate(have):
        place = out[-1][0] if k and r == have[k - 1][2] else k + 1
        out.append((place, name, v))
    out += [(None, name, None) for name, v in values if v is None]
    return out


def ranking_tables(data: PrefectureData, first_number: int) -> list[Table]:
    by_id = {i.indicator_id: i for i in data.catalog}
    tables = []
    for k, ind in enumerate(i for i in (by_id.get(h) for h in data.ranked) if i is not None):
        points = {code: data.point(ind.indicator_id, data.period, code) for code, _n in data.counties}
        ranked = rank_counties([(name, points[code].value) for code, name in data.counties], ind.decimals,
                               ind.comparison != "<=")
        status_of = {name: points[code].status for code, name in data.counties}
        judged = data.judged_by_county(ind)
        rows = [[DASH if place is None else str(place), name, num(value, ind.decimals)]
                + ([status_cell(status_of[name])] if judged else []) for place, name, value in ranked]
        prefecture = data.point(ind.indicator_id, data.period).value
        target = (f"，目标{fmt_target(ind.target, ind.comparison, ind.unit)}" if ind.targeted else "")
        notes = [f"全市{fmt_value(prefecture, ind.decimals)}{target}。"]
        if ind.indicator_id in CHILD_COUNTS:
            notes.append(CHILDREN_NOTE)
        tables.append(Table(
            f"排名-{ind.name}"[:31], f"表{first_number + k}　{name_with_unit(ind)}",
            ["位次", "县（市、区）", "本月值"] + (["状态"] if judged else []), rows, notes,
            ["auto", "1fr", "auto"] + (["auto"] if judged else []), "clr" + ("c" if judged else ""),
            max_rows=MAX_COUNTY_ROWS))
    return tables


def behind_rows(data: PrefectureData) -> list[tuple[Indicator, str, list[tuple[str, float | None]]]]:
    """(indicator, status, [(county, value)]) for each targeted indicator judged by county and
    each status of BEHIND_STATUSES that some county has in the month."""
    out = []
    for ind in data.targeted():
        if not data.judged_by_county(ind):
            continue
        for status in BEHIND_STATUSES:
            names = [(name, data.point(ind.indicator_id, data.period, code).value) for code, name in data.counties
                     if data.point(ind.indicator_id, data.period, code).status == status]
            if names:
                out.append((ind, status, names))
    return out


def behind_table(data: PrefectureData, number: int) -> Table:
    rows = [[name_with_unit(ind), fmt_target(ind.target, ind.comparison, ind.unit), month_label(ind.deadline),
             status_cell(status), str(len(names)),
             "、".join(f"{n}（{fmt_value(v, ind.decimals)}）" for n, v in names[:MAX_NAMED_BEHIND])
             + (f"等{len(names)}个县" if len(names) > MAX_NAMED_BEHIND else "")]
            for ind, status, names in behind_rows(data)]
    if not rows:
        rows = [["本月没有进度落后的县", "", "", "", "", ""]]
    return Table("进度落后的县", f"表{number}　进度落后的县（{month_label(data.period)}）",
                 ["指标（单位）", "目标值", "期限", "状态", "县数", "县（本月值）"], rows,
                 ["列出对照全市目标为未达成、倒退、进展有限、需加快的县；只考核全市合计的指标不列。", STATUS_NOTE],
                 ["auto", "auto", "auto", "auto", "auto", "1fr"], "lrcccl")


def _receipt_months(data: PrefectureData) -> list[str]:
    first = max(shift_month(data.period, -(RECEIPT_MONTHS - 1)), data.months[0]) if data.months else data.period
    return months_between(first, data.period)


def receipt_table(data: PrefectureData, number: int) -> Table:
    """County × month: whether the county's current bundle holds the month."""
    months = _receipt_months(data)
    by = {(r["county_code"], r["period"]): r for r in data.county_periods}
    current = {r["county_code"]: r for r in data.receipts if r["status"] == "current"}
    rejected = {}
    for r in data.receipts:
        if r["status"] == "rejected" and r["county_code"]:
            rejected[r["county_code"]] = rejected.get(r["county_code"], 0) + 1
    rows = []
    for code, name in data.counties:
        bundle = current.get(code)
        row = [name, bundle["made_at"].strftime("%Y-%m-%d %H:%M") if bundle and bundle["made_at"] else
               {"text": "未收到", "tone": "bad"}]
        for m in months:
            entry = by.get((code, m))
            if bundle is None:
                row.append({"text": "未收到", "tone": "bad"})
            elif entry is not None and entry["in_bundle"]:
                row.append("有")
            else:
                row.append({"text": "缺", "tone": "bad"})
        row.append({"text": str(rejected[code]), "tone": "bad"} if rejected.get(code) else "0")
        rows.append(row)
    years = []
    for m in months:
        if years and years[-1][0] == f"{m[:4]}年":
            years[-1] = (years[-1][0], years[-1][1] + 1)
        else:
            years.append((f"{m[:4]}年", 1))
    # a year over one month's narrow column: "2025" fits it, "2025年" wraps to two lines
    years = [(label[:4] if span == 1 else label, span) for label, span in years]
    notes = ["“有”：该县当前使用的汇总包含该月数据；“缺”：当前汇总包不含该月（请该县补报后重新生成汇总包）；"
             "“未收到”：尚未收到该县任何可用的汇总包。拒收的汇总包及原因见下表。"]
    return Table("汇总包接收", f"表{number}　各县汇总包接收情况（近{len(months)}个月）",
                 ["县（市、区）", "当前汇总包生成时间"] + [f"{int(m[5:7])}月" for m in months] + ["拒收包数"],
                 rows, notes, ["auto", "auto"] + ["1fr"] * len(months) + ["auto"], "lc" + "c" * len(months) + "c",
                 groups=[("", 2)] + years + [("", 1)], max_rows=MAX_COUNTY_ROWS)


def _reason(receipt: dict) -> str:
    """The rejection's message without its opening `汇总包 <name> 无法使用：`: the bundle has its own column."""
    message = receipt["message_zh"] or ""
    opening = f"汇总包 {PurePosixPath(receipt['bundle']).name} 无法使用："
    return message.removeprefix(opening)


def rejected_bundles_table(data: PrefectureData, number: int) -> Table:
    rejected = [r for r in data.receipts if r["status"] == "rejected"]
    rows = [[r["county_name"] or "（无法确定所属县）", r["bundle"],
             r["received_at"].strftime("%Y-%m-%d %H:%M") if r["received_at"] else DASH, _reason(r)]
            for r in rejected]
    notes = ["拒收的汇总包整包不用，该县此前的汇总包继续使用；请该县按说明处理后重新生成并发送。"]
    if not rows:
        rows = [["没有拒收的汇总包", "", "", ""]]
    if len(rejected) > MAX_REJECTED_SHOWN:
        notes.append(f"共{len(rejected)}个，此处列出最近的{MAX_REJECTED_SHOWN}个，全部见同期XLSX工作簿。")
    return Table("拒收汇总包", f"表{number}　拒收的汇总包", ["县（市、区）", "汇总包", "接收时间", "原因"], rows, notes,
                 ["auto", "1fr", "auto", "1.4fr"], "llll", max_rows=MAX_REJECTED_SHOWN)


def quality_table(data: PrefectureData, number: int) -> Table:
    rows = []
    for code, name in data.counties:
        q = data.quality.get(code) or {}
        r = data.rates.get(code) or {}
        rows.append([name, num(q.get("rows_read"), 0), num(q.get("rows_rejected"), 0), num(q.get("rows_warned"), 0),
                     num(q.get("quality_flags"), 0), num(q.get("quality_flags_open"), 0),
                     num(r.get("received_rate"), 1), num(r.get("on_time_rate"), 1)])
    notes = ["读入行、拒收行、警示行为该县本月三类报表（托育机构、在托幼儿、从业人员）之和；核查提示为该县本月的数据核查提示，"
             "待核实为其中尚未核实的。各县的明细数据留在县里，只随汇总包报送计数。",
             "报送率、按时报送率为近12个月三类报表实收、按时收到份数占应报份数的百分比（各县报表接收情况）。"]
    return _with_dash_note(Table(
        "各县数据质量", f"表{number}　各县数据质量（{month_label(data.period)}）",
        ["县（市、区）", "读入行", "拒收行", "警示行", "核查提示", "待核实", "报送率（%）", "按时报送率（%）"],
        rows, notes, ["1fr"] + ["auto"] * 7, "lrrrrrrr", max_rows=MAX_COUNTY_ROWS))


def series_table(data: PrefectureData) -> Table:
    """Every indicator's prefecture value by month (XLSX only)."""
    rows = [[name_with_unit(i)] + [num(data.point(i.indicator_id, m).value, i.decimals) for m in data.months]
            for i in data.catalog]
    return _with_dash_note(Table("全市月度数值", f"全市各指标月度数值（{month_label(data.months[0])}至"
                                 f"{month_label(data.period)}）", ["指标（单位）"] + data.months, rows, []))


def county_values_sheet(data: PrefectureData) -> Table:
    """Every indicator × county in the month (XLSX only)."""
    rows = [[name] + [num(data.point(i.indicator_id, data.period, code).value, i.decimals) for i in data.catalog]
            for code, name in [*data.counties, (data.code, f"{data.name}（全市）")]]
    notes = [CHILDREN_NOTE] if any(i.indicator_id in CHILD_COUNTS for i in data.catalog) else []
    return _with_dash_note(Table("各县全部指标", f"各县全部指标数值（{month_label(data.period)}）",
                                 ["县（市、区）"] + [name_with_unit(i) for i in data.catalog], rows, notes))


# ---------------------------------------------------------------------------
# Summary, charts, document
# ---------------------------------------------------------------------------

def _names(items: list[str], most: int = 6) -> str:
    return "、".join(items) if len(items) <= most else "、".join(items[:most]) + f"等{len(items)}个"


def status_counts(data: PrefectureData) -> dict[str, int]:
    statuses = [data.point(i.indicator_id, data.period).status or "no_data" for i in data.targeted()]
    return {s: statuses.count(s) for s in STATUS_ORDER if statuses.count(s)}


def write_summary(data: PrefectureData, revisions: int = 0, revisions_table_no: int | None = None) -> list[str]:
    counts = status_counts(data)
    behind = sum(counts.get(s, 0) for s in BEHIND_STATUSES)
    unknown = counts.get("no_data", 0) + counts.get("insufficient_data", 0)
    detail = "、".join(f"{STATUS_ZH[s]}{counts[s]}项" for s in BEHIND_STATUSES if counts.get(s))
    sentences = [f"截至{month_label(data.period)}底，{data.name}纳入监测的{len(data.targeted())}项目标指标中，"
                 f"全市已达成{counts.get('attained', 0)}项，按期推进{counts.get('on_track', 0)}项，"
                 f"进度落后{behind}项" + (f"（{detail}）" if detail else "")
                 + (f"，无数据或数据不足{unknown}项" if unknown else "") + "。"]
    months = {(r["county_code"], r["period"]): r["in_bundle"] for r in data.county_periods}
    missing = [name for code, name in data.counties if not months.get((code, data.period))]
    n = len(data.counties)
    if missing:
        sentences.append(f"全市{n}个县（市、区）中，{n - len(missing)}个报送了本月数据，"
                         f"{_names(missing)}缺本月数据；缺县的指标全市数值按规则记为无数据。")
    else:
        sentences.append(f"全市{n}个县（市、区）均报送了本月数据。")
    per_county: dict[str, int] = {}
    for _ind, _status, names in behind_rows(data):
        for name, _v in names:
            per_county[name] = per_county.get(name, 0) + 1
    if per_county:
        top = sorted(per_county.items(), key=lambda kv: -kv[1])
        sentences.append("进度落后指标较多的县：" + "、".join(f"{name}（{k}项）" for name, k in top[:5]) + "。")
    else:
        sentences.append("本月没有进度落后的县。")
    if revisions:
        where = f"，详见表{revisions_table_no}" if revisions_table_no else ""
        sentences.append(f"因各县报送修订，上期报告已发布的{revisions}个数值有变动{where}。")
    return sentences


def chart_specs(data: PrefectureData) -> list:
    from pipeline.report import charts
    from pipeline.report.document import ChartSpec

    specs = []
    places = next((i for i in data.catalog if i.indicator_id == "places_per_1000"), None)
    if places is None:
        return specs
    series = [data.point(places.indicator_id, m).value for m in data.months]
    specs.append(ChartSpec("trend_places_per_1000", lambda: charts.trend_chart(
        f"全市{name_with_unit(places)}", data.months, series, kind=places.kind, decimals=places.decimals,
        unit=places.unit, target=places.target, comparison=places.comparison, deadline=places.deadline)))
    points = [data.point(places.indicator_id, data.period, code) for code, _n in data.counties]
    judged = data.judged_by_county(places)
    specs.append(ChartSpec("counties_places_per_1000", lambda: charts.area_bar_chart(
        f"各县{name_with_unit(places)}（{month_label(data.period)}）", [n for _c, n in data.counties],
        [p.value for p in points], [p.meets_target if judged else None for p in points],
        decimals=places.decimals, unit=places.unit, target=places.target, comparison=places.comparison),
        wide=True))
    return specs


def build_prefecture_document(data: PrefectureData, compiler: str, generated_on: date | None):
    from pipeline.report.document import Document
    from pipeline.report.summary import Summary, value_with_unit

    n = 2
    matrix = matrix_tables(data, n)
    n += len(matrix)
    rankings = ranking_tables(data, n)
    n += len(rankings)
    behind = behind_table(data, n)
    others = others_table(data, n + 1)
    receipts = receipt_table(data, n + 2)
    rejected = rejected_bundles_table(data, n + 3)
    quality = quality_table(data, n + 4)
    published = published_values(data)
    revisions, revised = revisions_table(data, published, n + 5)
    places = next((i for i in data.catalog if i.indicator_id == "places_per_1000"), None)
    title = f"{data.name}3岁以下婴幼儿照护服务发展目标监测月报{MARK}（{month_label(data.period)}）"
    meta = {
        "title": title, "prefecture": data.name, "mark": MARK,
        "title_lines": [f"{data.name}3岁以下婴幼儿照护服务发展目标监测月报", f"{MARK}（{month_label(data.period)}）"],
        "short_title": f"{data.name}托育服务发展目标监测月报{MARK}",
        "period": data.period, "period_label": month_label(data.period),
        "as_of": date_label(month_end(data.period)), "compiler": compiler,
        "generated_on": date_label(generated_on) if generated_on else None,
        "counties": len(data.counties),
        "area_target": (fmt_target(places.target, places.comparison, places.unit)
                        if places is not None and places.target is not None else None),
    }
    card_rows = []
    for ind in data.targeted():
        now = data.point(ind.indicator_id, data.period)
        card_rows.append({"name": ind.name, "status": status_cell(now.status),
                          "value": DASH if now.value is None else value_with_unit(ind, now.value),
                          "counties": _coverage_text(data, ind.indicator_id)})
    tables = {"prefecture": prefecture_table(data), "others": others, "matrix": matrix,
              "matrix_status": matrix_status_sheet(data), "rankings": rankings, "behind": behind,
              "receipts": receipts, "rejected": rejected, "quality": quality,
              "revisions": revisions, "county_values": county_values_sheet(data), "series": series_table(data)}
    return Document(meta=meta, summary=Summary(write_summary(data, revised, n + 5)), tables=tables,
                    charts=chart_specs(data), published=published, revisions=revised, card_rows=card_rows)


SHEETS = ("prefecture", "others", "matrix", "matrix_status", "rankings", "behind", "receipts", "rejected",
          "quality", "revisions", "county_values", "series")


def _typst_data(doc, mode: str, chart_paths: dict[str, str]) -> dict:
    from pipeline.report.render import _table_json
    from pipeline.report.style import STATUS_COLOURS

    tables = {k: ([_table_json(t) for t in v] if isinstance(v, list) else _table_json(v))
              for k, v in doc.tables.items() if k not in ("matrix_status", "county_values", "series")}
    statuses = [row[5]["status"] for row in doc.tables["prefecture"].rows]
    counts = [{"status": s, "label": STATUS_ZH[s], "count": statuses.count(s)}
              for s in STATUS_ORDER if statuses.count(s)]
    return {
        "mode": mode, "meta": doc.meta, "summary": doc.summary.sentences, "status_counts": counts,
        "status_colours": {k: list(v) for k, v in STATUS_COLOURS.items()},
        "legend": [{"status": s, "text": f"{STATUS_MARK[s]}＝{STATUS_ZH[s]}"} for s in STATUS_ORDER if STATUS_MARK[s]],
        "tables": tables,
        "charts": {"trend": chart_paths.get("trend_places_per_1000"),
                   "counties": chart_paths.get("counties_places_per_1000")},
        "card_rows": doc.card_rows, "card_notes": doc.summary.sentences[1:],
    }


def render_prefecture_report(con: duckdb.DuckDBPyConnection, period: str | None, out_dir: Path, *,
                             compiler: str = "统计局", generated_on: date | None = None) -> ReportResult:
    """Render the prefecture's report of `period` (default: the latest month with a prefecture
    value) into `out_dir/<period>/`, then record what it printed (`marts.published_values`),
    so that the next report lists what was revised; `con` must be writable."""
    from pipeline.report.render import ReportResult, compile_typst, write_report_files
    from pipeline.report.workbook import build_workbook

    started = time.perf_counter()
    period = period or latest_prefecture_period(con)
    if period is None:
        raise ValueError("地市数据仓库中还没有任何全市指标数值，无法生成地市汇总报告：请先接收各县汇总包并运行 tuoyu run。")
    if not _PERIOD.match(period):
        raise ValueError(f"报告月份应写作 YYYY-MM（如 2024-06），收到 {period!r}。")
    data = load_prefecture_data(con, period)
    doc = build_prefecture_document(data, compiler, generated_on)
    report_day = generated_on or month_end(period)
    stamp = datetime(report_day.year, report_day.month, report_day.day, tzinfo=timezone.utc)
    pdf, card, pngs = compile_typst(TEMPLATE, doc.charts, lambda mode, charts: _typst_data(doc, mode, charts), stamp)
    workbook = build_workbook(doc, stamp.replace(tzinfo=None), SHEETS)
    target, pdf_path, card_path, xlsx_path, chart_files = write_report_files(
        Path(out_dir) / period, period, pdf=pdf, card=card, workbook=workbook, pngs=pngs)
    record_published(con, period, doc.published)
    seconds = time.perf_counter() - started
    log.info("prefecture report %s written to %s in %.2f s (%d revised values)", period, target, seconds,
             doc.revisions)
    return ReportResult(period, target, pdf_path, chart_files, card_path, xlsx_path, doc.revisions, seconds)
