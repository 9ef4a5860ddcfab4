"""Reference data: the shipped Qingzhou folder, the conformance county, and one broken
fixture per kind of bad reference data (the message must name file, line and problem)."""

import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.marts.catalog import indicator_ids
from pipeline.reference import (
    ReferenceDataError,
    default_reference_folder,
    load_reference,
    write_reference_tables,
)

from tests.conftest import CONFORMANCE, REPO

CONFORMANCE_REFERENCE = CONFORMANCE / "reference"

# A tiny valid county. Line 1 is the header, so 东街道 is line 3 and 西镇 line 4.
AREAS = """\
area_code,area_name,area_type,urban_rural,parent_code
379901,测试县,县,,
379901001,东街道,街道,城镇,379901
379901100,西镇,镇,乡村,379901
"""
POPULATION = """\
year,area_code,resident_population,population_under3
2023,379901001,1000,25
2023,379901100,800,18
"""
# A valid targets file; tests replace one of its lines to plant a defect.
TARGETS = """\
# line 1: a comment
[places_per_1000]
value = 4.5
comparison = ">="
deadline = "2025-12"
clause = "二"
lead_unit = "市卫健局"
"""


def make_folder(tmp_path: Path, areas: str = AREAS, population: str = POPULATION, **toml: str) -> Path:
    """A reference folder in tmp_path; toml=... adds e.g. targets="..." as targets.toml."""
    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "areas.csv").write_text(areas, encoding="utf-8")
    (folder / "population.csv").write_text(population, encoding="utf-8")
    for stem, text in toml.items():
        (folder / f"{stem}.toml").write_text(text, encoding="utf-8")
    return folder


def load_error(folder: Path) -> ReferenceDataError:
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(folder)
    return caught.value


def assert_names(error: ReferenceDataError, file: str, line: int | None, zh: str, en: str) -> None:
    message = str(error)
    assert message.startswith("参考数据错误："), message
    if line is None:
        assert f"参考数据错误：{file}：" in message, message
        assert f"Reference data error: {file}: " in message, message
    else:
        assert f"{file} 第 {line} 行：" in message, message
        assert f"{file} line {line}: " in message, message
    assert zh in message and en in message, message
    assert (error.file, error.line) == (file, line)


# ---------------------------------------------------------------- the shipped and conformance folders


def test_shipped_qingzhou_reference_loads(tmp_path):
    # A copy: the folder must be complete on its own (no fallback to default files).
    folder = tmp_path / "qingzhou"
    shutil.copytree(default_reference_folder(), folder)
    ref = load_reference(folder)

    assert (ref.county_code, ref.county_name) == ("370781", "青州市")
    assert ref.areas.filter(ref.areas["parent_code"].is_null()).height == 1
    towns = ref.towns
    assert sorted(towns["area_type"].to_list()) == ["街道"] * 4 + ["镇"] * 8
    assert set(towns["parent_code"]) == {"370781"}
    assert all(len(code) == 9 and code.startswith("370781") for code in towns["area_code"])
    assert set(towns.filter(towns["area_type"] == "街道")["urban_rural"]) == {"城镇"}
    assert set(towns.filter(towns["area_type"] == "镇")["urban_rural"]) == {"乡村"}

    totals = ref.population.drop("area_code").group_by("year").sum().sort("year")
    assert totals["year"].to_list() == list(range(2021, 2027))
    shares = []
    for row in totals.iter_rows(named=True):
        assert 930_000 <= row["resident_population"] <= 950_000, row
        shares.append(row["population_under3"] / row["resident_population"])
    assert all(0.022 <= share <= 0.028 for share in shares), shares
    assert shares == sorted(shares, reverse=True), "under-3 share should fall with the birth rate"

    assert ref.targets_file == folder / "targets.toml"
    assert ref.measures_file == folder / "measures.toml"
    assert len(ref.targets) == 13
    assert [m.number for m in ref.measures] == list(range(1, 18))


