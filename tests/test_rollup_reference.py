"""A prefecture's reference folder (docs/rollup.md §2): its children are county-level
divisions, it has no population file, and its rollup.toml holds min_county_share. Each
defect stops with a Chinese message naming the file and, where there is one, the line."""

from pathlib import Path

import duckdb
import pytest

from pipeline.reference import (
    ReferenceDataError,
    default_reference_folder,
    load_prefecture_reference,
    load_reference,
    reference_kind,
    write_prefecture_reference_tables,
)

WEIFANG = Path(__file__).resolve().parents[1] / "pipeline" / "reference" / "weifang"

# Line 1 is the header: 甲县 is line 3, 乙市 line 4, 丙区 line 5.
AREAS = """\
area_code,area_name,area_type,urban_rural,parent_code
990100,测试市,地级市,,
990101,甲县,县,,990100
990102,乙市,县级市,,990100
990103,丙区,区,,990100
"""


def prefecture_folder(tmp_path: Path, areas: str = AREAS) -> Path:
    folder = tmp_path / "prefecture"
    folder.mkdir()
    (folder / "areas.csv").write_text(areas, encoding="utf-8")
    return folder


def error_of(folder: Path) -> ReferenceDataError:
    with pytest.raises(ReferenceDataError) as caught:
        load_prefecture_reference(folder)
    return caught.value


def test_the_shipped_weifang_folder_is_a_prefecture_of_twelve_counties():
    assert reference_kind(WEIFANG) == "prefecture"
    ref = load_prefecture_reference(WEIFANG)
    assert (ref.prefecture_code, ref.prefecture_name) == ("370700", "潍坊市")
    assert len(ref.county_codes) == 12 and "370781" in ref.county_codes
    assert ref.county_name("370781") == "青州市"
    assert ref.min_county_share == 1.0
    assert ref.targets  # the shipped defaults
    assert ref.counties.get_column("urban_rural").null_count() == 12


def test_a_county_folder_is_a_county():
    assert reference_kind(default_reference_folder()) == "county"


def test_a_small_prefecture_with_defaults(tmp_path):
    ref = load_prefecture_reference(prefecture_folder(tmp_path))
    assert ref.county_codes == ("990101", "990102", "990103")
    assert ref.min_county_share == 1.0 and ref.rollup_file is None
    con = duckdb.connect()
    counts = write_prefecture_reference_tables(con, ref)
    assert counts["areas"] == 4
    assert con.execute("select count(*) from reference.areas where parent_code = '990100'").fetchone()[0] == 3
    assert con.execute("select count(*) from reference.targets").fetchone()[0] == len(ref.targets)


def test_mixed_children_name_the_file_and_line(tmp_path):
    areas = AREAS + "990100001,某街道,街道,城镇,990100\n"  # line 6
    folder = prefecture_folder(tmp_path, areas)
    with pytest.raises(ReferenceDataError) as caught:
        reference_kind(folder)
    message = str(caught.value)
    assert "areas.csv 第 6 行" in message and "不能既有县级区划" in message
    assert "第 6 行" in str(error_of(folder))


def test_a_county_loader_given_a_prefecture_folder_says_so(tmp_path):
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(prefecture_folder(tmp_path))
    assert "这是地市的参考数据" in str(caught.value)


def test_a_county_row_with_urban_rural_is_refused(tmp_path):
    folder = prefecture_folder(tmp_path, AREAS.replace("990102,乙市,县级市,,", "990102,乙市,县级市,城镇,"))
    error = error_of(folder)
    assert error.file == "areas.csv" and error.line == 4 and "城乡属性应为空" in str(error)


def test_a_population_file_is_refused(tmp_path):
    folder = prefecture_folder(tmp_path)
    (folder / "population.csv").write_text("year,area_code,resident_population,population_under3\n", encoding="utf-8")
    error = error_of(folder)
    assert error.file == "population.csv" and "不使用人口文件" in str(error)


@pytest.mark.parametrize("text, line", [
    ("# a comment\nmin_county_share = 0\n", 2),
    ("min_county_share = 1.5\n", 1),
    ("min_county_share = \"all\"\n", 1),
    ("min_county_share = true\n", 1),
])
def test_a_bad_min_county_share_names_the_line(tmp_path, text, line):
    folder = prefecture_folder(tmp_path)
    (folder / "rollup.toml").write_text(text, encoding="utf-8")
    error = error_of(folder)
    assert error.file == "rollup.toml" and error.line == line and "min_county_share 应为大于 0" in str(error)


def test_an_unknown_key_of_rollup_toml_is_refused(tmp_path):
    folder = prefecture_folder(tmp_path)
    (folder / "rollup.toml").write_text("min_county_share = 0.6\nmin_share = 0.5\n", encoding="utf-8")
    error = error_of(folder)
    assert error.line == 2 and "未知的键“min_share”" in str(error)


def test_min_county_share_is_read(tmp_path):
    folder = prefecture_folder(tmp_path)
    (folder / "rollup.toml").write_text("min_county_share = 0.6\n", encoding="utf-8")
    assert load_prefecture_reference(folder).min_county_share == 0.6


def test_a_county_only_indicator_may_be_judged_for_each_county(tmp_path):
    """town_coverage is level C in a county (no 镇街 value); a prefecture's counties each have one."""
    folder = prefecture_folder(tmp_path)
    (folder / "targets.toml").write_text(
        '[town_coverage]\nvalue = 100\ncomparison = ">="\ndeadline = "2025-12"\nclause = "二"\n'
        'applies_to = "county_and_towns"\n', encoding="utf-8")
    (target,) = load_prefecture_reference(folder).targets
    assert target.applies_to == "county_and_towns"


def test_ranked_is_read_in_order_and_written_to_the_warehouse(tmp_path):
    from pipeline.reference.load import DEFAULT_RANKED

    assert load_prefecture_reference(prefecture_folder(tmp_path)).ranked == DEFAULT_RANKED  # no rollup.toml
    (tmp_path / "b").mkdir()
    folder = prefecture_folder(tmp_path / "b")
    (folder / "rollup.toml").write_text('ranked = ["filing_rate", "places_per_1000"]\n', encoding="utf-8")
    ref = load_prefecture_reference(folder)
    assert ref.ranked == ("filing_rate", "places_per_1000") and ref.min_county_share == 1.0
    con = duckdb.connect()
    write_prefecture_reference_tables(con, ref)
    assert con.execute("select rank_no, indicator_id from reference.ranked_indicators order by 1").fetchall() == [
        (1, "filing_rate"), (2, "places_per_1000")]


@pytest.mark.parametrize("text, line, words", [
    ('min_county_share = 1\nranked = ["places_per_1000", "places_per_thousand"]\n', 2,
     "ranked 中的 places_per_thousand 不是指标编号"),                       # a misspelt id
    ('ranked = "places_per_1000"\n', 1, "ranked 应为指标编号的列表"),          # a string, not a list
    ('ranked = ["filing_rate", "filing_rate"]\n', 1, "ranked 中的 filing_rate 重复出现"),
])
def test_a_bad_ranked_list_names_the_line(tmp_path, text, line, words):
    folder = prefecture_folder(tmp_path)
    (folder / "rollup.toml").write_text(text, encoding="utf-8")
    error = error_of(folder)
    assert error.file == "rollup.toml" and error.line == line and words in str(error)
