"""A county's reference data: areas, population, targets, policy measures and the
parameters of the data-quality checks.

    load_reference(folder) -> Reference       read and validate a reference folder
    write_reference_tables(con, reference)    copy it into the warehouse's `reference` schema

`files` reads the folder's CSV and TOML with line-numbered errors, `areas` the areas and
population, `policy` the measures and targets, `quality` the checks' parameters. No Dagster here, and nothing is read at import.
"""

from pipeline.reference.files import ReferenceDataError
from pipeline.reference.load import Reference, default_reference_folder, load_reference
from pipeline.reference.policy import Measure, Target, default_applies_to
from pipeline.reference.quality import QualityParameters
from pipeline.reference.tables import write_reference_tables

__all__ = ["Measure", "QualityParameters", "Reference", "ReferenceDataError", "Target", "default_applies_to",
           "default_reference_folder", "load_reference", "write_reference_tables"]
