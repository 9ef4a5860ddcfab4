"""The bundle simulator (pipeline/rollup/simulate.py): every bundle passes read_bundle, its
figures are consistent (a county's counts are its 镇街' sums, no rate's numerator above its
denominator but place_utilization's), and the rollup over them equals the counties' sums."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipeline.marts.catalog import indicator_ids, read_catalog
from pipeline.reference import load_prefecture_reference
from pipeline.rollup.build import build
from pipeline.rollup.bundle_format import read_bundle
from pipeline.rollup.receive import receive_all
from pipeline.rollup.simulate import simulate_bundles

COUNTIES = [("990101", "甲县"), ("990102", "乙市"), ("990103", "丙区"), ("990104", "丁县")]
PERIODS = ["2024-01", "2024-02", "2024-03"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    out = tmp_path_factory.mktemp("simulated")
    return out, simulate_bundles(out / "inbox", COUNTIES, PERIODS, seed=3)


def test_every_simulated_bundle_is_valid_and_consistent(bundles):
    _, paths = bundles
    assert len(paths) == len(COUNTIES)
    kinds = {r["indicator_id"]: r["kind"] for r in read_catalog()}
    for (code, _), path in zip(COUNTIES, paths):
        bundle = read_bundle(path, frozenset(indicator_ids()))
        assert bundle.manifest.county_code == code and bundle.manifest.periods == tuple(PERIODS)
        values = bundle.tables["indicator_values.parquet"]
        county = values.filter(pl.col("is_county"))
        assert county.height == len(PERIODS) * len(kinds)  # every indicator, every month
        rates = values.filter(pl.col("indicator_id").replace_strict(kinds) != "count",
                              pl.col("indicator_id") != "place_utilization")
        assert rates.filter(pl.col("numerator") > pl.col("denominator")).height == 0
        # the county's filed institutions are its 镇街' sum
        filed = values.filter(pl.col("indicator_id") == "filing_rate")
        sums = filed.group_by("period", "is_county").agg(pl.col("numerator").sum()).pivot(
            on="is_county", index="period", values="numerator")
        assert (sums.get_column("true") == sums.get_column("false")).all()
        assert bundle.tables["institution_types.parquet"].height > 0


def test_the_rollup_of_simulated_bundles_equals_the_counties_sums(bundles, tmp_path):
    out, _ = bundles
    folder = tmp_path / "prefecture"
    folder.mkdir()
    (folder / "areas.csv").write_text("area_code,area_name,area_type,urban_rural,parent_code\n990100,测试市,地级市,,\n"
                                      + "".join(f"{c},{n},县,,990100\n" for c, n in COUNTIES), encoding="utf-8")
    reference = load_prefecture_reference(folder)
    receive_all(reference, out / "inbox", tmp_path / "store")
    con = duckdb.connect()
    build(con, reference, tmp_path / "store")
    mismatches = con.execute("""
        with counties as (
            select indicator_id, period, sum(numerator) as numerator, sum(denominator) as denominator
            from marts.indicator_values where area_code <> '990100' and indicator_id <> 'service_type_count'
            group by indicator_id, period
        )
        select count(*) from marts.indicator_values as p
        join counties using (indicator_id, period)
        where p.area_code = '990100'
          and (p.numerator is distinct from counties.numerator or p.denominator is distinct from
               case when counties.denominator is not null then counties.denominator end)
    """).fetchone()[0]
    assert mismatches == 0
    assert con.execute("select count(*) from marts.indicator_values where area_code = '990100' and value is null "
                       "and indicator_id not in ('service_type_count')").fetchone()[0] == 0
