"""Render one month's report: PDF, one PNG per chart, a phone summary card, an XLSX workbook.

    render_report(con, "2024-06", Path("reports")) → reports/2024-06/
        report_2024-06.pdf       A4, Chinese, fonts embedded, text selectable
        card_2024-06.png         1080 × 1920 summary card for phones
        tables_2024-06.xlsx      every table of the report
        charts/<chart>.png       one PNG per chart, 1080 px wide

Every file is first written under a temporary name in the same folder and then renamed,
so a reader never sees half a file. The same warehouse gives the same bytes: the PDF's
creation date and the workbook's are the report date (`generated_on`, else the month
end), and neither the charts nor Typst add anything time- or machine-dependent.

After the files are in place, the figures the report printed are recorded in
`marts.published_values`, so that the next month's report lists what was revised.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import typst

from pipeline.report.data import latest_period, load_report_data, record_published
from pipeline.report.document import Document, build_document
from pipeline.period import month_end
from pipeline.report.formatting import STATUS_ORDER, STATUS_ZH
from pipeline.report.style import PNG_WIDTH_PX, STATUS_COLOURS, figure_svg, font_dir
from pipeline.report.tables import Table
from pipeline.report.workbook import build_workbook
from pipeline.settings import REPORT_TEMPLATE as TEMPLATE

log = logging.getLogger(__name__)

CARD_PPI = 216  # 360 × 640 pt page → 1080 × 1920 px
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ReportResult:
    period: str
    directory: Path
    pdf: Path
    charts: list[Path]
    card: Path
    xlsx: Path
    revised_values: int
    seconds: float


def write_atomic(path: Path, content: bytes) -> None:
    """Write `content` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _table_json(t: Table) -> dict:
    return {"title": t.title, "header": t.header, "rows": t.shown_rows(), "notes": t.notes,
            "widths": t.widths, "align": t.align,
            "groups": [list(g) for g in t.groups] if t.groups else None}


def _typst_data(doc: Document, mode: str, chart_paths: dict[str, str]) -> dict:
    tables = {k: ([_table_json(t) for t in v] if isinstance(v, list) else _table_json(v))
              for k, v in doc.tables.items()}
    scorecard_status = [row[5]["status"] for row in doc.tables["scorecard"].rows]
    counts = [{"status": s, "label": STATUS_ZH[s], "count": scorecard_status.count(s)}
              for s in STATUS_ORDER if scorecard_status.count(s)]
    trends = [p for k, p in chart_paths.items()
              if k.startswith("trend_") and k != "trend_affordable_place_share"]
    return {
        "mode": mode,
        "meta": doc.meta,
        "summary": doc.summary.sentences,
        "status_counts": counts,
        "status_colours": {k: list(v) for k, v in STATUS_COLOURS.items()},
        "tables": tables,
        "charts": {"trends": trends, "area": chart_paths.get("area_places_per_1000"),
                   "mix": chart_paths.get("institution_mix"),
                   "affordable": chart_paths.get("trend_affordable_place_share"),
                   "workforce": chart_paths.get("workforce_rates")},
        "card_rows": doc.card_rows,
        "card_notes": doc.summary.sentences[3:],
    }


def render_report(con: duckdb.DuckDBPyConnection, period: str | None, out_dir: Path, *,
                  compiler: str = "统计局", generated_on: date | None = None, demo: bool = False) -> ReportResult:
    """`demo`: made with the published demo key; every page, the card and the workbook say so."""
    started = time.perf_counter()
    period = period or latest_period(con)
    if not _PERIOD.match(period):
        raise ValueError(f"报告月份应写作 YYYY-MM（如 2024-06），收到 {period!r}。")
    data = load_report_data(con, period)
    doc = build_document(data, compiler, generated_on, demo)

    report_day = generated_on or month_end(period)
    stamp = datetime(report_day.year, report_day.month, report_day.day, tzinfo=timezone.utc)

    pdf, card, pngs = compile_typst(TEMPLATE, doc.charts, lambda mode, charts: _typst_data(doc, mode, charts),
                                    stamp)
    workbook = build_workbook(doc, stamp.replace(tzinfo=None))
    target, pdf_path, card_path, xlsx_path, chart_files = write_report_files(
        Path(out_dir) / period, period, pdf=pdf, card=card, workbook=workbook, pngs=pngs)
    record_published(con, period, doc.published)
    seconds = time.perf_counter() - started
    log.info("report %s written to %s in %.2f s (%d charts, %d revised values)",
             period, target, seconds, len(chart_files), doc.revisions)
    return ReportResult(period, target, pdf_path, chart_files, card_path, xlsx_path,
                        doc.revisions, seconds)