def test_shipped_targets_follow_the_policy(tmp_path):
    ref = load_reference(shutil.copytree(default_reference_folder(), tmp_path / "qingzhou"))
    expected = {
        # id: (value, comparison, deadline)
        "demo_institutions": (1, ">=", "2023-12"),
        "places_per_1000": (4.5, ">=", "2025-12"),
        "town_coverage": (100, "=", "2025-12"),
        "rural_town_coverage": (100, "=", "2025-12"),
        "filing_rate": (100, "=", "2023-12"),
        "cctv_coverage": (100, "=", "2023-12"),
        "fire_safety_rate": (100, "=", "2023-12"),
        "caregiver_certified_rate": (100, "=", "2025-12"),
        "staff_trained_rate": (100, "=", "2025-12"),
        "criminal_check_rate": (100, "=", "2023-12"),
        "ratio_compliance_rate": (100, "=", "2025-12"),
        "mch_institution_count": (1, ">=", "2025-12"),
        "service_type_count": (4, ">=", "2025-12"),
    }
    assert {t.indicator_id: (t.value, t.comparison, t.deadline) for t in ref.targets} == expected
    assert ref.target("demo_institutions").planned_max == 3
    # Counts of the whole county (clause 二's 1-3 示范性机构, clause 8's 妇幼保健机构办托)
    # and county-only indicators apply to the county; rates and per-1,000 to each 镇街 too.
    assert {t.indicator_id for t in ref.targets if t.applies_to == "county"} == {
        "demo_institutions", "mch_institution_count", "town_coverage", "rural_town_coverage",
        "service_type_count"}
    assert {t.applies_to for t in ref.targets} == {"county", "county_and_towns"}
    assert "applies_to" in (default_reference_folder() / "targets.toml").read_text(encoding="utf-8").split(
        "[demo_institutions]")[1].split("[places_per_1000]")[0]  # written out, not left to the default
    assert ref.target("filing_rate").lead_unit == "市审批服务局"
    assert ref.target("cctv_coverage").lead_unit == "市应急局"

    # The lead unit is the first unit of the measure the clause names; clause 二 is led by
    # 市卫健局 (policy part 四（二）: the work is led by the health department).
    measures = {str(m.number): m for m in ref.measures}
    for target in ref.targets:
        assert target.note, target.indicator_id
        if target.clause == "二":
            assert target.lead_unit == "市卫健局", target.indicator_id
        else:
            assert target.lead_unit == measures[target.clause].lead_unit, target.indicator_id


def test_shipped_measures_cover_the_policy(tmp_path):
    ref = load_reference(shutil.copytree(default_reference_folder(), tmp_path / "qingzhou"))
    by_number = {m.number: m for m in ref.measures}
    assert by_number[13].indicator_ids == ("filing_rate",)
    assert set(by_number[15].indicator_ids) == {"cctv_coverage", "fire_safety_rate", "criminal_check_rate"}
    assert by_number[17].responsible_units == ("市市场监管局",)
    for number in (1, 2, 3, 5, 11, 12, 16, 17):  # no data on these in the extracts
        assert by_number[number].indicator_ids == ()
        assert by_number[number].coverage_note_zh == "本数据无法反映"
    # Every indicator with a clause number in indicator-handbook.md is listed under its measure.
    for indicator_id, number in {"kindergarten_nursery_count": 6, "employer_institution_count": 7,
                                 "mch_institution_count": 8, "affordable_place_share": 9,
                                 "caregiver_certified_rate": 10, "staff_trained_rate": 10,
                                 "rural_town_coverage": 4}.items():
        assert indicator_id in by_number[number].indicator_ids


def test_conformance_reference_loads_with_default_targets(tmp_path):
    folder = shutil.copytree(CONFORMANCE_REFERENCE, tmp_path / "conformance")
    ref = load_reference(folder)
    assert (ref.county_code, ref.county_name) == ("379902", "样例县")
    assert ref.towns.height == 6
    assert ref.towns.filter(ref.towns["urban_rural"] == "乡村").height == 4
    # No targets or measures in that folder: the shipped Qingzhou files are used.
    assert ref.targets_file == default_reference_folder() / "targets.toml"
    assert ref.measures_file == default_reference_folder() / "measures.toml"
    assert len(ref.targets) == 13
    # Population is given for 2023 only: 2024 months use 2023, 2022 months have none.
    assert ref.population_year_for(2024) == 2023
    assert ref.population_for(2024)["resident_population"].sum() == 372_009
    assert ref.population_for(2022).height == 0


# ---------------------------------------------------------------- behaviour on valid data


def test_population_year_is_the_same_or_latest_earlier_year(tmp_path):
    population = POPULATION + "2021,379901001,990,27\n2021,379901100,820,20\n"
    ref = load_reference(make_folder(tmp_path, population=population))
    assert ref.population_year_for(2020) is None
    assert ref.population_year_for(2021) == 2021
    assert ref.population_year_for(2022) == 2021
    assert ref.population_year_for(2023) == 2023
    assert ref.population_year_for(2030) == 2023
    assert ref.population_for(2022)["resident_population"].sum() == 990 + 820
    assert set(ref.population_for(2022)["year"]) == {2021}


