"""The follow-up of the data-quality flags: `tuoyu quality list` and `tuoyu quality confirm`
(pipeline/marts/quality.py), on a small hand-made warehouse (tests/quality_fixtures.py).

The warehouse: P1 (甲街道, named “P1托育园” by the indicator fixtures) with 100 places in
2024-01…04 and 1000 in 2024-05 (typed for 100), B0 (乙镇) 50 places every month.
2024-05: P1's H = [100, 100, 100, 100]: med 100, MAD 0, MAD* = max(0, 10, 2) = 10,
z = 0.6745 × 900 ÷ 10 = 60.7 > 3.5: one OUT-SERIES flag, expected 100 ∓ 3.5 × 10 ÷ 0.6745
= 48.1–151.9; 甲街道 and the county jump too (places 1000 against 100, and 1050 against 150).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from pipeline.commands import cli
from pipeline.marts.quality import (UnknownFlag, confirm_flag, expected_text, flag_counts, format_flags,
                                    read_flags)
from pipeline.period import months_between
from tests.indicator_fixtures import COUNTY, TOWN_A, TOWN_B
from tests.quality_fixtures import QualityWarehouse

KEY = "OUT-SERIES/2024-05/P1/places/1000"


def _build(path):
    w = QualityWarehouse(path)
    for period in months_between("2024-01", "2024-05"):
        w.files(period, "institutions")
        w.institution(period, "P1", TOWN_A, places=1000 if period == "2024-05" else 100)
        w.institution(period, "B0", TOWN_B, places=50)
    w.build()
    return w


@pytest.fixture
def w(tmp_path):
    warehouse = _build(tmp_path / "warehouse.duckdb")
    yield warehouse
    warehouse.close()


def test_open_flags_with_names_and_ranges(w):
    flags = read_flags(w.con)
    assert [(f["check_id"], f["institution_id"] or f["area_code"], f["measure"]) for f in flags] == [
        ("OUT-SERIES", "P1", "places"),
        ("AREA-JUMP", COUNTY, "places"),
        ("AREA-JUMP", TOWN_A, "places"),
    ]
    out_series = flags[0]
    assert out_series["institution_name"] == "P1托育园"
    assert expected_text(out_series) == "48.1–151.9"
    assert not out_series["confirmed"]
    assert read_flags(w.con, "2024-04") == []


def test_confirm_shows_the_flag_as_checked_and_survives_a_rebuild(w):
    flag, before = confirm_flag(w.con, KEY, "机构扩建，已电话核实", now=datetime(2024, 6, 3, 9, 30))
    assert before is False and flag["note"] == "机构扩建，已电话核实"
    # Open flags no longer list it; --all shows it as 已核实 with its note.
    assert KEY not in {f["flag_key"] for f in read_flags(w.con)}
    listed = {f["flag_key"]: f for f in read_flags(w.con, include_confirmed=True)}
    assert listed[KEY]["confirmed"] and listed[KEY]["note"] == "机构扩建，已电话核实"
    assert "已核实：机构扩建，已电话核实" in format_flags(list(listed.values()), None, True)
    # The mart shows it at once, and after the next build.
    assert w.flag("OUT-SERIES", "2024-05", "P1", "places")["confirmed"] is True
    w.build()
    assert w.flag("OUT-SERIES", "2024-05", "P1", "places")["confirmed"] is True
    assert flag_counts(w.con)["2024-05"].open == 2 and flag_counts(w.con)["2024-05"].confirmed == 1
    # Confirming again replaces the note.
    _, before = confirm_flag(w.con, KEY, "复核：机构扩建属实")
    assert before is True
    assert w.query("select note from audit.quality_confirmations") == [("复核：机构扩建属实",)]


def test_an_unknown_key_says_how_to_find_keys(w):
    with pytest.raises(UnknownFlag) as caught:
        confirm_flag(w.con, "OUT-SERIES/2024-05/P1/places/100", "已核实")
    assert "没有提示键为“OUT-SERIES/2024-05/P1/places/100”的数据核查提示" in str(caught.value)
    assert "tuoyu quality list" in str(caught.value)
    with pytest.raises(ValueError, match="--note"):
        confirm_flag(w.con, KEY, "  ")
    assert w.query("select count(*) from audit.quality_confirmations") == [(0,)]


def test_the_commands(tmp_path, monkeypatch, capsys):
    path = tmp_path / "warehouse.duckdb"
    _build(path).close()
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(path))
    monkeypatch.setenv("TUOYU_LOCK_WAIT", "0")

    assert cli.main(["quality", "list", "--period", "2024-05"]) == 0
    out = capsys.readouterr().out
    assert "2024-05 待核实的数据核查提示（3 条）" in out and KEY in out and "机构数字异常" in out

    assert cli.main(["quality", "confirm", "NO/SUCH/KEY", "--note", "已核实"]) == 2
    err = capsys.readouterr().err
    assert "没有提示键为“NO/SUCH/KEY”" in err and "tuoyu quality list" in err

    assert cli.main(["quality", "confirm", KEY, "--note", "机构扩建，已电话核实"]) == 0
    assert "已记录为“已核实”" in capsys.readouterr().out

    assert cli.main(["quality", "list"]) == 0
    assert KEY not in capsys.readouterr().out
    assert cli.main(["quality", "list", "--all"]) == 0
    assert "已核实：机构扩建，已电话核实" in capsys.readouterr().out


def test_the_asset_checks_count_open_flags_and_preview_them(w):
    from pipeline.marts.quality import CHECK_IDS, open_flags_of_check

    passed, metadata, description = open_flags_of_check(w.con, "OUT-SERIES")
    assert passed is False and description.startswith("数据核查“机构数字异常”有 1 条提示待核实（最近为 2024-05，1 条）")
    assert "：" not in description  # the run summary reads "  path：reason" lines as rejected files
    assert (metadata["open_flags"], metadata["confirmed_flags"], metadata["latest_month"]) == (1, 0, "2024-05")
    assert metadata["preview"] == [{"period": "2024-05", "institution_or_area": "P1", "measure": "places",
                                    "value": "1000", "expected": "48.1–151.9", "flag_key": KEY}]
    assert open_flags_of_check(w.con, "AREA-JUMP")[1]["open_flags"] == 2
    assert open_flags_of_check(w.con, "CON-VANISHED") == (True, {
        "open_flags": 0, "confirmed_flags": 0, "months_with_open_flags": 0, "latest_month": "—",
        "open_in_latest_month": 0, "preview": []}, None)
    confirm_flag(w.con, KEY, "机构扩建")
    passed, metadata, description = open_flags_of_check(w.con, "OUT-SERIES")
    assert passed and description is None and (metadata["open_flags"], metadata["confirmed_flags"]) == (0, 1)
    assert len(CHECK_IDS) == 5


def test_one_non_blocking_dagster_check_per_check_id():
    from pipeline.orchestration.assets.quality import quality_flag_checks

    specs = list(quality_flag_checks.check_specs)
    assert sorted(s.name for s in specs) == ["quality_area_jump", "quality_no_caregiver", "quality_out_series",
                                            "quality_over_capacity", "quality_vanished"]
    assert all(not s.blocking and s.asset_key.path == ["marts", "quality_flags"] for s in specs)


def test_the_commands_without_a_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "none" / "warehouse.duckdb"))
    assert cli.main(["quality", "list"]) == 1
    assert "还不存在：请先运行 tuoyu run" in capsys.readouterr().err


def test_no_flags_is_said_in_chinese_only():
    assert format_flags([], "2024-06", False) == "2024-06 没有待核实的数据核查提示。"
    assert format_flags([], None, True) == "没有数据核查提示。"
