"""The one Dagster `Definitions`: what `dagster dev` loads and what `tuoyu run` executes.

It only assembles; every asset, check, job, schedule and sensor lives in pipeline/assets
and pipeline/ops.
"""

from __future__ import annotations

import dagster as dg

from pipeline.assets.indicators import marts
from pipeline.assets.ingest import reference_tables, staged_extracts
from pipeline.assets.validate import validated_extracts, validation_checks
from pipeline.resources import TuoyuResource

# The whole pipeline, ingest to reports: run by `tuoyu run`, the monthly schedule and the
# inbox sensor alike, so every route to a figure is the same code.
pipeline_job = dg.define_asset_job(
    "tuoyu_pipeline",
    selection=dg.AssetSelection.all(),
    description="Ingest new extracts, validate, compute indicators, render the report.",
)

defs = dg.Definitions(
    assets=[reference_tables, staged_extracts, validated_extracts, marts],
    asset_checks=[*validation_checks],
    jobs=[pipeline_job],
    resources={"tuoyu": TuoyuResource()},
)
