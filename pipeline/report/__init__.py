"""The monthly report: PDF, chart PNGs, a phone summary card and an XLSX workbook.

Entry point: `render_report` (see render.py). docs/report.md describes what a reader sees.
Importing the package does not import Typst or matplotlib (render.py does): a run that
does not render a report never loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.report.render import ReportResult, render_report

__all__ = ["ReportResult", "render_report"]


def __getattr__(name: str):
    if name in __all__:
        from pipeline.report import render

        return getattr(render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
