"""The indicator marts: build them, and check what they hold.

The SQL models of `sql/marts/` compute the handbook's 19 indicators
(`docs/indicators.md` explains each model and every reading of the handbook). This
module runs the models of `sql/marts/` in dependency order through `pipeline.warehouse.sql_models`
and holds the checks that the Dagster asset checks call. It does not import Dagster.

The models owned by the quality review (`-- owner: quality review`: the flags and the
reporting rates, docs/quality.md) are a step of their own, after the others
(pipeline/marts/quality_build.py); `build_marts` builds them last unless told not to.

Each check returns `(passed, metadata)`: metadata holds the observed figures beside
the threshold, and a few failing keys (indicator, month, area; never personal data).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from pipeline.marts import incremental as months
from pipeline.marts.catalog import CATALOG_PATH, read_catalog
from pipeline.warehouse import sql_models as sqlmodels


# Percentages that may exceed 100 by definition: a full nursery can take more children
# than its approved places.
RATES_ALLOWED_ABOVE_100 = ("place_utilization",)

# Floating-point slack: of the target comparison and the status bands of the marts
# (bound into the SQL as $tolerance) and of the range checks below.
TOLERANCE = 1e-9

_EXAMPLES = 5


def model_params(catalog_path: Path = CATALOG_PATH) -> dict[str, Any]:
    """The named parameters the marts models take."""
    return {"catalog_path": str(catalog_path), "tolerance": TOLERANCE}


def marts_models(names: Iterable[str] | None = None, sql_dir: Path = sqlmodels.SQL_DIR) -> list[sqlmodels.SqlModel]:
    """The models of sql/marts (all, or those named), each after the models it depends on."""
    models = sqlmodels.load_models("marts", sql_dir)
    if names is None:
        return models
    wanted = set(names)
    unknown = wanted - {m.name for m in models}
    if unknown:
        raise ValueError(f"no such model in sql/marts: {', '.join(sorted(unknown))}")
    return [m for m in models if m.name in wanted]


# The `-- owner:` header of the quality review's models (docs/quality.md).
QUALITY_OWNER = "quality review"


def is_quality_model(model: sqlmodels.SqlModel) -> bool:
    return model.owner is not None and model.owner.split("(")[0].strip() == QUALITY_OWNER


def quality_models(sql_dir: Path = sqlmodels.SQL_DIR) -> list[str]:
    """The quality review's models: built in a step of their own, after every other model."""
    return [m.name for m in marts_models(sql_dir=sql_dir) if is_quality_model(m)]


def indicator_models(sql_dir: Path = sqlmodels.SQL_DIR) -> list[str]:
    """The indicator models: the models of sql/marts that no other stage owns (a model kept
    here for another stage says so in its `-- owner:` header, as data_quality does)."""
    return [m.name for m in marts_models(sql_dir=sql_dir) if m.owner is None]


def build_model(con: duckdb.DuckDBPyConnection, name: str, catalog_path: Path = CATALOG_PATH) -> int:
    """Build one marts model (one Dagster asset), for every month; return its row count."""
    model = sqlmodels.load_model(sqlmodels.SQL_DIR / "marts" / f"{name}.sql")
    if model.incremental_by:
        months.set_build_periods(con, None)
    sqlmodels.run_model(con, model, model_params(catalog_path))
    return _row_count(con, model)


def build_marts(con: duckdb.DuckDBPyConnection, models: Iterable[str] | None = None,
                catalog_path: Path = CATALOG_PATH, incremental: bool = False,
                quality: bool = True) -> dict[str, int]:
    """Build the models of sql/marts in dependency order; return row counts by table.

    `models` names the models to build (e.g. `indicator_models()`);
    by default every model of sql/marts is built: every model but the quality review's,
    then (`quality`) the quality review's (`quality_build.build_quality`). The pipeline's
    marts step passes `quality=False`: its quality step builds them. Views are counted like
    tables.
    `incremental` (a build of every model): the per-month models rebuild only the months
    whose inputs changed since the last build (pipeline/marts/incremental.py); the others are
    rebuilt whole, as they are small.
    """
    whole = models is None
    selected = [m for m in marts_models() if not is_quality_model(m)] if whole else marts_models(models)
    last = months.stored(con) if incremental and whole else None
    if whole:
        months.forget(con)
    try:
        counts = _build(con, selected, catalog_path, whole, last)
    finally:
        months.set_build_periods(con, None)  # a later build of one model on this connection: every month
    if whole and quality:
        from pipeline.marts.quality_build import build_quality

        counts.update(build_quality(con, catalog_path, incremental=incremental).counts)
    return counts


def _build(con: duckdb.DuckDBPyConnection, selected: list[sqlmodels.SqlModel], catalog_path: Path,
           whole: bool, last: dict[str, str] | None) -> dict[str, int]:
    """build_marts' loop: the per-month models learn which months to build when the first
    of them comes (after month_calendar, which they depend on)."""
    plan: months.Plan | None = None
    started = False
    counts: dict[str, int] = {}
    for model in selected:
        replace_only = None
        if model.incremental_by:
            if not started:  # month_calendar is built by now: it comes first
                started = True
                if whole:
                    plan = months.plan(con, selected, catalog_path, last)
                months.set_build_periods(con, None if plan is None or plan.full else plan.periods)
            if plan is not None and not plan.full:
                replace_only = f"select period from {months.BUILD_PERIODS}"
        sqlmodels.run_model(con, model, model_params(catalog_path), replace_only)
        counts[model.table] = _row_count(con, model)
    if whole and plan is not None:
        months.remember(con, plan.fingerprints)
    return counts