def compile_typst(template: Path, specs: list, data_for, stamp: datetime
                  ) -> tuple[bytes, bytes, dict[str, bytes]]:
    """Draw the charts (`specs`: ChartSpec) and compile `template` twice in a build folder
    beside `data.json` (`data_for(mode, chart_paths)`) and the charts' SVGs: `report` gives
    the PDF, `card` the one-page phone card (PNG). Returns (pdf, card, {chart key: PNG})."""
    with tempfile.TemporaryDirectory(prefix="tuoyu-report-") as tmp:
        build = Path(tmp)
        (build / "charts").mkdir()
        shutil.copyfile(template, build / "template.typ")
        chart_paths = {}
        for spec in specs:
            (build / "charts" / f"{spec.key}.svg").write_bytes(figure_svg(spec.build()))
            chart_paths[spec.key] = f"charts/{spec.key}.svg"
        compiler_ = typst.Compiler(root=str(build), font_paths=[str(font_dir())],
                                   ignore_system_fonts=True)
        pngs = chart_pngs(compiler_, build, chart_paths)
        outputs = {}
        for mode, fmt in (("report", "pdf"), ("card", "png")):
            (build / "data.json").write_text(json.dumps(data_for(mode, chart_paths), ensure_ascii=False),
                                             encoding="utf-8")
            outputs[mode] = compiler_.compile(
                input=str(build / "template.typ"), format=fmt, timestamp=stamp,
                pdf_tags=False, ppi=CARD_PPI if fmt == "png" else None)
    card = outputs["card"]
    if isinstance(card, list):  # a card that spilled onto a second page is a bug
        raise RuntimeError(f"summary card has {len(card)} pages, expected 1")
    return outputs["report"], card, pngs


def chart_pngs(compiler: typst.Compiler, build: Path, chart_paths: dict[str, str]) -> dict[str, bytes]:
    """Each chart's SVG rasterised PNG_WIDTH_PX wide: one Typst document of one page per
    chart, compiled once. (Drawing each figure a second time with matplotlib's Agg took
    longer than all the rest of the report.)"""
    if not chart_paths:
        return {}
    pages = "\n#pagebreak()\n".join(f'#image("{path}", width: 100%)' for path in chart_paths.values())
    (build / "charts.typ").write_text(
        f"#set page(width: {PNG_WIDTH_PX}pt, height: auto, margin: 0pt)\n{pages}\n", encoding="utf-8")
    images = compiler.compile(input=str(build / "charts.typ"), format="png", ppi=72)  # 1 pt → 1 px
    images = images if isinstance(images, list) else [images]
    return dict(zip(chart_paths, images, strict=True))


def write_report_files(target: Path, period: str, *, pdf: bytes, card: bytes, workbook: bytes,
                       pngs: dict[str, bytes]) -> tuple[Path, Path, Path, Path, list[Path]]:
    """Put a report's files in `target` (each written atomically); returns (target, pdf,
    card, xlsx, chart PNGs). Charts of an earlier run that this one no longer draws go."""
    # A run killed mid-write leaves hidden temporary files: never a report, remove them.
    for folder in (target, target / "charts"):
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
    chart_files = []
    for key, png in pngs.items():
        path = target / "charts" / f"{key}.png"
        write_atomic(path, png)
        chart_files.append(path)
    # A chart of an earlier run that this run no longer draws (a target dropped) would
    # otherwise linger beside the new ones.
    for old in (target / "charts").glob("*.png"):
        if old not in chart_files:
            old.unlink()
    card_path = target / f"card_{period}.png"
    xlsx_path = target / f"tables_{period}.xlsx"
    pdf_path = target / f"report_{period}.pdf"
    write_atomic(card_path, card)
    write_atomic(xlsx_path, workbook)
    write_atomic(pdf_path, pdf)
    return target, pdf_path, card_path, xlsx_path, chart_files
