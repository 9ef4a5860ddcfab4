"""The office's other commands on a prefecture's reference folder (docs/rollup.md): `tuoyu
sql` reads the prefecture's published copy; a county's commands (fix, export-bundle, …)
say in Chinese that they are a county's, with exit code 2 and no traceback."""

from __future__ import annotations

import pytest

from pipeline.commands import cli
from tests.rollup_fixtures import county_bundle, made
from tests.test_rollup_run import prefecture_office  # noqa: F401  (fixture)


@pytest.fixture
def built(prefecture_office):  # noqa: F811
    inbox = prefecture_office / "inbox"
    for code in ("990101", "990102", "990103"):
        county_bundle(inbox, code, {"2024-06": {"filing_rate": (8, 10)}}, made_at=made(1))
    assert cli.main(["run"]) == 0
    return prefecture_office


def test_sql_reads_the_prefectures_published_copy(built, capsys):
    capsys.readouterr()
    assert cli.main(["sql", "select 区划代码, 数值 from marts.indicator_values_zh "
                            "where 指标 = 'filing_rate' and 区划代码 = '990100'"]) == 0
    assert "990100" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["fix"], ["export-bundle"], ["withdraw", "托育机构", "2024-06"],
                                     ["quality", "list"], ["check", "x.csv"], ["template"]])
def test_a_countys_command_on_a_prefecture_says_so(built, capsys, command):
    capsys.readouterr()
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert f"tuoyu {command[0]} 只用于县（市、区）的数据" in err and "地市汇总可用的命令" in err
    assert "Traceback" not in err and "Error" not in err


def test_a_countys_example_query_on_a_prefecture_points_at_its_own_tables(built, capsys):
    capsys.readouterr()
    assert cli.main(["sql", "--example", "places_per_1000_by_town"]) == 2
    err = capsys.readouterr().err
    assert "地市汇总没有这些表" in err and "marts.indicator_values_zh" in err
    assert "Catalog Error" not in err and "Traceback" not in err


def test_status_on_a_prefecture_lists_the_counties_bundles(built, capsys):
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "各县汇总包（地市汇总）" in out and "汇总包-990101-甲县" in out
    assert "托育机构" not in out  # not a county's three extracts, "missing"
    assert "最近一次运行" in out and "地市汇总完成" in out


def test_where_on_a_prefecture_names_it_and_needs_no_key(prefecture_office, capsys):  # noqa: F811
    assert cli.main(["where"]) == 0
    out = capsys.readouterr().out
    assert "地市：990100 测试市，下级 3 个县级区划" in out and "假名化密钥：地市汇总不需要" in out
    assert "无法读取" not in out and "请设置 TUOYU_PSEUDONYM_KEY" not in out


def test_a_countys_run_on_the_prefectures_warehouse_is_refused_and_writes_nothing(built, monkeypatch, capsys):
    from pipeline.reference import default_reference_folder

    warehouse = built / "warehouse" / "warehouse.duckdb"
    before = warehouse.read_bytes()
    monkeypatch.setenv("TUOYU_REFERENCE", str(default_reference_folder()))  # a county's, same warehouse
    monkeypatch.setenv("TUOYU_PSEUDONYM_KEY", "k3y-for-the-tests-0123456789abcdefghijkl")
    (built / "inbox" / "托育机构_2024-06.csv").write_text("机构编码\nJG0001\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "是地市汇总的数据仓库" in err and "TUOYU_REFERENCE" in err and "Traceback" not in err
    assert warehouse.read_bytes() == before
