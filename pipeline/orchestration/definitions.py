"""The one Dagster `Definitions`: what `dagster dev` loads and what `tuoyu run` executes.

It only assembles; every asset and check lives in pipeline/orchestration/assets, the schedule
and sensor in automation.py, the resource in resources.py. `build_definitions` makes it of one
Settings and one `tuoyu` resource: `tuoyu run` of its own Settings and lock (commands/run.py),
Dagster of the environment (`defs`, loaded when Dagster asks for it, never at import).
"""

from __future__ import annotations

import dagster as dg

from pipeline.orchestration.assets.marts import marts, marts_checks
from pipeline.orchestration.assets.quality import quality, quality_flag_checks
from pipeline.orchestration.assets.report import monthly_report, published_copy, report_by_month, report_months
from pipeline.orchestration.assets.ingest import reference_tables, staged_extracts
from pipeline.orchestration.assets.validate import validated_extracts, validation_checks
from pipeline.orchestration.automation import build_schedule, build_sensor
from pipeline.orchestration.console_log import console
from pipeline.orchestration.resources import Tuoyu, TuoyuResource
from pipeline.settings import Settings

# The whole pipeline, ingest to reports: run by `tuoyu run`, the monthly schedule and the
# inbox sensor alike, so every route to a figure is the same code.
pipeline_job = dg.define_asset_job(
    "tuoyu_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(report_by_month),
    description="Ingest new extracts, validate, compute indicators, review data quality, render the report.",
    # Transient failures (the warehouse briefly locked by a reader, a file still being
    # copied into the inbox) are retried; a second attempt of a clean step changes nothing.
    op_retry_policy=dg.RetryPolicy(max_retries=2, delay=15),
    # The executor of `tuoyu run` (execute_in_process): the steps run one after another in the
    # run's process. Dagster's default, one process per step, costs a Python and Dagster start
    # per step (the sensor's runs took 40 s where `tuoyu run` took 8 s), and the steps cannot
    # overlap anyway: each one writes the one DuckDB file.
    executor_def=dg.in_process_executor,
)

# Re-render one month's report (a partition of report_by_month) from the UI.
report_month_job = dg.define_asset_job(
    "report_for_month", selection=dg.AssetSelection.assets(report_by_month), partitions_def=report_months,
    description="Regenerate the report of one month.",
    executor_def=dg.in_process_executor,
)



def build_definitions(settings: Settings, tuoyu: Tuoyu | TuoyuResource) -> dg.Definitions:
    """The Definitions: the schedule at the settings' cron, the sensor on their inbox, and
    `tuoyu` as every asset's and check's resource. A prefecture's reference folder gets the
    rollup's assets, jobs and sensor instead (orchestration/rollup.py)."""
    from pipeline.rollup.run import is_prefecture_folder

    if is_prefecture_folder(settings.reference):
        from pipeline.orchestration.rollup import build_rollup_definitions

        return build_rollup_definitions(settings, tuoyu)
    return dg.Definitions(
        assets=[reference_tables, staged_extracts, validated_extracts, marts, quality, monthly_report, published_copy,
                report_by_month],
        asset_checks=[*validation_checks, *marts_checks, quality_flag_checks],
        jobs=[pipeline_job, report_month_job],
        schedules=[build_schedule(pipeline_job, settings.schedule_cron)],
        sensors=[build_sensor(pipeline_job, settings.inbox, settings.warehouse)],
        resources={"tuoyu": tuoyu},
        loggers={"console": console},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What Dagster loads (`tuoyu dev`): the settings of the process environment, into which
    Dagster has loaded `.env`; the resource's fields are `EnvVar`s of the same variables,
    resolved when a run starts."""
    return build_definitions(Settings.from_env(load_dotenv=False), TuoyuResource.from_environment())
