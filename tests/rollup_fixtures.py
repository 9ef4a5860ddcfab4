"""Hand-made bundles and prefecture folders for the rollup tests (docs/rollup.md): small
enough that every expected figure is written out by hand in the tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from pipeline.marts.catalog import read_catalog
from pipeline.rollup.bundle_format import SCHEMAS, write_bundle

BEIJING = timezone(timedelta(hours=8))
KIND = {row["indicator_id"]: row["kind"] for row in read_catalog()}
FACTOR = {"count": None, "percent": 100.0, "per_1000": 1000.0}

PREFECTURE_AREAS = """\
area_code,area_name,area_type,urban_rural,parent_code
990100,测试市,地级市,,
990101,甲县,县,,990100
990102,乙市,县级市,,990100
990103,丙区,区,,990100
"""
COUNTIES = {"990101": "甲县", "990102": "乙市", "990103": "丙区"}

# A target file of the prefecture: the tests' statuses are worked out against these.
TARGETS = """\
[filing_rate]
value = 100
comparison = ">="
deadline = "2025-12"
clause = "13"
applies_to = "county_and_towns"

[places_per_1000]
value = 4.5
comparison = ">="
deadline = "2024-07"
clause = "二"
applies_to = "county_and_towns"

[demo_institutions]
value = 3
comparison = ">="
deadline = "2025-12"
clause = "二"
applies_to = "county"
"""


def prefecture_folder(tmp_path: Path, *, targets: str | None = TARGETS, rollup: str | None = None) -> Path:
    folder = tmp_path / "prefecture"
    folder.mkdir(exist_ok=True)
    (folder / "areas.csv").write_text(PREFECTURE_AREAS, encoding="utf-8")
    if targets is not None:
        (folder / "targets.toml").write_text(targets, encoding="utf-8")
    if rollup is not None:
        (folder / "rollup.toml").write_text(rollup, encoding="utf-8")
    return folder


def made(day: int, hour: int = 10) -> datetime:
    return datetime(2024, 8, day, hour, 0, tzinfo=BEIJING)


def county_bundle(out: Path, code: str, figures: dict[str, dict[str, tuple[float | None, float | None]]], *,
                  types: dict[str, dict[str, int]] | None = None, made_at: datetime | None = None) -> Path:
    """One county's bundle: `figures[period][indicator_id] = (numerator, denominator)` for the
    county row (value computed as the county would), one 镇街 row mirroring it (so the
    prefecture must not count towns), `types[period][机构类型] = institutions`."""
    rows = []
    for period, indicators in figures.items():
        for indicator_id, (numerator, denominator) in indicators.items():
            factor = FACTOR[KIND[indicator_id]]
            if numerator is None:
                value = None
            elif factor is None:
                value = numerator
            else:
                value = None if not denominator else factor * numerator / denominator
            for area, is_county in ((code, True), (code + "001", False)):
                rows.append({"indicator_id": indicator_id, "period": period, "area_code": area, "is_county": is_county,
                             "value": value, "numerator": numerator,
                             "denominator": denominator if factor is not None else None,
                             "target_value": None, "target_deadline": None, "status": None})
    type_rows = [{"period": p, "area_code": code, "institution_type": t, "institutions": n}
                 for p, by_type in (types or {}).items() for t, n in by_type.items()]
    periods = sorted(figures)
    tables = {
        "indicator_values.parquet": pl.DataFrame(rows, schema=SCHEMAS["indicator_values.parquet"]),
        "institution_types.parquet": pl.DataFrame(type_rows, schema=SCHEMAS["institution_types.parquet"]),
        "reporting_rates.parquet": pl.DataFrame(
            [{"kind": "institutions", "period": p, "window_months": 1, "first_period": p, "expected": 1,
              "received": 1, "on_time": 1, "late": 0, "backfilled": 0, "missing": 0, "received_rate": 100.0,
              "on_time_rate": 100.0} for p in periods], schema=SCHEMAS["reporting_rates.parquet"]),
        "data_quality.parquet": pl.DataFrame(
            [{"period": p, "kind": "all", "file_present": True, "rows_read": 10, "rows_accepted": 9,
              "rows_rejected": 1, "rows_duplicate": 0, "rows_warned": 0, "quality_flags": 1,
              "quality_flags_open": 0} for p in periods], schema=SCHEMAS["data_quality.parquet"]),
    }
    return write_bundle(out, county_code=code, county_name=COUNTIES.get(code, "某县"), tables=tables,
                        made_at=made_at or made(1), version="test")
