"""A county's reference data: areas, population, targets, policy measures and the
parameters of the data-quality checks.

    load_reference(folder) -> Reference       read and validate a reference folder
    write_reference_tables(con, reference)    copy it into the warehouse's `reference` schema
    reference_kind(folder) -> str             "county" or "prefecture" (docs/rollup.md §2)
    load_prefecture_reference(folder)         a prefecture's folder -> PrefectureReference

`files` reads the folder's CSV and TOML with line-numbered errors, `areas` the areas and
population, `policy` the measures and targets, `quality` the checks' parameters. No Dagster here, and nothing is read at import.
"""

from pipeline.reference.files import ReferenceDataError
from pipeline.reference.load import (
    PrefectureReference,
    Reference,
    default_reference_folder,
    load_prefecture_reference,
    load_reference,
    reference_kind,
)
from pipeline.reference.policy import Measure, Target, default_applies_to
from pipeline.reference.quality import QualityParameters
from pipeline.reference.tables import write_prefecture_reference_tables, write_reference_tables

__all__ = ["Measure", "PrefectureReference", "QualityParameters", "Reference", "ReferenceDataError", "Target",
           "default_applies_to", "default_reference_folder", "load_prefecture_reference", "load_reference",
           "reference_kind", "write_prefecture_reference_tables", "write_reference_tables"]