def test_bom_gb18030_leading_zeros_and_extra_columns_are_read(tmp_path):
    folder = make_folder(tmp_path)
    # areas.csv saved by Excel on a Chinese Windows: GB18030, with an extra 备注 column
    # and a blank line; a code with a leading zero must stay text.
    areas = AREAS.replace("379901100", "079901100").replace("parent_code\n", "parent_code,备注\n") + "\n"
    (folder / "areas.csv").write_bytes(areas.encode("gb18030"))
    (folder / "population.csv").write_bytes(
        ("\ufeff" + POPULATION.replace("379901100", "079901100")).encode("utf-8")  # UTF-8 with BOM
    )
    ref = load_reference(folder)
    assert ref.towns["area_code"].to_list() == ["379901001", "079901100"]
    assert ref.towns["area_name"].to_list() == ["东街道", "西镇"]
    assert ref.population["area_code"].to_list() == ["079901100", "379901001"]
    assert ref.areas.columns == ["area_code", "area_name", "area_type", "urban_rural", "parent_code"]


def test_applies_to_defaults_by_kind_of_indicator(tmp_path):
    # No applies_to written: a rate or per-1,000 figure applies to the county and each 镇街,
    # a count to the county (its total), a county-only rate to the county.
    targets = TARGETS + (
        '[demo_institutions]\nvalue = 1\ncomparison = ">="\ndeadline = "2023-12"\nclause = "二"\n'
        '[town_coverage]\nvalue = 100\ncomparison = "="\ndeadline = "2025-12"\nclause = "二"\n'
        '[filing_rate]\nvalue = 100\ncomparison = "="\ndeadline = "2023-12"\nclause = "13"\n'
        'applies_to = "county"\n'
    )
    ref = load_reference(make_folder(tmp_path, targets=targets))
    assert {t.indicator_id: t.applies_to for t in ref.targets} == {
        "places_per_1000": "county_and_towns",
        "demo_institutions": "county",
        "town_coverage": "county",
        "filing_rate": "county",  # written: the office may judge a rate for the county only
    }


def test_folder_targets_replace_the_defaults(tmp_path):
    # Lead unit omitted: it is taken from the measure the clause names (13 → 市审批服务局).
    targets = '[filing_rate]\nvalue = 100\ncomparison = "="\ndeadline = "2024-06"\nclause = "13"\n'
    ref = load_reference(make_folder(tmp_path, targets=targets))
    assert [(t.indicator_id, t.deadline, t.lead_unit) for t in ref.targets] == [
        ("filing_rate", "2024-06", "市审批服务局")
    ]


def test_write_reference_tables(tmp_path):
    ref = load_reference(shutil.copytree(default_reference_folder(), tmp_path / "qingzhou"))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_reference_tables(con, ref)
    counts = write_reference_tables(con, ref)  # a re-run replaces, never appends
    assert counts == {"areas": 13, "population": 72, "targets": 13, "measures": 17, "quality_parameters": 1}
    for table, rows in counts.items():
        assert con.execute(f"select count(*) from reference.{table}").fetchone()[0] == rows

    types = dict(con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'reference' and table_name = 'targets'"
    ).fetchall())
    assert types == {"indicator_id": "VARCHAR", "target_value": "DOUBLE", "comparison": "VARCHAR",
                     "deadline": "VARCHAR", "clause": "VARCHAR", "lead_unit": "VARCHAR",
                     "note": "VARCHAR", "planned_max": "DOUBLE", "applies_to": "VARCHAR"}
    assert con.execute(
        "select parent_code from reference.areas where area_code = '370781'"
    ).fetchone() == (None,)
    assert con.execute(
        "select out_series_threshold, reporting_deadline_day, reporting_windows from reference.quality_parameters"
    ).fetchone() == (3.5, 10, [1, 3, 12])
    assert con.execute(
        "select sum(resident_population) from reference.population where year = 2023"
    ).fetchone()[0] == ref.population_for(2023)["resident_population"].sum()
    assert con.execute(
        "select planned_max, applies_to from reference.targets where indicator_id = 'demo_institutions'"
    ).fetchone() == (3.0, "county")
    assert con.execute(
        "select applies_to from reference.targets where indicator_id = 'places_per_1000'"
    ).fetchone() == ("county_and_towns",)
    assert con.execute(
        "select measure_no, lead_unit, responsible_units, indicator_ids, coverage_note_zh "
        "from reference.measures where measure_no in (10, 17) order by measure_no"
    ).fetchall() == [
        (10, "市人社局", "市人社局、市教体局", "caregiver_certified_rate,staff_trained_rate",
         "部分反映：可反映保育人员持证和从业人员岗前培训情况；无法反映职后培训和院校专业设置。"),
        (17, "市市场监管局", "市市场监管局", None, "本数据无法反映"),
    ]
    con.close()


