"""Synthetic aggregate bundles: many counties × many months, for the rollup's tests and
its benchmark (12, 140 and 2,800 counties × 60 months).

    simulate_bundles(out_dir, counties, periods, seed) -> [bundle paths]

Each county gets a few 镇街 and, per 镇街 and month, random but consistent counts
(institutions, of which filed, with CCTV, fire-safe, of each 机构类型; places, of which
affordable; children; staff; population); the county's counts are its 镇街' sums, and every
indicator is made from them as the catalog says (kind, numerator_measure,
denominator_measure), so a rate's numerator never exceeds its denominator and the
prefecture's sums can be checked against the counties'. Institution types, reporting
rates and data-quality rows come with them. Vectorised with numpy and polars: one loop
over counties, none over rows. Not statistics: figures for exercising the program.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.marts.catalog import read_catalog
from pipeline.rollup.bundle_format import SCHEMAS, write_bundle

INSTITUTION_TYPES = ("托育中心", "幼儿园托班", "用人单位办托", "妇幼保健机构办托", "家庭托育点", "社区托育点")
# the share of institutions of each type (in INSTITUTION_TYPES' order)
_TYPE_SHARES = (0.45, 0.2, 0.1, 0.05, 0.12, 0.08)
KINDS = ("institutions", "enrollment", "staffing")
WINDOWS = (1, 3, 12)
_FACTOR = {"percent": 100.0, "per_1000": 1000.0}


def simulate_bundles(out_dir: Path, counties: list[tuple[str, str]], periods: list[str], seed: int,
                     made_at: datetime | None = None) -> list[Path]:
    """Write one bundle per county into `out_dir`; return their paths (in `counties`' order)."""
    rng = np.random.default_rng(seed)
    catalog = read_catalog()
    made_at = made_at or datetime(2026, 1, 5, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    periods = sorted(periods)
    return [write_bundle(out_dir, county_code=code, county_name=name,
                         tables=county_tables(rng, code, periods, catalog), made_at=made_at, version="simulated")
            for code, name in counties]


def _binomial(rng: np.random.Generator, n: np.ndarray, p: float | np.ndarray) -> np.ndarray:
    return rng.binomial(n, p).astype(np.int64)


def county_tables(rng: np.random.Generator, code: str, periods: list[str],
                  catalog: list[dict[str, str]]) -> dict[str, pl.DataFrame]:
    """The four tables of one county's bundle."""
    towns = int(rng.integers(3, 13))
    months = len(periods)
    shape = (towns, months)
    town_codes = [f"{code}{i + 1:03d}" for i in range(towns)]
    rural = rng.random(towns) < 0.6
    # per 镇街 × month; a slow upward drift over the months
    drift = np.linspace(0.0, 0.3, months)[None, :]
    base = rng.integers(0, 8, size=(towns, 1))
    institutions = np.maximum(0, base + np.floor(drift * base + rng.integers(-1, 2, size=shape))).astype(np.int64)
    shares = np.array(_TYPE_SHARES)
    by_type = rng.multinomial(institutions.ravel(), shares / shares.sum()).reshape(towns, months, len(shares))
    places = institutions * rng.integers(20, 60, size=shape)
    population = rng.integers(20_000, 120_000, size=(towns, 1)) * np.ones((1, months), dtype=np.int64)
    under3 = (population * rng.uniform(0.02, 0.03, size=(towns, 1))).astype(np.int64)
    children = np.minimum(_binomial(rng, places, rng.uniform(0.5, 0.95)), places)
    caregivers = _binomial(rng, places, 0.2)
    staff = caregivers + _binomial(rng, places, 0.1)
    with_children = np.minimum(institutions, _binomial(rng, institutions, 0.95))
    p_filed = np.clip(0.6 + drift + rng.uniform(-0.1, 0.1, size=(towns, 1)), 0, 1)
    measures = {
        "institutions": institutions,
        "filed_institutions": _binomial(rng, institutions, p_filed),
        "cctv_institutions": _binomial(rng, institutions, 0.85),
        "fire_safe_institutions": _binomial(rng, institutions, 0.9),
        "demo_institutions": _binomial(rng, institutions, 0.05),
        "kindergarten_nurseries": by_type[:, :, 1],
        "employer_institutions": by_type[:, :, 2],
        "mch_institutions": by_type[:, :, 3],
        "places": places,
        "affordable_places": _binomial(rng, places, 0.6),
        "resident_population": population,
        "population_under3": under3,
        "children": children,
        "children_under3": np.minimum(_binomial(rng, children, 0.9), under3),
        "enrollment_rows": children + _binomial(rng, children, 0.02),
        "caregivers": caregivers,
        "certified_caregivers": _binomial(rng, caregivers, 0.8),
        "staff_rows": staff,
        "trained_staff_rows": _binomial(rng, staff, 0.9),
        "checked_staff_rows": _binomial(rng, staff, 0.95),
        "institutions_with_children": with_children,
        "ratio_compliant_institutions": _binomial(rng, with_children, 0.85),
    }
    present_types = (by_type > 0)
    county = {name: values.sum(axis=0) for name, values in measures.items()}
    county["institution_types"] = present_types.any(axis=0).sum(axis=1)
    county["covered_towns"] = (institutions > 0).sum(axis=0)
    county["towns"] = np.full(months, towns)
    county["covered_rural_towns"] = ((institutions > 0) & rural[:, None]).sum(axis=0)
    county["rural_towns"] = np.full(months, int(rural.sum()))

    town_frame = pl.DataFrame({
        "period": np.tile(periods, towns), "area_code": np.repeat(town_codes, months), "is_county": False,
        **{name: values.ravel().astype(np.float64) for name, values in measures.items()},
    })
    county_frame = pl.DataFrame({
        "period": periods, "area_code": [code] * months, "is_county": True,
        **{name: values.astype(np.float64) for name, values in county.items()},
    })
    values = pl.concat([_indicators(county_frame, catalog, county=True),
                        _indicators(town_frame, catalog, county=False)])

    types_county = pl.DataFrame({
        "period": np.repeat(periods, len(INSTITUTION_TYPES)),
        "area_code": code,
        "institution_type": np.tile(INSTITUTION_TYPES, months),
        "institutions": by_type.sum(axis=0).ravel().astype(np.int64),
    })
    types_towns = pl.DataFrame({
        "period": np.tile(np.repeat(periods, len(INSTITUTION_TYPES)), towns),
        "area_code": np.repeat(town_codes, months * len(INSTITUTION_TYPES)),
        "institution_type": np.tile(INSTITUTION_TYPES, towns * months),
        "institutions": by_type.ravel().astype(np.int64),
    })
    types = pl.concat([types_county, types_towns]).filter(pl.col("institutions") > 0)
    return {
        "indicator_values.parquet": values,
        "institution_types.parquet": types,
        "reporting_rates.parquet": _reporting_rates(rng, periods),
        "data_quality.parquet": _data_quality(rng, periods, institutions.sum(axis=0), children.sum(axis=0),
                                              staff.sum(axis=0)),
    }


def _indicators(frame: pl.DataFrame, catalog: list[dict[str, str]], *, county: bool) -> pl.DataFrame:
    """marts.indicator_values' rows of `frame`'s areas, each indicator as the catalog defines it."""
    parts = []
    for row in catalog:
        if not county and "A" not in row["levels"].split(","):
            continue
        numerator = pl.col(row["numerator_measure"])
        denominator = pl.col(row["denominator_measure"]) if row["denominator_measure"] else pl.lit(None, pl.Float64)
        factor = _FACTOR.get(row["kind"])
        value = numerator if factor is None else pl.when(denominator > 0).then(factor * numerator / denominator)
        parts.append(frame.select(
            pl.lit(row["indicator_id"]).alias("indicator_id"), "period", "area_code", "is_county",
            value.cast(pl.Float64).alias("value"), numerator.alias("numerator"),
            denominator.cast(pl.Float64).alias("denominator"),
        ))
    out = pl.concat(parts)
    return out.with_columns(pl.lit(None, pl.Float64).alias("target_value"), pl.lit(None, pl.String).alias("target_deadline"),
                            pl.lit(None, pl.String).alias("status")).select(list(SCHEMAS["indicator_values.parquet"]))


def _reporting_rates(rng: np.random.Generator, periods: list[str]) -> pl.DataFrame:
    months = len(periods)
    index = np.arange(months)
    received_month = rng.random((len(KINDS), months)) < 0.97
    late_month = received_month & (rng.random((len(KINDS), months)) < 0.1)
    frames = []
    for k, kind in enumerate(KINDS):
        for window in WINDOWS:
            first = np.maximum(0, index - window + 1)
            expected = index - first + 1
            cum_received = np.concatenate([[0], np.cumsum(received_month[k])])
            cum_late = np.concatenate([[0], np.cumsum(late_month[k])])
            received = cum_received[index + 1] - cum_received[first]
            late = cum_late[index + 1] - cum_late[first]
            frames.append(pl.DataFrame({
                "kind": kind, "period": periods, "window_months": window,
                "first_period": [periods[i] for i in first], "expected": expected.astype(np.int64),
                "received": received.astype(np.int64), "on_time": (received - late).astype(np.int64),
                "late": late.astype(np.int64), "backfilled": np.zeros(months, dtype=np.int64),
                "missing": (expected - received).astype(np.int64),
                "received_rate": 100.0 * received / expected, "on_time_rate": 100.0 * (received - late) / expected,
            }))
    return pl.concat(frames).with_columns(pl.col("window_months").cast(pl.Int32))


def _data_quality(rng: np.random.Generator, periods: list[str], institutions: np.ndarray, children: np.ndarray,
                  staff: np.ndarray) -> pl.DataFrame:
    frames = []
    for kind, rows in (("institutions", institutions), ("enrollment", children), ("staffing", staff)):
        rows = rows.astype(np.int64)
        rejected = _binomial(rng, rows, 0.01)
        duplicate = _binomial(rng, rows - rejected, 0.005)
        frames.append(pl.DataFrame({
            "period": periods, "kind": kind, "file_present": True, "rows_read": rows,
            "rows_accepted": rows - rejected - duplicate, "rows_rejected": rejected, "rows_duplicate": duplicate,
            "rows_warned": _binomial(rng, rows, 0.02), "quality_flags": None, "quality_flags_open": None,
        }, schema_overrides={"quality_flags": pl.Int64, "quality_flags_open": pl.Int64}))
    flags = rng.poisson(0.5, len(periods)).astype(np.int64)
    frames.append(pl.DataFrame({
        "period": periods, "kind": "all", "file_present": True, "rows_read": None, "rows_accepted": None,
        "rows_rejected": None, "rows_duplicate": None, "rows_warned": None, "quality_flags": flags,
        "quality_flags_open": np.minimum(flags, rng.poisson(0.2, len(periods))).astype(np.int64),
    }, schema_overrides={c: pl.Int64 for c in ("rows_read", "rows_accepted", "rows_rejected", "rows_duplicate",
                                                "rows_warned")}))
    return pl.concat(frames, how="vertical_relaxed")
