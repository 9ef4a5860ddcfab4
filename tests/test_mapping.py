"""A county's own wording (mapping.toml in the reference folder, extract-format.md §1):
validated with file and line, applied after NFKC and trimming and before the rules, and
counted in the load log."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipeline.ingest.extracts.read import read_extract
from pipeline.ingest.load import ingest_inbox
from pipeline.reference import ReferenceDataError, default_reference_folder, load_reference
from tests.conftest import REPO, TEST_KEY
from tests.extract_fixtures import ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row, write_csv
from tests.test_reference import make_folder

# Line numbers matter: the error tests replace one line and expect its number.
MAPPING = """\
# 本县用语对照
[institutions.headers]
"核定托位" = "核定托位数"
"托育机构名称" = "机构名称"

[institutions.values."运营状态"]
"营业中" = "正常运营"

[institutions.values."视频监控全覆盖"]
"有" = "是"

[enrollment.values."班型"]
"乳儿班(6-12个月)" = "乳儿班"
"""


def _load(tmp_path, mapping: str = MAPPING):
    return load_reference(make_folder(tmp_path, mapping=mapping))


def _error(tmp_path, mapping: str) -> ReferenceDataError:
    with pytest.raises(ReferenceDataError) as caught:
        _load(tmp_path, mapping)
    return caught.value


def test_a_folder_without_mapping_still_takes_town_names(tmp_path):
    ref = load_reference(make_folder(tmp_path))
    assert ref.mapping_file is None
    assert ref.wording.value_maps("institutions") == {"area_code": {"东街道": "379901001", "西镇": "379901100"}}


def test_mapping_is_read_with_normalised_keys(tmp_path):
    ref = _load(tmp_path, MAPPING.replace('"乳儿班(6-12个月)"', '"乳儿班（６-12个月） "'))  # full-width, a space
    assert ref.wording.header_aliases("institutions") == {"核定托位": "places", "托育机构名称": "name"}
    assert ref.wording.value_maps("enrollment") == {"class_type": {"乳儿班(6-12个月)": "乳儿班"}}
    assert ref.wording.value_maps("institutions")["operating_status"] == {"营业中": "正常运营"}


@pytest.mark.parametrize("line, text, words", [
    (3, '"核定托位" = "托位数"', ["托位数", "不是托育机构报表的表头"]),
    (7, '"营业中" = "营业"', ["营业", "不是“运营状态”的规定取值"]),
    (10, '"有" = "有的"', ["有的", "不是“视频监控全覆盖”的规定取值"]),  # a flag takes 是/否 and their forms
    (7, '"暂停运营" = "正常运营"', ["暂停运营", "本身就是规定"]),
    (4, '"机构编号" = "机构名称"', ["机构编号", "本身就是规定"]),
    (1, '[nurseries.headers]', ["nurseries", "未知的报表类别"]),
    (9, '[institutions.values."登记日期"]', ["登记日期", "没有固定范围"]),
])
def test_a_bad_mapping_names_file_and_line(tmp_path, line, text, words):
    lines = MAPPING.split("\n")
    lines[line - 1] = text
    err = _error(tmp_path, "\n".join(lines))
    assert err.file == "mapping.toml" and err.line == line, str(err)
    for word in words:
        assert word in str(err)


def test_one_text_mapped_to_two_targets_after_normalisation(tmp_path):
    mapping = MAPPING + '"乳儿班（6-12个月）" = "托小班"\n'  # line 14: the same text written full-width
    err = _error(tmp_path, mapping)
    assert (err.file, err.line) == ("mapping.toml", 14)
    assert "两个不同" in str(err) and "乳儿班" in str(err)


def test_a_town_name_mapped_to_another_town(tmp_path):
    err = _error(tmp_path, MAPPING + '[institutions.values."所在镇街代码"]\n"东街道" = "379901100"\n')
    assert (err.file, err.line) == ("mapping.toml", 15)
    (tmp_path / "b").mkdir()
    err = _error(tmp_path / "b", MAPPING + '[institutions.values."所在镇街代码"]\n"城关" = "379901999"\n')
    assert err.line == 15 and "379901999" in str(err)


def test_mappings_apply_before_the_rules_and_are_counted(tmp_path):
    ref = _load(tmp_path)
    header = ["托育机构名称" if h == "机构名称" else "核定托位" if h == "核定托位数" else h for h in INSTITUTION_HEADER]
    rows = [institution_row(iid="JG01", area="东街道", 运营状态="营业中", 视频监控全覆盖="有"),
            institution_row(iid="JG02", area=" 西镇 ", 运营状态="营业中"),
            institution_row(iid="JG03", area="379901100")]
    path = write_csv(tmp_path / "托育机构_2023-06.csv", header, rows)
    table = read_extract(path, "institutions", "csv", path.name, ref.wording)
    assert table.rows["area_code"].to_list() == ["379901001", "379901100", "379901100"]
    assert table.rows["operating_status"].to_list() == ["正常运营"] * 3
    assert table.rows["cctv_full_coverage"].to_list() == ["是"] * 3
    assert table.rows["name"].to_list() == ["JG01托育园", "JG02托育园", "JG03托育园"]
    assert table.extra_headers == []
    assert table.wording_used == [
        "表头“托育机构名称”→“机构名称”", "表头“核定托位”→“核定托位数”",
        "所在镇街代码“东街道”→“379901001” 1 处", "所在镇街代码“西镇”→“379901100” 1 处",
        "视频监控全覆盖“有”→“是” 1 处", "运营状态“营业中”→“正常运营” 2 处",
    ]


def test_without_the_mapping_the_same_file_is_rejected(tmp_path):
    header = ["核定托位" if h == "核定托位数" else h for h in INSTITUTION_HEADER]
    path = write_csv(tmp_path / "托育机构_2023-06.csv", header, [institution_row()])
    with pytest.raises(Exception) as err:
        read_extract(path, "institutions", "csv", path.name)
    assert "核定托位数" in str(err.value)


def test_the_load_log_records_the_mappings_used(tmp_path):
    ref = _load(tmp_path)
    inbox = tmp_path / "inbox"
    rows = [child_row(iid="JG01", cls="乳儿班（6-12个月）"), child_row(iid="JG01", cls="乳儿班(6-12个月) ", name="王小红",
                                                                  number=None, birth="2022-09-01")]
    write_csv(inbox / "在托幼儿_2023-06.csv", ENROLLMENT_HEADER, rows)
    write_csv(inbox / "托育机构_2023-06.csv", INSTITUTION_HEADER, [institution_row(iid="JG01", area="东街道")])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY, this_month="2024-01", wording=ref.wording)
    log = dict(con.execute("select file_path, message from audit.load_log").fetchall())
    assert "按本县用语对照（mapping.toml）转换：班型“乳儿班(6-12个月)”→“乳儿班” 2 处" in log["在托幼儿_2023-06.csv"]
    assert "所在镇街代码“东街道”→“379901001” 1 处" in log["托育机构_2023-06.csv"]
    assert con.execute("select distinct class_type from staging.enrollment").fetchall() == [("乳儿班",)]
    assert con.execute("select area_code from staging.institutions").fetchall() == [("379901001",)]


def test_the_shipped_example_loads_for_the_shipped_county(tmp_path):
    folder = shutil.copytree(default_reference_folder(), tmp_path / "qingzhou")
    shutil.copy(REPO / "docs" / "mapping.example.toml", folder / "mapping.toml")
    ref = load_reference(folder)
    assert ref.wording.header_aliases("institutions")["托育机构名称"] == "name"
    assert ref.wording.value_maps("institutions")["area_code"]["王府"] == "370781001"
    assert ref.wording.value_maps("institutions")["area_code"]["王府街道"] == "370781001"  # names: without a mapping