def test_indicator_ids_are_the_nineteen_of_the_handbook():
    handbook = (REPO / "docs" / "indicator-handbook.md").read_text(encoding="utf-8")
    table = handbook.split("## Indicators")[1].split("## Target status")[0]
    # The first cell of each row of the indicator table, minus its header row.
    in_handbook = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")][1:]
    assert in_handbook == list(indicator_ids())
    assert len(in_handbook) == 19


# ---------------------------------------------------------------- broken areas.csv


def test_duplicate_area_code(tmp_path):
    # Line 4 repeats the code of 东街道 (line 3).
    areas = AREAS.replace("379901100,西镇", "379901001,西镇")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", 4, "区划代码 379901001 重复", "duplicate area_code 379901001")
    assert str(error) == (
        "参考数据错误：areas.csv 第 4 行：区划代码 379901001 重复（第 3 行已有）。"
        "Reference data error: areas.csv line 4: duplicate area_code 379901001 (already on line 3)."
    )


def test_no_county(tmp_path):
    # The county's row (line 2) is left out, so no row has an empty parent_code.
    areas = AREAS.replace("379901,测试县,县,,\n", "")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", None, "没有县级行", "no county row")


def test_two_counties(tmp_path):
    # Line 3 is a second row with an empty parent_code.
    areas = AREAS.replace("379901001,东街道,街道,城镇,379901", "379902,另一县,县,,")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", 3, "有两个县级行", "two county rows")


def test_town_whose_parent_is_not_the_county(tmp_path):
    # Line 4: 西镇 hangs under 379999, which is not the county.
    areas = AREAS.replace("乡村,379901", "乡村,379999")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", 4, "上级代码 379999 不是本县代码 379901",
                 "parent_code 379999 of 379901100 is not the county 379901")


def test_bad_area_type(tmp_path):
    # Line 4: 村 is not a 镇街 type.
    areas = AREAS.replace("西镇,镇,", "西镇,村,")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", 4, "区划类型“村”无效", "invalid area_type '村'")


def test_bad_urban_rural(tmp_path):
    # Line 3: 城市 is not 城镇 or 乡村.
    areas = AREAS.replace("街道,城镇", "街道,城市")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", 3, "城乡属性“城市”无效", "invalid urban_rural '城市'")


def test_area_code_not_digits(tmp_path):
    # Line 3: a letter O typed for a zero.
    areas = AREAS.replace("379901001,东街道", "3799O1001,东街道")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", 3, "区划代码 3799O1001 不是数字", "area_code 3799O1001 is not all digits")


def test_missing_area_columns(tmp_path):
    # The header lacks urban_rural (and every row lacks its cell).
    areas = AREAS.replace(",urban_rural", "").replace(",城镇", "").replace(",乡村", "")
    error = load_error(make_folder(tmp_path, areas=areas))
    assert_names(error, "areas.csv", 1, "缺少列 urban_rural", "missing column(s) urban_rural")


def test_missing_areas_file(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "areas.csv").unlink()
    error = load_error(folder)
    assert_names(error, "areas.csv", None, "中没有此文件", "the file is missing")


# ---------------------------------------------------------------- broken population.csv


def test_non_numeric_population(tmp_path):
    # Line 3: 八百 is not a number.
    population = POPULATION.replace("2023,379901100,800,", "2023,379901100,八百,")
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 3, "resident_population 不是整数：“八百”",
                 "resident_population is not a whole number: '八百'")


def test_negative_population(tmp_path):
    # Line 2: a negative under-3 count.
    population = POPULATION.replace("1000,25", "1000,-25")
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 2, "population_under3 为负数：-25",
                 "population_under3 is negative: -25")


def test_under3_above_residents(tmp_path):
    # Line 3: more children under 3 than residents (columns swapped).
    population = POPULATION.replace("800,18", "18,800")
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 3, "3岁以下人口 800 大于常住人口 18",
                 "population_under3 800 exceeds resident_population 18")


def test_population_for_unknown_area(tmp_path):
    # Line 4: 379901999 is not in areas.csv.
    population = POPULATION + "2023,379901999,500,10\n"
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 4, "区划代码 379901999 不是 areas.csv 中的镇街",
                 "area_code 379901999 is not a 镇街 of areas.csv")


def test_population_for_the_county_itself(tmp_path):
    # Line 4: a county total, which would be counted twice.
    population = POPULATION + "2023,379901,1800,43\n"
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 4, "379901 是县级代码", "379901 is the county")


