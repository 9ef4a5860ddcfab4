"""Stage 1 — ingest: reference data and the inbox's extracts into the warehouse."""


import dagster as dg

from pipeline.ingest.load import InboxMissing, ingest_inbox
from pipeline.warehouse.key_guard import KeyMismatch, check_key
from pipeline.reference import load_reference, write_reference_tables
from pipeline.orchestration.resources import Tuoyu


@dg.asset(group_name="ingest", key=["reference", "tables"], description=(
    "The county's areas, population, targets and policy measures, reloaded from the reference "
    "folder (TUOYU_REFERENCE) on every run. Bad reference data stops the run here."))
def reference_tables(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
    settings = tuoyu.settings()
    ref = load_reference(settings.reference)
    with tuoyu.connection() as con:
        write_reference_tables(con, ref)
    return dg.MaterializeResult(metadata={
        "county": f"{ref.county_name} ({ref.county_code})",
        "areas": len(ref.areas) - 1,
        "targets": len(ref.targets),
        "folder": str(settings.reference),
    })


@dg.asset(group_name="ingest", key=["staging", "extracts"], deps=[reference_tables], description=(
    "Every new or changed extract in the inbox, parsed into staging.institutions / enrollment / "
    "staffing (one row per data row; names dropped, id numbers pseudonymised), each file version "
    "recorded in audit.load_log and copied into the raw archive."))
def staged_extracts(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
    settings = tuoyu.settings()
    wording = load_reference(settings.reference).wording  # the county's mapping.toml and 镇街 names
    with tuoyu.connection() as con:
        try:  # one key per warehouse: recorded by its first run, compared by every later one
            check_key(con, settings.key(), settings.warehouse, record=True)
        except KeyMismatch as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        try:
            result = ingest_inbox(con, settings.inbox, settings.archive, settings.key(),
                                  progress=context.log.debug, first_month=settings.first_month, wording=wording)
        except InboxMissing as exc:  # not transient: no retries, the message says what to do
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        rows = dict(con.execute(
            "select kind, count(*) from audit.load_log where status = 'loaded' group by kind").fetchall())
        months = [p for (p,) in con.execute(
            "select distinct period from audit.load_log where status = 'loaded' and kind = 'institutions' order by 1"
        ).fetchall()]
    # the months a report can be rendered for (partitions of reports/by_month)
    known = set(context.instance.get_dynamic_partitions("report_month"))
    new_months = [m for m in months if m not in known]
    if new_months:
        context.instance.add_dynamic_partitions("report_month", new_months)
    for path, reason in result.rejected:
        context.log.warning(f"file rejected: {path}")
    return dg.MaterializeResult(metadata={
        **{f"files_{k}": v for k, v in result.summary().items()},
        **{f"current_files_{k}": int(v) for k, v in rows.items()},
        "months_to_validate": sum(len(v) for v in result.scope.values()),
    })
