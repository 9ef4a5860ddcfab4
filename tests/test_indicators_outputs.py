"""The marts around marts.indicator_values: catalog, policy measures, target verdicts,
the Chinese view, the asset checks, and the module's API."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.marts import build as indicators
from pipeline.marts.catalog import CATALOG_PATH, indicator_ids, read_catalog
from pipeline.reference import default_applies_to
from tests.indicator_fixtures import COUNTY, TOWN_A, TOWN_B, TOWN_C, Warehouse, main_warehouse

REPO = Path(__file__).resolve().parents[1]


def handbook_indicators() -> list[tuple[str, str, str, str, str]]:
    """(id, 名称, unit, level, definition) of each row of the table in the handbook's
    "Indicators" section (docs/indicator-handbook.md), in its order."""
    text = (REPO / "docs" / "indicator-handbook.md").read_text(encoding="utf-8")
    section = text.split("\n## Indicators\n", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.split("|")[1:-1]]
            for line in section.splitlines() if line.startswith("| ")]
    assert rows[0][:2] == ["id", "名称"], rows[0]
    return [tuple(row[:5]) for row in rows[1:]]


def target(indicator_id, value, comparison, deadline, planned_max=None):
    entry = next(row for row in read_catalog() if row["indicator_id"] == indicator_id)
    return (indicator_id, value, comparison, deadline, "13", "市审批服务局", "", planned_max,
            default_applies_to(entry["kind"], entry["levels"]))


@pytest.fixture
def warehouse(tmp_path):
    w = main_warehouse(tmp_path / "warehouse.duckdb")
    yield w
    w.close()


def test_catalog_lists_the_handbooks_indicators(warehouse):
    handbook = handbook_indicators()
    assert len(handbook) == 19
    rows = warehouse.query("select indicator_id, name_zh, unit_zh, levels, kind, decimals "
                           "from marts.indicator_catalog order by sort_order")
    assert [r[:4] for r in rows] == [(i, name, unit, level.replace(" ", "")) for i, name, unit, level, _ in handbook]
    # the kind as the handbook's unit and definition say: %, 1000 × … ÷ …, or a count
    kinds = {i: "percent" if unit == "%" else "per_1000" if definition.startswith("1000 ×") else "count"
             for i, _, unit, _, definition in handbook}
    assert {r[0]: r[4] for r in rows} == kinds
    # reports round counts to integers, per-1000 to 2 decimals, percentages to 1
    assert {(r[4], r[5]) for r in rows} == {("count", 0), ("per_1000", 2), ("percent", 1)}
    names = warehouse.query("select count(distinct name_zh), count(definition_zh), count(unit_zh) from marts.indicator_catalog")
    assert names == [(19, 19, 19)]


def test_catalog_carries_targets_and_lead_units(warehouse):
    rows = warehouse.query(
        "select indicator_id, target_value, comparison, target_deadline, lead_unit, clause "
        "from marts.indicator_catalog where indicator_id in ('filing_rate', 'affordable_place_share', 'enrolled_children')"
        " order by sort_order"
    )
    assert rows == [
        # no target: the lead unit of measure 9, the first unit it lists
        ("affordable_place_share", None, None, None, "市发改局", "9"),
        ("filing_rate", 100.0, "=", "2023-12", "市审批服务局", "13"),
        ("enrolled_children", None, None, None, None, None),
    ]


def test_catalog_names_columns_of_area_measures(warehouse):
    columns = {c for (c,) in warehouse.query(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'area_measures'")}
    for row in read_catalog():
        assert row["numerator_measure"] in columns, row["indicator_id"]
        # a count has no denominator; a rate or per-1,000 figure has one
        if row["kind"] == "count":
            assert row["denominator_measure"] == "", row["indicator_id"]
        else:
            assert row["denominator_measure"] in columns, row["indicator_id"]


def test_a_new_catalog_row_is_a_new_indicator(tmp_path):
    """The indicators are the rows of the catalog: a catalog with one more row (a count of
    places, the `places` column of marts.area_measures) publishes one more indicator."""
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(CATALOG_PATH.read_text(encoding="utf-8")
                       + 'approved_places,核定托位数,个,"C,A",count,places,,0,二,20,正常运营托育机构核定托位数之和。\n',
                       encoding="utf-8")
    w = main_warehouse(tmp_path / "warehouse.duckdb")
    indicators.build_marts(w.con, indicators.indicator_models(), catalog_path=catalog)
    # 2024-01 places: 甲街道 I1 30 + I2 20; 乙镇 I3 10 + I4 40; 丙镇 none
    assert [w.value("approved_places", "2024-01", area) for area in (COUNTY, TOWN_A, TOWN_B, TOWN_C)] == [
        100, 50, 50, 0]
    assert w.row("approved_places", "2024-01", COUNTY)["denominator"] is None
    assert w.value("approved_places", "2024-04") is None  # the month's only file was rejected
    assert w.query("select count(*) from marts.indicator_catalog") == [(20,)]


def test_policy_measures(warehouse):
    rows = warehouse.query("select measure_no, indicator_ids, indicators_zh, has_indicators from marts.policy_measures")
    assert rows == [
        # listed as rural, town, places; shown in catalog order
        (4, "places_per_1000,town_coverage,rural_town_coverage", "每千人口托位数、镇街托育服务覆盖率、乡村镇街覆盖率", True),
        (5, None, "本数据无法反映", False),
        (9, "affordable_place_share", "普惠托位占比", True),
    ]


def test_target_verdicts(tmp_path):
    targets = [
        target("filing_rate", 100.0, "=", "2024-01"),  # 2024-01: 3 of 4 = 75
        target("cctv_coverage", 100.0, "=", "2024-02"),  # 2024-02: I2 now has CCTV, 4 of 4
        target("demo_institutions", 1.0, ">=", "2024-04", planned_max=3.0),  # 2024-04: no data
        target("fire_safety_rate", 100.0, "=", "2023-06"),  # before the first month of data
        target("places_per_1000", 4.5, ">=", "2025-12"),  # after the last month of data
    ]
    w = main_warehouse(tmp_path / "warehouse.duckdb", targets=targets)
    rows = {r[0]: r[1:] for r in w.query(
        "select indicator_id, verdict, deadline_value, attained, gap, beyond_planned_range, latest_period, latest_value "
        "from marts.target_verdicts"
    )}
    assert rows["filing_rate"] == ("not_attained", 75.0, False, 75.0 - 100.0, None, "2024-03", 75.0)
    assert rows["cctv_coverage"] == ("attained", 100.0, True, 0.0, None, "2024-03", 75.0)
    assert rows["demo_institutions"] == ("no_data", None, None, None, None, "2024-03", 1.0)
    assert rows["fire_safety_rate"][:4] == ("no_data", None, None, None)
    # latest month with a county value: 2024-03, 1000 × 100 ÷ 20,000 = 5.0
    assert rows["places_per_1000"] == ("pending", None, None, None, None, "2024-03", 5.0)
    order = [r[0] for r in w.query("select deadline from marts.target_verdicts")]
    assert order == sorted(order)
    # Where each target applies is carried along (the verdict is the county's either way).
    assert dict(w.query("select indicator_id, applies_to from marts.target_verdicts")) == {
        "filing_rate": "county_and_towns", "cctv_coverage": "county_and_towns",
        "demo_institutions": "county", "fire_safety_rate": "county_and_towns",
        "places_per_1000": "county_and_towns"}


def test_target_beyond_the_planned_range(tmp_path):
    w = Warehouse(tmp_path / "warehouse.duckdb",
                  targets=[target("demo_institutions", 1.0, ">=", "2024-01", planned_max=3.0),
                           target("mch_institution_count", 1.0, ">=", "2024-01", planned_max=3.0)])
    w.file("institutions", "2024-01")
    for number in range(4):  # 4 demonstration institutions, one of them 妇幼保健机构办托
        w.institution("2024-01", f"I{number}", TOWN_A, demonstration=True,
                      institution_type="妇幼保健机构办托" if number == 0 else "社会办托育机构")
    w.build()
    rows = {r[0]: r[1:] for r in w.query(
        "select indicator_id, verdict, attained, gap, beyond_planned_range from marts.target_verdicts"
    )}
    assert rows["demo_institutions"] == ("attained", True, 3.0, True)  # gap 4 − 1 = 3; 4 > 3 planned
    assert rows["mch_institution_count"] == ("attained", True, 0.0, False)  # 1 ≤ 3


def test_chinese_view(warehouse):
    columns = [c for (c,) in warehouse.query(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'indicator_values_zh' order by ordinal_position"
    )]
    assert columns == ["指标", "指标名称", "月份", "区划代码", "区划名称", "数值", "目标值", "截止月份", "状态", "环比", "同比"]
    rows = {
        (r[0], r[1], r[2]): r[3:]
        for r in warehouse.query(
            'select "指标", "月份", "区划代码", "区划名称", "数值", "状态", "环比", "同比", "指标名称" '
            "from marts.indicator_values_zh"
        )
    }
    # 100 × 2 ÷ 3 = 66.67 → 66.7 (one decimal for percentages); due 2025-12 and this
    # is the first month with a value → 数据不足.
    assert rows[("town_coverage", "2024-01", COUNTY)][:3] == ("测试县", 66.7, "数据不足")
    # 100 × 5 ÷ 300 = 1.667 → 1.7
    assert rows[("enrollment_rate", "2024-01", TOWN_A)][:2] == ("甲街道", 1.7)
    # per 1000 to two decimals: 5.0; counts to integers
    assert rows[("places_per_1000", "2024-01", COUNTY)][1] == 5.0
    assert rows[("enrolled_children", "2024-01", COUNTY)][1] == 7
    assert rows[("enrolled_children", "2024-01", COUNTY)][5] == "在托婴幼儿数"
    # filing: 75 → 100 → 75 (county); 环比 +25.0, then −25.0; no month a year before
    assert rows[("filing_rate", "2024-01", COUNTY)][2:] == ("未达成", None, None, "托育机构备案率")
    assert rows[("filing_rate", "2024-02", COUNTY)][2:5] == ("已达成", 25.0, None)
    assert rows[("filing_rate", "2024-03", COUNTY)][2:5] == ("未达成", -25.0, None)
    # no data in 2024-04: NULL value, 无数据, no change
    assert rows[("filing_rate", "2024-04", COUNTY)][1:5] == (None, "无数据", None, None)
    # 丙镇 has no institutions: NULL, never 0
    assert rows[("filing_rate", "2024-01", TOWN_C)][1] is None


def test_chinese_view_year_on_year(tmp_path):
    w = Warehouse(tmp_path / "warehouse.duckdb")
    for period, places in (("2023-01", 10), ("2023-02", 12), ("2024-01", 60), ("2024-02", 61)):
        w.file("institutions", period)
        w.institution(period, "I1", TOWN_A, places=places)
    w.build()
    rows = {(m, a): (v, mom, yoy) for m, a, v, mom, yoy in w.query(
        'select "月份", "区划代码", "数值", "环比", "同比" from marts.indicator_values_zh where "指标" = \'places_per_1000\''
    )}
    # 甲街道 (10,000 residents): 2023-01 1.0; 2024-01 6.0 → 同比 +5.0; 2023-12 has no data → 环比 NULL
    assert rows[("2024-01", TOWN_A)] == (6.0, None, 5.0)
    # 2024-02: 6.1, 环比 +0.1 (rounded to 2 decimals), 同比 6.1 − 1.2 = 4.9
    assert rows[("2024-02", TOWN_A)] == (6.1, 0.1, 4.9)
    assert rows[("2023-02", TOWN_A)] == (1.2, 0.2, None)


def test_checks_pass_on_good_marts(warehouse):
    for check in (indicators.check_one_row_per_key, indicators.check_rates_in_range,
                  indicators.check_town_coverage_consistent):
        passed, metadata = check(warehouse.con)
        assert passed, (check.__name__, metadata)


def test_check_one_row_per_key_fails_on_a_duplicate(warehouse):
    warehouse.con.execute(
        "insert into marts.indicator_values select * from marts.indicator_values "
        "where indicator_id = 'filing_rate' and period = '2024-01' and area_code = ?", [COUNTY]
    )
    passed, metadata = indicators.check_one_row_per_key(warehouse.con)
    assert not passed
    assert metadata["rows"] == metadata["distinct_keys"] + 1
    assert metadata["duplicated_keys"] == [
        {"indicator_id": "filing_rate", "period": "2024-01", "area_code": COUNTY, "copies": 2}
    ]


def test_check_rates_in_range_fails_above_100(warehouse):
    warehouse.con.execute(
        "update marts.indicator_values set value = 101 where indicator_id = 'cctv_coverage' and period = '2024-01'"
        " and area_code = ?", [TOWN_B]
    )
    # place_utilization may exceed 100 (more children than places): not a violation
    warehouse.con.execute("update marts.indicator_values set value = 130 where indicator_id = 'place_utilization'")
    passed, metadata = indicators.check_rates_in_range(warehouse.con)
    assert not passed
    assert metadata["violations"] == 1
    assert metadata["observed_max"] == 101
    assert metadata["examples"][0]["indicator_id"] == "cctv_coverage"


def test_check_town_coverage_fails_when_county_disagrees(warehouse):
    warehouse.con.execute(
        "update marts.indicator_values set numerator = 3, value = 100 "
        "where indicator_id = 'town_coverage' and period = '2024-02'"
    )
    passed, metadata = indicators.check_town_coverage_consistent(warehouse.con)
    assert not passed
    assert metadata["mismatched_months"] == 1
    assert metadata["examples"][0]["period"] == "2024-02"
    assert metadata["examples"][0]["towns_with_institutions"] == 2


def test_build_marts_reports_row_counts(tmp_path):
    w = main_warehouse(tmp_path / "warehouse.duckdb")
    counts = w.build()
    assert set(counts) == {f"marts.{m}" for m in indicators.indicator_models()}
    assert counts["marts.indicator_values"] == 268
    assert counts["marts.indicator_values_zh"] == 268
    assert counts["marts.month_calendar"] == 4
    assert counts["marts.indicator_catalog"] == 19
    assert indicators.build_model(w.con, "indicator_values") == 268
    with pytest.raises(ValueError, match="no such model"):
        indicators.build_marts(w.con, ["indicator_value"])


def test_indicator_models_are_the_files_of_sql_marts_but_those_another_stage_owns(tmp_path):
    every = {m.name for m in indicators.marts_models()}
    assert every == {p.stem for p in (REPO / "sql" / "marts").glob("*.sql")}
    # data_quality is kept in sql/marts but owned by validation, the quality flags and
    # reporting rates by the data-quality review (docs/quality.md): their `-- owner:` headers
    assert set(indicators.indicator_models()) == every - {"data_quality", "quality_flags", "reporting_rates"}
    # a model file added to a folder is a model; its header alone can set it apart
    for name, header in (("a", ""), ("b", "-- owner: validation\n")):
        (tmp_path / "marts").mkdir(exist_ok=True)
        (tmp_path / "marts" / f"{name}.sql").write_text(f"-- grain: one row\n{header}select 1 as x\n", encoding="utf-8")
    assert indicators.indicator_models(tmp_path) == ["a"]


def test_every_model_declares_its_grain_and_dependencies():
    for model in indicators.marts_models(indicators.indicator_models()):
        assert model.grain, model.path
        assert model.depends_on, model.path
        assert "\nselect * from final" in model.sql or "\nfrom final" in model.sql, model.path


def test_docs_describe_every_indicator_and_model():
    text = (REPO / "docs" / "indicators.md").read_text(encoding="utf-8")
    for indicator_id in indicator_ids():
        assert f"`{indicator_id}`" in text, indicator_id
    for model in indicators.indicator_models():
        assert f"marts.{model}" in text, model
