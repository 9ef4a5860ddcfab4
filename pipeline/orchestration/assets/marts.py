"""Stage 3 — indicators: the SQL models of sql/marts, one Dagster asset per table (but the
quality review's, a step of their own after these: assets/quality.py)."""


import dagster as dg

from pipeline.orchestration.assets.ingest import reference_tables
from pipeline.orchestration.assets.validate import validated_extracts
from pipeline.orchestration.resources import Tuoyu
from pipeline.marts.build import is_quality_model
from pipeline.warehouse.sql_models import load_models


def mart_specs(*, quality: bool, group: str) -> list[dg.AssetSpec]:
    """One asset spec per model of sql/marts: the quality review's (`quality`) or the others."""
    specs = []
    for model in load_models("marts"):
        if is_quality_model(model) != quality:
            continue
        deps = [dg.AssetKey(d.split(".")) for d in model.depends_on if d.startswith("marts.")]
        specs.append(dg.AssetSpec(
            key=dg.AssetKey([model.schema, model.name]),
            group_name=group,
            deps=deps + [validated_extracts.key, reference_tables.key],
            description=f"sql/marts/{model.name}.sql — {model.grain}",
            skippable=False,
        ))
    return specs


@dg.multi_asset(specs=mart_specs(quality=False, group="indicators"), name="marts", description=(
    "Builds the tables of sql/marts in order, but the quality review's (the quality step's)."))
def marts(context: dg.AssetExecutionContext, tuoyu: dg.ResourceParam[Tuoyu]):
    from pipeline.marts.build import build_marts

    with tuoyu.connection() as con:  # per-month tables: only the months that changed
        counts = build_marts(con, incremental=True, quality=False)
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