def _row_count(con: duckdb.DuckDBPyConnection, model: sqlmodels.SqlModel) -> int:
    return con.execute(f"select count(*) from {model.qualified}").fetchone()[0]


def _examples(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchmany(_EXAMPLES)]


def check_one_row_per_key(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
    """marts.indicator_values has exactly one row per (indicator_id, period, area_code)."""
    rows, keys = con.execute(
        """
        select count(*), count(distinct (indicator_id, period, area_code))
        from marts.indicator_values
        """
    ).fetchone()
    duplicated = _examples(
        con,
        """
        select indicator_id, period, area_code, count(*) as copies
        from marts.indicator_values
        group by indicator_id, period, area_code
        having count(*) > 1
        order by indicator_id, period, area_code
        """,
    )
    return rows == keys, {"rows": rows, "distinct_keys": keys, "duplicated_keys": duplicated}


def check_rates_in_range(con: duckdb.DuckDBPyConnection, catalog_path: Path = CATALOG_PATH) -> tuple[bool, dict[str, Any]]:
    """Every percentage lies in 0–100 (place_utilization only ≥ 0); no value is negative."""
    percent_ids = [r["indicator_id"] for r in read_catalog(catalog_path) if r["kind"] == "percent"]
    capped = [i for i in percent_ids if i not in RATES_ALLOWED_ABOVE_100]
    sql = """
        select indicator_id, period, area_code, value
        from marts.indicator_values
        where value < -?
           or (list_contains(?, indicator_id) and value > 100 + ?)
        order by indicator_id, period, area_code
    """
    params = [TOLERANCE, capped, TOLERANCE]
    (violations,) = con.execute(f"select count(*) from ({sql})", params).fetchone()
    low, high = con.execute(
        "select min(value), max(value) from marts.indicator_values where list_contains(?, indicator_id)",
        [capped],
    ).fetchone()
    return violations == 0, {
        "violations": violations,
        "observed_min": low,
        "observed_max": high,
        "allowed_range": "0–100",
        "uncapped": list(RATES_ALLOWED_ABOVE_100),
        "examples": _examples(con, sql, params),
    }


def check_town_coverage_consistent(con: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, Any]]:
    """The county's (rural) town coverage counts the 镇街 rows that have institutions.

    For each month, town_coverage's numerator must equal the number of 镇街 rows whose
    filing_rate denominator (= institutions in O(M)) is above 0, and its denominator the
    number of 镇街 in reference.areas; the same over 乡村 镇街 for rural_town_coverage.
    """
    sql = """
        with towns as (
            select area_code, urban_rural
            from reference.areas
            where parent_code is not null
        ),
        reference_counts as (
            select count(*) as towns, count(*) filter (where urban_rural = '乡村') as rural_towns
            from towns
        ),
        county as (
            select area_code from reference.areas where parent_code is null
        ),
        -- NULL for a month without institution data, like the county's figures.
        from_towns as (
            select
                v.period,
                case when bool_and(v.numerator is not null)
                    then count(*) filter (where v.denominator > 0) end as covered,
                case when bool_and(v.numerator is not null)
                    then count(*) filter (where v.denominator > 0 and t.urban_rural = '乡村') end
                    as covered_rural
            from marts.indicator_values as v
            inner join towns as t on t.area_code = v.area_code
            where v.indicator_id = 'filing_rate'
            group by v.period
        ),
        from_county as (
            select
                v.period,
                max(v.numerator) filter (where v.indicator_id = 'town_coverage') as covered,
                max(v.denominator) filter (where v.indicator_id = 'town_coverage') as towns,
                max(v.numerator) filter (where v.indicator_id = 'rural_town_coverage') as covered_rural,
                max(v.denominator) filter (where v.indicator_id = 'rural_town_coverage') as rural_towns
            from marts.indicator_values as v
            inner join county as c on c.area_code = v.area_code
            where v.indicator_id in ('town_coverage', 'rural_town_coverage')
            group by v.period
        )
        select
            c.period,
            c.covered as county_covered,
            t.covered as towns_with_institutions,
            c.towns as county_towns,
            r.towns as reference_towns,
            c.covered_rural as county_covered_rural,
            t.covered_rural as rural_towns_with_institutions,
            c.rural_towns as county_rural_towns,
            r.rural_towns as reference_rural_towns
        from from_county as c
        cross join reference_counts as r
        left join from_towns as t on t.period = c.period
        where c.covered is distinct from t.covered
           or c.covered_rural is distinct from t.covered_rural
           or (c.covered is not null and c.towns is distinct from r.towns)
           or (c.covered is not null and c.rural_towns is distinct from r.rural_towns)
        order by c.period
    """
    (mismatches,) = con.execute(f"select count(*) from ({sql})").fetchone()
    (months,) = con.execute(
        "select count(distinct period) from marts.indicator_values where indicator_id = 'town_coverage'"
    ).fetchone()
    return mismatches == 0, {
        "months_checked": months,
        "mismatched_months": mismatches,
        "examples": _examples(con, sql),
    }
