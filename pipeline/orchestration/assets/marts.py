"""Stage 3 — indicators: the SQL models of sql/marts, one Dagster asset per table."""


import dagster as dg

from pipeline.orchestration.assets.ingest import reference_tables
from pipeline.orchestration.assets.validate import validated_extracts
from pipeline.orchestration.resources import Tuoyu
from pipeline.warehouse.sql_models import load_models


def _specs() -> list[dg.AssetSpec]:
    specs = []
    for model in load_models("marts"):
        deps = [dg.AssetKey(d.split(".")) for d in model.depends_on if d.startswith("marts.")]
        specs.append(dg.AssetSpec(
            key=dg.AssetKey([model.schema, model.name]),
            group_name="indicators",
            deps=deps + [validated_extracts.key, reference_tables.key],
            description=f"sql/marts/{model.name}.sql — {model.grain}",
            skippable=False,
        ))
    return specs


@dg.multi_asset(specs=_specs(), name="marts", description="Builds every table of sql/marts in order.")
def marts(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]):
    from pipeline.marts.build import build_marts

    with tuoyu.connection() as con:
        counts = build_marts(con, incremental=True)  # per-month tables: only the months that changed
    for table, rows in counts.items():
        yield dg.MaterializeResult(asset_key=dg.AssetKey(table.split(".")),
                                   metadata={"rows": rows if rows is not None else "view"})


def _json_safe(metadata: dict) -> dict:
    out = {}
    for key, value in metadata.items():
        if isinstance(value, (list, dict)):
            out[key] = dg.MetadataValue.json(value if isinstance(value, dict) else [
                {k: (v if isinstance(v, (int, float, str, type(None))) else str(v)) for k, v in item.items()}
                if isinstance(item, dict) else str(item) for item in value])
        elif isinstance(value, (int, float, str)) or value is None:
            out[key] = value if value is not None else "—"
        else:
            out[key] = str(value)
    return out


def _marts_check(name: str, function_name: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["marts", "indicator_values"]), name=name, description=description,
                    additional_deps=[dg.AssetKey(["reference", "tables"])])
    def check(tuoyu: dg.ResourceParam[Tuoyu]) -> dg.AssetCheckResult:
        from pipeline.marts import build as indicators

        with tuoyu.connection() as con:
            passed, metadata = getattr(indicators, function_name)(con)
        return dg.AssetCheckResult(passed=passed, metadata=_json_safe(metadata))

    return check


marts_checks = [
    _marts_check("one_row_per_key", "check_one_row_per_key",
                 "Exactly one row per (indicator_id, period, area_code)."),
    _marts_check("rates_within_0_100", "check_rates_in_range",
                 "Every percentage lies in 0–100 (place utilisation only ≥ 0); no value is negative."),
    _marts_check("county_coverage_matches_towns", "check_town_coverage_consistent",
                 "The county's town coverage counts exactly the 镇街 rows that have institutions."),
]


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
