"""A prefecture over its counties (docs/rollup.md §6): the rollup's assets, thin over
pipeline/rollup, made for one prefecture reference folder (its counties are the partitions).

    county_partitions(reference)    one partition per county of the prefecture's areas.csv
    rollup_assets(partitions)       county_bundle (partitioned), unknown_bundles, prefecture marts,
                                    the prefecture's report

Receiving a county (`county_bundle`, one partition) writes only under that county's folder of
the bundle store and takes no run lock: counties run in parallel. `unknown_bundles` records
the bundles of no county of the prefecture (its own folder, `_unknown`). The build
(`rollup/prefecture_marts`) is the one writer of the warehouse: it holds the run lock through
the `tuoyu` resource, like every step of the county's pipeline. `tuoyu run` calls the same
plain functions (pipeline/rollup/run.py).
"""

import dagster as dg

from pipeline.orchestration.resources import Tuoyu
from pipeline.settings import Settings

GROUP = "rollup"
COUNTY_BUNDLE = dg.AssetKey(["rollup", "county_bundle"])
UNKNOWN_BUNDLES = dg.AssetKey(["rollup", "unknown_bundles"])
PREFECTURE_MARTS = dg.AssetKey(["rollup", "prefecture_marts"])
PREFECTURE_REPORT = dg.AssetKey(["rollup", "prefecture_report"])
# The build writes the DuckDB file: one at a time, whatever the number of runs the instance
# lets run at once (the prefecture's dagster.yaml, pipeline/orchestration/instance.py).
WAREHOUSE_POOL = "tuoyu_warehouse"


def county_partitions(county_codes: tuple[str, ...] | list[str]) -> dg.StaticPartitionsDefinition:
    """One partition per county code (the prefecture's areas.csv, read when the Definitions are built)."""
    return dg.StaticPartitionsDefinition(list(county_codes))


def _reference(settings: Settings):
    from pipeline.reference import load_prefecture_reference

    return load_prefecture_reference(settings.reference)


def rollup_assets(partitions: dg.StaticPartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The four assets of the rollup over `partitions`."""

    @dg.asset(key=COUNTY_BUNDLE, group_name=GROUP, partitions_def=partitions, description=(
        "一个县的汇总包：从收件箱接收、逐包检查、启用最新的一个。 One county's bundle (the partition), received from the inbox (TUOYU_INBOX): each new bundle "
        "checked whole, the one made latest installed as the county's current one, a receipt per "
        "bundle in <warehouse folder>/bundles/<county>/receipts.jsonl (docs/rollup.md §3). Writes "
        "only that county's folder: counties run in parallel."))
    def county_bundle(context: dg.AssetExecutionContext,
                      tuoyu_folders: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        from pipeline.rollup.receive import receive_county
        from pipeline.rollup.run import bundle_store

        settings = tuoyu_folders
        code = context.partition_key
        result = receive_county(_reference(settings), settings.inbox, bundle_store(settings), code)
        for receipt in result.receipts:
            if receipt["status"] == "rejected":
                context.log.warning(f"bundle rejected: {receipt['bundle']}: {receipt['message_zh']}")
        current = result.current or {}
        return dg.MaterializeResult(metadata={
            "county": code,
            "new_bundles": len(result.receipts),
            "statuses": dg.MetadataValue.json({r["bundle"]: r["status"] for r in result.receipts}),
            "current_made_at": current.get("made_at") or "—",
            "current_sha256": current.get("sha256") or "—",
            "changed": result.changed,
        })

    @dg.asset(key=UNKNOWN_BUNDLES, group_name=GROUP, description=(
        "不属于本市任何县的汇总包：拒收并记录。 The inbox's bundles of no county of the prefecture (or with no readable manifest): rejected, "
        "each with a receipt in <warehouse folder>/bundles/_unknown/receipts.jsonl, so that the build "
        "lists them in rollup.bundle_receipts."))
    def unknown_bundles(context: dg.AssetExecutionContext,
                        tuoyu_folders: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        from pipeline.rollup.receive import receive_unknown, scan_inbox
        from pipeline.rollup.run import bundle_store

        settings = tuoyu_folders
        reference, store = _reference(settings), bundle_store(settings)
        receipts = receive_unknown(reference, settings.inbox, store,
                                   candidates=scan_inbox(reference, settings.inbox, store).unknown)
        for receipt in receipts:
            context.log.warning(f"bundle rejected: {receipt['bundle']}: {receipt['message_zh']}")
        return dg.MaterializeResult(metadata={"rejected": len(receipts)})

    @dg.asset(key=PREFECTURE_MARTS, group_name=GROUP, deps=[county_bundle, unknown_bundles], pool=WAREHOUSE_POOL,
              description=(
                  "全市和各县的指标：由各县启用的汇总包汇总计算。 The prefecture's figures over every county's current bundle (all partitions of "
                  "county_bundle): the reference, rollup.* and marts.* tables of the prefecture's "
                  "warehouse, marts.indicator_values among them (pipeline/rollup/build.py). The one "
                  "writer of the warehouse; holds the run lock."))
    def prefecture_marts(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
        from pipeline.rollup.run import bundle_store, publish_lines, record_build

        settings = tuoyu.settings()
        reference = _reference(settings)
        with tuoyu.connection() as con:
            counts = record_build(con, reference, bundle_store(settings))
            publish_lines(con, settings, rebuilt=True)  # the copy `tuoyu sql` reads
        present = counts.get("rollup.county_periods", 0)
        return dg.MaterializeResult(metadata={
            "prefecture": f"{reference.prefecture_name} ({reference.prefecture_code})",
            "counties": len(reference.county_codes),
            "indicator_values": counts.get("marts.indicator_values", 0),
            "county_periods": present,
            "rows": dg.MetadataValue.json({k: v for k, v in counts.items() if v is not None}),
        })

    @dg.asset(key=PREFECTURE_REPORT, group_name=GROUP, deps=[prefecture_marts], pool=WAREHOUSE_POOL,
              description=(
                  "地市汇总报告：最近一个有全市数值的月份的 PDF、手机摘要、图表和 XLSX。 The prefecture's "
                  "report of the latest month with a prefecture value (pipeline/report/prefecture.py), "
                  "as `tuoyu run` renders it (pipeline/rollup/run.py report_lines)."))
    def prefecture_report(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]) -> dg.MaterializeResult:
        from pipeline.rollup.run import report_lines

        settings = tuoyu.settings()
        with tuoyu.connection() as con:
            lines = report_lines(con, settings, rebuilt=True)
        for line in lines:
            context.log.info(line)
        return dg.MaterializeResult(metadata={"report": "\n".join(lines)})

    return [county_bundle, unknown_bundles, prefecture_marts, prefecture_report]
