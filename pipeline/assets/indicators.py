"""Stage 3 — indicators: the SQL models of sql/marts, one Dagster asset per table."""


import dagster as dg

from pipeline.assets.ingest import reference_tables
from pipeline.assets.validate import validated_extracts
from pipeline.resources import TuoyuResource
from pipeline.sqlmodels import load_models

# Tables of sql/marts that another stage writes (the report records what it published).
_NOT_HERE = {"marts.published_values"}


def _specs() -> list[dg.AssetSpec]:
    specs = []
    for model in load_models("marts"):
        if model.table in _NOT_HERE:
            continue
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
def marts(context: dg.AssetExecutionContext, tuoyu: TuoyuResource):
    from pipeline.indicators import build_marts

    with tuoyu.connection() as con:
        counts = build_marts(con)
    for table, rows in counts.items():
        if table in _NOT_HERE:
            continue
        yield dg.MaterializeResult(asset_key=dg.AssetKey(table.split(".")),
                                   metadata={"rows": rows if rows is not None else "view"})
