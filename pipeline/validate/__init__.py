"""Validation of the staged extracts against extract-format.md §2 (rules in `expectations/*.json`).

    validate(con_or_path, scope=None) -> ValidationReport
    rows_to_fix(con, institution_id, period=None) -> polars.DataFrame

Importing this package does not import great_expectations (seconds of import time): GX is
imported when validation runs.
"""

from pipeline.validate.fix import rows_to_fix
from pipeline.validate.report import FileResult, ValidationReport
from pipeline.validate.run import validate

__all__ = ["FileResult", "ValidationReport", "rows_to_fix", "validate"]
