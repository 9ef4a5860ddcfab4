"""Stage 5 — reports: the monthly Chinese report, and the published copy for analysts."""

import base64

import dagster as dg

from pipeline.orchestration.assets.marts import marts
from pipeline.orchestration.assets.quality import quality
from pipeline.orchestration.resources import Tuoyu


@dg.asset(group_name="reports", key=["reports", "monthly_report"], deps=[*marts.keys, *quality.keys], description=(
    "The month's report in TUOYU_REPORTS/YYYY-MM/: the PDF, one PNG per chart, a phone summary card "
    "and an XLSX of the tables. The month is the run's `tuoyu/period` tag (the schedule sets it), "
    "else the latest month with an institutions extract. Records what it published in "
    "marts.published_values so that the next report can list revisions."))
def monthly_report(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
    from pipeline.report import freshness
    from pipeline.report.data import latest_period

    settings = tuoyu.settings()
    with tuoyu.connection() as con:
        has_data = con.execute(
            "select count(*) from audit.current_files where kind = 'institutions'").fetchone()[0]
        if not has_data:
            context.log.warning("no institutions extract loaded yet: no report")
            return dg.MaterializeResult(metadata={"period": "none"})
        period = context.run.tags.get("tuoyu/period") or latest_period(con)
        known = con.execute("select count(*) from audit.current_files where kind = 'institutions' and period = ?",
                            [period]).fetchone()[0]
        if not known:  # the scheduled month has not arrived yet: report the latest there is
            context.log.warning(f"no institutions extract for {period}; reporting the latest month instead")
            period = latest_period(con)
        fingerprint = freshness.report_fingerprint(con, period, settings.compiler, settings.demo_key_in_use)
        pdf = freshness.unchanged_report(con, fingerprint, settings.reports)
        if pdf is not None:  # nothing it shows has changed, and its files are all there
            context.log.info(f"report {period} unchanged: not rendered again")
            return dg.MaterializeResult(data_version=dg.DataVersion(fingerprint), metadata={
                "period": period, "pdf": dg.MetadataValue.path(str(pdf)),
                "skipped": "unchanged since the last report: nothing rewritten"})
        from pipeline.report.render import render_report  # Typst and matplotlib: only when rendering

        result = render_report(con, period, settings.reports, compiler=settings.compiler,
                               demo=settings.demo_key_in_use)
        freshness.remember_report(con, fingerprint, settings.reports,
                                  [result.pdf, result.card, result.xlsx, *result.charts])
    card = base64.b64encode(result.card.read_bytes()).decode("ascii")
    return dg.MaterializeResult(metadata={
        "period": result.period,
        "pdf": dg.MetadataValue.path(str(result.pdf)),
        "charts": len(result.charts),
        "revised_values": result.revised_values,
        "seconds": round(result.seconds, 2),
        "preview": dg.MetadataValue.md(f"![card](data:image/png;base64,{card})"),
    }, data_version=dg.DataVersion(fingerprint))


@dg.asset(group_name="reports", key=["published", "copy"], deps=[monthly_report], description=(
    "The marts, audit and reference tables as Parquet with a small DuckDB database of views "
    "(published/tuoyu.duckdb beside the warehouse), swapped in atomically after every successful "
    "run: analysts' open connections never block the pipeline. `tuoyu sql` reads it."))
def published_copy(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
    from pipeline.analysts.publish import published_database, published_folder, publish
    from pipeline.report import freshness

    settings = tuoyu.settings()
    with tuoyu.connection() as con:
        fingerprint = freshness.copy_fingerprint(con)
        if freshness.unchanged_copy(con, fingerprint, published_folder(settings.warehouse)):
            context.log.info("published copy unchanged: not published again")
            return dg.MaterializeResult(data_version=dg.DataVersion(fingerprint), metadata={
                "database": dg.MetadataValue.path(str(published_database(settings.warehouse))),
                "skipped": "unchanged since the last publication: nothing rewritten"})
        database = publish(con, settings.warehouse)
        freshness.remember_copy(con, fingerprint)
        tables = con.execute(
            "select count(*) from information_schema.tables where table_schema in ('marts', 'audit', 'reference')"
        ).fetchone()[0]
    return dg.MaterializeResult(metadata={
        "database": dg.MetadataValue.path(str(database)),
        "version": sorted(p.name for p in database.parent.glob("v*"))[-1],
        "relations": int(tables),
    }, data_version=dg.DataVersion(fingerprint))


# One partition per month with an institutions extract, added by the ingest step, so that
# the office can (re)render any month's report from the Dagster UI.
report_months = dg.DynamicPartitionsDefinition(name="report_month")


@dg.asset(group_name="reports", key=["reports", "by_month"], partitions_def=report_months,
          deps=[*marts.keys, *quality.keys], description=(
              "The report of one month (the partition), the same files as monthly_report: for "
              "regenerating a past month's report from the UI. `tuoyu report --period` does the same."))
def report_by_month(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
    from pipeline.report.render import render_report

    settings = tuoyu.settings()
    with tuoyu.connection() as con:
        result = render_report(con, context.partition_key, settings.reports, compiler=settings.compiler,
                               demo=settings.demo_key_in_use)
    return dg.MaterializeResult(metadata={"period": result.period, "pdf": dg.MetadataValue.path(str(result.pdf)),
                                          "revised_values": result.revised_values})
