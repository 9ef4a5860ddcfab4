"""Blank XLSX templates of the three extracts for the units that send them (`tuoyu template`).

    write_templates(out_dir, reference_folder, month=None, protected=()) -> list[Path]

The templates are made from the rule source of validation (`columns.py` says how), so a
template filled through its drop-down lists and validations loads with no rejected row.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.analysts.destination import check_destination
from pipeline.analysts.export import write_file
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.period import is_period
from pipeline.reference import load_reference
from pipeline.templates.columns import template_columns
from pipeline.templates.workbook import build_template
from pipeline.validate.suites import VALIDATION_ORDER, load_suites

__all__ = ["template_filename", "write_templates"]

MONTH_PLACEHOLDER = "YYYY-MM"


def template_filename(kind: str, month: str | None) -> str:
    """The contract's file name (`托育机构_2024-06.xlsx`), with `YYYY-MM` for no month."""
    return f"{KIND_LABEL_ZH[kind]}_{month or MONTH_PLACEHOLDER}.xlsx"


def write_templates(out_dir: Path, reference_folder: Path, month: str | None = None,
                    protected: list[Path] | tuple[Path, ...] = ()) -> list[Path]:
    """Write the three templates into `out_dir` (which must exist). No file is overwritten and
    nothing is written into a protected folder (`ExportRefused`, before anything is written)."""
    if month is not None and not is_period(month):
        raise ValueError(f"月份请写作 YYYY-MM（如 2024-06），而不是 {month!r}。A month is written YYYY-MM.")
    reference = load_reference(reference_folder)
    suites = load_suites()
    targets = {kind: check_destination(Path(out_dir) / template_filename(kind, month), protected)
               for kind in VALIDATION_ORDER}
    written = []
    for kind, target in targets.items():
        columns = template_columns(kind, suites[kind], reference, month)
        data = build_template(kind, columns, suites[kind], reference.county_name, month)
        write_file(target, lambda f, data=data: f.write(data), text=False)
        written.append(target)
    return written