def test_duplicate_population_row(tmp_path):
    # Line 4 repeats 东街道 2023 (line 2).
    population = POPULATION + "2023,379901001,1001,25\n"
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 4, "2023 年 379901001 的人口重复（第 2 行已有）",
                 "duplicate population for 379901001 in 2023 (already on line 2)")


def test_town_without_population(tmp_path):
    # 西镇 has no row in any year.
    population = POPULATION.replace("2023,379901100,800,18\n", "")
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", None, "镇街 379901100（西镇）在任何年份都没有人口数",
                 "镇街 379901100 (西镇) has no population in any year")


def test_year_missing_a_town(tmp_path):
    # 2022 (from line 4) lists 东街道 but not 西镇.
    population = POPULATION + "2022,379901001,990,26\n"
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 4, "2022 年缺少镇街 379901100", "year 2022 lacks 镇街 379901100")


def test_missing_population_columns(tmp_path):
    # The header spells population_under3 as under3.
    population = POPULATION.replace("population_under3", "under3")
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 1, "缺少列 population_under3", "missing column(s) population_under3")


def test_population_file_not_utf8(tmp_path):
    # Line 2 holds a byte that neither UTF-8 nor GB18030 can decode.
    folder = make_folder(tmp_path)
    (folder / "population.csv").write_bytes(POPULATION.replace("2023,379901001", "2023,\xff").encode("latin-1"))
    error = load_error(folder)
    assert_names(error, "population.csv", 2, "不是 UTF-8 编码", "not UTF-8")


# ---------------------------------------------------------------- broken targets.toml / measures.toml


def test_unknown_indicator_id(tmp_path):
    # Line 2: the table name is misspelt.
    targets = TARGETS.replace("[places_per_1000]", "[places_per_thousand]")
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 2, "未知的指标编号“places_per_thousand”",
                 "unknown indicator id 'places_per_thousand'")


def test_bad_comparison(tmp_path):
    # Line 4: <= is not allowed.
    targets = TARGETS.replace('comparison = ">="', 'comparison = "<="')
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 4, "比较方式 comparison 应为", "comparison must be \">=\" or \"=\", not '<='")


def test_bad_deadline(tmp_path):
    # Line 5: a month 13.
    targets = TARGETS.replace('"2025-12"', '"2025-13"')
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 5, "期限 deadline 应为 \"YYYY-MM\"", "deadline must be \"YYYY-MM\", not '2025-13'")


def test_value_not_a_number(tmp_path):
    # Line 3: the value is quoted, so it is text.
    targets = TARGETS.replace("value = 4.5", 'value = "4.5"')
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 3, "目标值 value 不是数字：'4.5'", "value is not a number: '4.5'")


def test_unknown_target_key(tmp_path):
    # Line 5: deadline misspelt, which would otherwise silently drop the deadline.
    targets = TARGETS.replace("deadline =", "dead_line =")
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 5, "未知的键“dead_line”", "unknown key 'dead_line'")


def test_bad_applies_to(tmp_path):
    # Line 8: "towns" is neither of the two values.
    targets = TARGETS + 'applies_to = "towns"\n'
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 8, "适用范围 applies_to 应为 \"county\"",
                 "applies_to must be \"county\" or \"county_and_towns\", not 'towns'")


def test_towns_target_for_a_county_only_indicator(tmp_path):
    # Line 6: town_coverage has a county figure only, so there is no 镇街 row to judge.
    targets = ('[town_coverage]\nvalue = 100\ncomparison = "="\ndeadline = "2025-12"\nclause = "二"\n'
               'applies_to = "county_and_towns"\n')
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 6, "town_coverage 只有全县数值",
                 "town_coverage has a county figure only, so applies_to must be \"county\"")


def test_toml_syntax_error(tmp_path):
    # Line 3: the value is missing.
    targets = TARGETS.replace("value = 4.5", "value =")
    error = load_error(make_folder(tmp_path, targets=targets))
    assert_names(error, "targets.toml", 3, "TOML 格式错误", "TOML syntax error")


def test_measure_with_unknown_indicator(tmp_path):
    # Line 6: enrolment_rate is misspelt.
    measures = ('[[measure]]\nnumber = 1\ntitle = "保障家庭权益"\nunits = ["市人社局"]\n\n'
                'indicators = ["enrolment_rate"]\n')
    error = load_error(make_folder(tmp_path, measures=measures))
    assert_names(error, "measures.toml", 6, "未知的指标编号“enrolment_rate”", "unknown indicator id 'enrolment_rate'")
