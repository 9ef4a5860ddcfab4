"""The monthly report: PDF, chart PNGs, a phone summary card and an XLSX workbook.

Entry point: `render_report` (see render.py). docs/report.md describes what a reader sees.
"""

from pipeline.report.render import ReportResult, render_report

__all__ = ["ReportResult", "render_report"]
