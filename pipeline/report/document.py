"""What the report says, as plain data: tables, chart specifications, summary, published values.

`build_document(data, compiler, generated_on)` turns `ReportData` into a `Document`.
The same tables (tables.py) feed the PDF (through the Typst template), the summary card
and the XLSX workbook, so the three always carry the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from matplotlib.figure import Figure

from pipeline.report import charts
from pipeline.report.data import ReportData, published_row
from pipeline.period import month_label
from pipeline.report.formatting import DASH, date_label, fmt_target
from pipeline.report.summary import Summary, value_with_unit, write_summary
from pipeline.report.tables import (Table, area_tables, definitions_table, files_table,
                                    measures_table, mix_table, name_with_unit,
                                    other_indicators_table, quality_flags_sheet, quality_flags_table,
                                    rejected_table, revisions_table, scorecard_table, series_table,
                                    status_cell, verdict_tables)

@dataclass
class ChartSpec:
    key: str                      # file stem
    build: Callable[[], Figure]
    wide: bool = False            # full-width in the PDF (else two per row)


@dataclass
class Document:
    meta: dict[str, Any]
    summary: Summary
    tables: dict[str, Table | list[Table]]
    charts: list[ChartSpec]
    published: list[tuple[str, str, str, float | None, str]]
    revisions: int
    card_rows: list[dict[str, Any]]   # the phone card: name, value with unit, status


# ---------------------------------------------------------------------------
# Charts and published values
# ---------------------------------------------------------------------------

def chart_specs(data: ReportData, demo: bool = False) -> list[ChartSpec]:
    """The report's charts; `demo`: each carries the demo mark."""
    specs = []
    months = data.months

    def series(ind_id: str) -> list[float | None]:
        return [data.point(ind_id, m).value for m in months]

    for ind in (i for i in data.catalog if i.targeted):
        specs.append(ChartSpec(f"trend_{ind.indicator_id}", lambda ind=ind: charts.trend_chart(
            name_with_unit(ind), months, series(ind.indicator_id), kind=ind.kind,
            decimals=ind.decimals, unit=ind.unit, target=ind.target,
            comparison=ind.comparison, deadline=ind.deadline, demo=demo)))
    places = data.indicator("places_per_1000")
    if places is not None:
        values = [data.by_area.get(places.indicator_id, {}).get(a["area_code"]) for a in data.areas]
        specs.append(ChartSpec("area_places_per_1000", lambda: charts.area_bar_chart(
            f"各镇街{name_with_unit(places)}", [a["area_name"] for a in data.areas],
            [v.value if v else None for v in values], [v.meets_target if v else None for v in values],
            decimals=places.decimals,
            unit=places.unit, target=places.target, comparison=places.comparison, demo=demo), wide=True))
    types = sorted({r["institution_type"] for r in data.mix})
    by = {(r["period"], r["institution_type"]): r["institutions"] for r in data.mix}
    present = {r["period"] for r in data.mix}
    counts = {t: [by.get((m, t), 0 if m in present else None) for m in months] for t in types}
    specs.append(ChartSpec("institution_mix", lambda: charts.stacked_mix_chart(
        "正常运营机构数（家），按机构类型", months, counts, demo=demo), wide=True))
    affordable = data.indicator("affordable_place_share")
    if affordable is not None:
        specs.append(ChartSpec("trend_affordable_place_share", lambda: charts.trend_chart(
            name_with_unit(affordable), months, series(affordable.indicator_id),
            kind=affordable.kind, decimals=affordable.decimals, unit=affordable.unit,
            target=affordable.target, comparison=affordable.comparison,
            deadline=affordable.deadline, demo=demo)))
    workforce = [data.indicator(i) for i in ("caregiver_certified_rate", "staff_trained_rate",
                                             "criminal_check_rate", "ratio_compliance_rate")]
    workforce = [w for w in workforce if w is not None]
    if workforce:
        specs.append(ChartSpec("workforce_rates", lambda: charts.multi_line_chart(
            "从业人员相关指标（%）", months, {w.name: series(w.indicator_id) for w in workforce},
            kind="percent", decimals=1, target=100.0, target_label="目标100%", demo=demo), wide=True))
    return specs


def published_values(data: ReportData) -> list[tuple[str, str, str, float | None, str]]:
    """Every figure the report prints: county series for all months, 镇街 for the month."""
    rows = []
    for ind in data.catalog:
        rows += [published_row(ind, m, data.county_code, data.point(ind.indicator_id, m).value) for m in data.months]
        if ind.area_level:
            for a in data.areas:
                p = data.by_area.get(ind.indicator_id, {}).get(a["area_code"])
                rows.append(published_row(ind, data.period, a["area_code"], p.value if p else None))
    return rows


# The mark of a report made from the sample with the published demo key: never taken for the county's.
DEMO_MARK = "【演示数据，非正式统计】"


def build_document(data: ReportData, compiler: str, generated_on: date | None, demo: bool = False) -> Document:
    published = published_values(data)
    scorecard = scorecard_table(data)
    others = other_indicators_table(data)
    verdicts = verdict_tables(data, 3)
    n = 3 + len(verdicts)
    areas = area_tables(data, n)
    n += len(areas)
    mix = mix_table(data, n)
    files = files_table(data, n + 1)
    rejected = rejected_table(data, n + 2)
    revisions, revised = revisions_table(data, published, n + 3)
    flags = quality_flags_table(data, n + 4)
    summary = write_summary(data, revised)
    mark = DEMO_MARK if demo else ""
    title = f"{mark}{data.county_name}3岁以下婴幼儿照护服务发展目标监测月报（{month_label(data.period)}）"
    places = data.indicator("places_per_1000")
    meta = {
        "title": title,
        "county": data.county_name,
        "short_title": f"{mark}{data.county_name}托育服务发展目标监测月报",
        "demo_mark": mark,  # the card's heading
        "period": data.period,
        "period_label": month_label(data.period),
        "as_of": date_label(data.period_end),
        "compiler": compiler,
        "generated_on": date_label(generated_on) if generated_on else None,
        "area_target": (fmt_target(places.target, places.comparison, places.unit)
                        if places is not None and places.target is not None else None),
    }
    card_rows = []
    for ind in (i for i in data.catalog if i.targeted):
        now = data.point(ind.indicator_id, data.period)
        card_rows.append({"name": ind.name, "status": status_cell(now.status),
                          "value": DASH if now.value is None else value_with_unit(ind, now.value)})
    return Document(
        meta=meta, summary=summary, card_rows=card_rows,
        tables={"scorecard": scorecard, "others": others, "verdicts": verdicts,
                "areas": areas, "mix": mix, "files": files, "rejected": rejected,
                "revisions": revisions, "flags": flags, "flags_sheet": quality_flags_sheet(data),
                "series": series_table(data),
                "definitions": definitions_table(data),
                "measures": measures_table(data)},
        charts=chart_specs(data, demo), published=published, revisions=revised,
    )
