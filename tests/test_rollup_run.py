"""`tuoyu run` with TUOYU_REFERENCE at a prefecture folder (docs/rollup.md): receives the
bundles, builds the prefecture's figures and says so in Chinese; no pseudonym key needed;
a second run with nothing new says nothing is new."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from pipeline.commands import cli
from tests.rollup_fixtures import county_bundle, made, prefecture_folder


@pytest.fixture
def prefecture_office(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    for name in [k for k in os.environ if k.startswith("TUOYU_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("TUOYU_REFERENCE", str(prefecture_folder(tmp_path)))
    monkeypatch.setenv("TUOYU_INBOX", str(inbox))
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "warehouse" / "warehouse.duckdb"))
    monkeypatch.setenv("TUOYU_REPORTS", str(tmp_path / "reports"))
    return tmp_path


def test_run_on_a_prefecture_folder_receives_builds_and_says_so(prefecture_office, capsys):
    inbox = prefecture_office / "inbox"
    county_bundle(inbox, "990101", {"2024-06": {"filing_rate": (8, 10)}, "2024-07": {"filing_rate": (9, 10)}},
                  made_at=made(1))
    county_bundle(inbox, "990102", {"2024-06": {"filing_rate": (2, 10)}}, made_at=made(1))
    (inbox / "坏包.zip").write_bytes(b"not a zip")

    assert cli.main(["run"]) == 0  # no TUOYU_PSEUDONYM_KEY, no TUOYU_DEMO: none is needed
    out = capsys.readouterr().out
    assert "地市汇总完成：测试市（990100），共 3 个县级区划。" in out
    assert "本次收到汇总包 3 个：启用 2 个，旧版本未使用 0 个，与此前相同 0 个，拒收 1 个。" in out
    assert "坏包.zip：汇总包 坏包.zip 无法使用：不是完整的 zip 压缩包" in out
    assert "尚未收到汇总包的县（1 个）：丙区（990103）" in out
    assert "月份：2024-06 至 2024-07，共 2 个月。" in out
    assert "乙市：缺 2024-07" in out
    assert "Traceback" not in out
    # the run's log file, as a county's: its path is the summary's last line, the summary inside
    log_line = out.strip().splitlines()[-1]
    assert log_line.startswith("运行日志：")
    log_text = Path(log_line.removeprefix("运行日志：")).read_text(encoding="utf-8")
    assert "rollup run cli-" in log_text and "地市汇总完成：测试市（990100）" in log_text

    con = duckdb.connect(str(prefecture_office / "warehouse" / "warehouse.duckdb"), read_only=True)
    # 丙区 has no bundle: with the default share (every county) the prefecture has no June value
    assert con.execute("select value from marts.indicator_values where indicator_id = 'filing_rate' "
                       "and period = '2024-06' and area_code = '990101'").fetchone()[0] == pytest.approx(80.0)
    assert con.execute("select status from marts.indicator_values where indicator_id = 'filing_rate' "
                       "and period = '2024-06' and area_code = '990100'").fetchone()[0] == "no_data"
    assert con.execute("select count(*) from audit.runs where success").fetchone()[0] == 1
    con.close()

    assert cli.main(["run"]) == 0
    out = capsys.readouterr().out
    assert "没有新的汇总包。全市数据已是最新，未重新计算。" in out
    assert "本次收到" not in out and "拒收的汇总包" not in out


def test_run_on_a_bad_prefecture_folder_names_the_file_and_line(prefecture_office, capsys):
    (prefecture_office / "prefecture" / "rollup.toml").write_text("min_county_share = 2\n", encoding="utf-8")
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "无法运行：参考数据错误：rollup.toml 第 1 行：min_county_share 应为大于 0" in err
    assert not (prefecture_office / "warehouse" / "warehouse.duckdb").exists()
