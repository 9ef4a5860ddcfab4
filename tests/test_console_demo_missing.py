"""`tuoyu --demo <command>` before the demo was made says to make it (`tuoyu demo`), not to
"add --demo", which was already given; nothing is created."""

from __future__ import annotations

import os

import pytest

from pipeline.commands import cli


@pytest.fixture
def no_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("TUOYU_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(cli, "DEMO_DIR", tmp_path / "demo")
    return tmp_path / "demo"


@pytest.mark.parametrize("command", [["status"], ["export-bundle"], ["run"], ["fix"], ["report"]])
def test_the_demo_not_made_yet_says_to_make_it(no_demo, capsys, command):
    assert cli.main(["--demo", *command]) == 2
    err = capsys.readouterr().err
    assert "还没有演示数据" in err and "请先运行 tuoyu demo" in err
    assert "请在命令前加 --demo" not in err
    assert not no_demo.exists()


def test_the_list_of_examples_needs_no_demo(no_demo, capsys):
    assert cli.main(["--demo", "sql", "--examples"]) == 0
