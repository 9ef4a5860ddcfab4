"""Stage 4 — quality: the quality review's models of sql/marts (`-- owner: quality review`:
the flags and the reporting rates, docs/quality.md), built after the indicator marts, and
one non-blocking check per check id."""


import dagster as dg

from pipeline.orchestration.assets.marts import _json_safe, mart_specs
from pipeline.orchestration.resources import Tuoyu


# Read from sql/marts once, when the Definitions are loaded.
QUALITY_SPECS = mart_specs(quality=True, group="quality")


@dg.multi_asset(specs=QUALITY_SPECS, name="quality", description=(
    "Builds the quality review's tables of sql/marts after the indicator marts: only the months "
    "whose flags can have changed, nothing when nothing did (pipeline/marts/quality_build.py)."))
def quality(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]):
    from pipeline.marts.quality_build import build_quality

    with tuoyu.connection() as con:
        built = build_quality(con, incremental=True)
    todo = built.plan
    # bench/measure.py reads this line: a new month should rebuild its own flags only
    context.log.info(f"quality review: flags of {built.flag_months} of {todo.months} month(s) rebuilt"
                     + (": nothing changed" if todo.nothing else ""))
    for spec in QUALITY_SPECS:
        table = ".".join(spec.key.path)
        rows = built.counts.get(table)
        metadata = {"rows": rows} if rows is not None else {"skipped": "unchanged since the last build"}
        if table == "marts.quality_flags" and rows is not None:
            metadata["months_rebuilt"] = "all" if todo.full else len(todo.periods)
        yield dg.MaterializeResult(asset_key=spec.key, metadata=metadata)


# One check per data-quality check id (docs/quality.md), on marts.quality_flags: never
# blocking (a flag says what to verify, it changes no figure), WARN while a flag is open.
_QUALITY_CHECK_NAMES = {"OUT-SERIES": "quality_out_series", "CON-OVERCAPACITY": "quality_over_capacity",
                        "CON-NO-CAREGIVER": "quality_no_caregiver", "CON-VANISHED": "quality_vanished",
                        "AREA-JUMP": "quality_area_jump"}


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset=dg.AssetKey(["marts", "quality_flags"]), blocking=False,
                             description=f"{check_id}: no open flag (docs/quality.md); count and a preview of the open ones.")
           for check_id, name in _QUALITY_CHECK_NAMES.items()],
    name="quality_flag_checks",
    description="One non-blocking check per data-quality check id: open flags of marts.quality_flags.",
)
def quality_flag_checks(tuoyu: dg.ResourceParam[Tuoyu]):
    from pipeline.marts.quality import open_flags_of_check

    with tuoyu.connection() as con:
        results = {check_id: open_flags_of_check(con, check_id) for check_id in _QUALITY_CHECK_NAMES}
    for check_id, (passed, metadata, description) in results.items():
        yield dg.AssetCheckResult(asset_key=dg.AssetKey(["marts", "quality_flags"]),
                                  check_name=_QUALITY_CHECK_NAMES[check_id], passed=passed,
                                  severity=dg.AssetCheckSeverity.WARN, description=description,
                                  metadata=_json_safe(metadata))
