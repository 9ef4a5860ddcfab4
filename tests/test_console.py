"""The clerk's console: `tuoyu` from any folder, Chinese usage errors and no traceback on ordinary
mistakes, nothing created before the first run, months in any form, the demo's folders, one key
per warehouse, file names explained, and `tuoyu fix` for a clerk."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipeline.commands import cli
from pipeline.commands.console import usage_error_zh
from pipeline.ingest.extracts.files import recognise
from pipeline.ingest.extracts.names import explain_name
from pipeline.period import parse_period
from pipeline.settings import DEMO_DIR, DEMO_KEY, Settings
from pipeline.warehouse.key_guard import KeyMismatch, check_key, fingerprint
from tests.conftest import REPO

KEY = "5f0c9a1e7b3d42c8a6e1f0b9d2c7a4e3-office"
OTHER_KEY = "9d2c7a4e35f0c9a1e7b3d42c8a6e1f0b-other"
_CJK = re.compile(r"[\u4e00-\u9fff]")


# ---------------------------------------------------------------- one command, anywhere


def _bare_environment(tmp_path: Path) -> dict[str, str]:
    """A new shell of a machine without uv: the system's PATH only, a home of its own."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}


def test_the_project_command_works_from_another_folder_without_uv(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(REPO / "tuoyu"), "status", "--help"], cwd=elsewhere, capture_output=True,
                            text=True, timeout=120, env=_bare_environment(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("用法：tuoyu status") and "Failed to spawn" not in result.stderr


def test_make_install_links_the_command_and_puts_it_on_the_path_once(tmp_path):
    env = _bare_environment(tmp_path)
    (tmp_path / "home").mkdir()
    for _ in range(2):  # a second install changes nothing
        result = subprocess.run(["make", "-s", "-o", "setup", "install"], cwd=REPO, capture_output=True, text=True,
                                timeout=120, env=env)
        assert result.returncode == 0, result.stderr
    link = tmp_path / "home" / ".local" / "bin" / "tuoyu"
    assert link.resolve() == (REPO / "tuoyu").resolve()
    bashrc = (tmp_path / "home" / ".bashrc").read_text(encoding="utf-8")
    assert bashrc.count(str(link.parent)) == 2 and bashrc.count("export PATH") == 1  # the line, once
    shell = subprocess.run(["bash", "-c", f"source {tmp_path}/home/.bashrc; cd /; tuoyu --help"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert shell.returncode == 0 and shell.stdout.startswith("用法：tuoyu"), shell.stderr


def test_default_folders_are_the_projects_wherever_tuoyu_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.warehouse == REPO / "data" / "warehouse.duckdb" and settings.inbox == REPO / "data" / "inbox"


def test_demo_option_reads_the_demo_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "office.duckdb"))
    monkeypatch.setenv("TUOYU_PSEUDONYM_KEY", KEY)
    args = cli.build_parser().parse_args(["--demo", "status"])
    settings = cli.settings_of(args)
    assert settings.warehouse == DEMO_DIR / "warehouse.duckdb" and settings.inbox == DEMO_DIR / "inbox"
    assert settings.demo_key_in_use and settings.key() == DEMO_KEY.encode()


# ---------------------------------------------------------------- ordinary mistakes

BEFORE_THE_FIRST_RUN = [["status"], ["fix"], ["fix", "jg0001"], ["report"], ["report", "--period", "2024-6"],
                        ["sql", "select 1"], ["--demo", "status"], ["export-bundle"], ["--demo", "export-bundle"],
                        ["export-bundle", "--out", "."]]


@pytest.mark.parametrize("argv", BEFORE_THE_FIRST_RUN, ids=" ".join)
def test_before_the_first_run_commands_say_run_first_and_create_nothing(office, monkeypatch, capsys, argv):
    # `--demo` reads the demo folder: one of this test's own, whatever this working copy holds
    monkeypatch.setattr(cli, "DEMO_DIR", office / "demo")
    code = cli.main(argv)
    out, err = capsys.readouterr()
    first = "请先运行 tuoyu demo" if argv[0] == "--demo" else "请先运行 tuoyu run"  # the demo is made by tuoyu demo
    assert code != 0 and first in err and "Traceback" not in out + err
    assert not (office / "warehouse").exists() and not (office / "demo").exists()


USAGE_MISTAKES = [["report", "--period", "2024-13"], ["report", "--period", "六月"], ["status", "--through"],
                  ["no-such-command"], ["fix", "--period", "garbage"], ["run", "--nonsense"], ["dev", "--port", "x"],
                  ["export-bundle", "--out"]]


@pytest.mark.parametrize("argv", USAGE_MISTAKES, ids=" ".join)
def test_usage_mistakes_are_explained_in_chinese(office, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("用法：tuoyu") and "命令有误：" in err
    assert "error:" not in err and "usage:" not in err and "Traceback" not in err
    explanation = next(line for line in err.splitlines() if line.startswith("命令有误"))
    assert len(_CJK.findall(explanation)) >= 4, explanation


def test_argparse_messages_are_translated():
    assert usage_error_zh("the following arguments are required: --out") == "缺少必填的参数：--out"
    assert usage_error_zh("unrecognized arguments: --x") == "无法识别的参数：--x"


@pytest.mark.parametrize(("text", "period"), [
    ("2024-06", "2024-06"), ("2024-6", "2024-06"), ("202406", "2024-06"), ("2024年6月", "2024-06"),
    ("２０２４年６月", "2024-06"), ("2024/6", "2024-06"), (" 2024.06 ", "2024-06"),
    ("2024-13", None), ("24-06", None), ("六月", None), ("2024", None), ("", None),
])
def test_months_in_the_forms_a_clerk_types(text, period):
    assert parse_period(text) == period


def test_report_of_a_month_without_data_is_refused(office, capsys):
    warehouse = office / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    from pipeline.warehouse.schema import create_tables

    create_tables(con)
    con.execute("insert into audit.load_log (file_path, kind, period, sha256, status, loaded_at) values "
                "('托育机构_2024-06.csv', 'institutions', '2024-06', 'x', 'loaded', now())")
    con.close()
    code = cli.main(["report", "--period", "203001"])
    err = capsys.readouterr().err
    assert code != 0 and "2030-01 没有已载入的托育机构报表" in err and "2024-06 至 2024-06" in err
    assert not (office / "reports").exists()


# ---------------------------------------------------------------- the key


@pytest.mark.parametrize("key", ["123", "x" * 40])
def test_a_run_with_a_weak_key_is_refused_before_anything_is_written(office, monkeypatch, capsys, key):
    monkeypatch.setenv("TUOYU_PSEUDONYM_KEY", key)
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "太弱" in err and "secrets.token_hex(32)" in err
    assert not (office / "warehouse").exists()  # not even the lock file


def test_the_fingerprint_is_recorded_once_and_other_keys_are_refused(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    check_key(con, KEY.encode(), "w", record=False)  # nothing recorded yet: nothing to compare
    check_key(con, KEY.encode(), "w", record=True)
    check_key(con, KEY.encode(), "w", record=True)
    stored = con.execute("select fingerprint, demo from audit.key_fingerprint").fetchall()
    assert stored == [(fingerprint(KEY.encode()), False)]
    assert KEY not in str(stored) and len(stored[0][0]) == 64
    with pytest.raises(KeyMismatch, match="密钥不同"):
        check_key(con, OTHER_KEY.encode(), "w", record=True)
    with pytest.raises(KeyMismatch, match="不能以演示模式"):
        check_key(con, DEMO_KEY.encode(), "w", record=True)
    demo = duckdb.connect(str(tmp_path / "demo.duckdb"))
    check_key(demo, DEMO_KEY.encode(), "demo", record=True)
    with pytest.raises(KeyMismatch, match="演示数据"):
        check_key(demo, KEY.encode(), "demo", record=True)


def _warehouse_of_key(office: Path, key: str) -> None:
    warehouse = office / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    check_key(con, key.encode(), warehouse, record=True)
    con.close()


def test_a_run_with_another_key_is_refused(office, monkeypatch, capsys):
    _warehouse_of_key(office, KEY)
    monkeypatch.setenv("TUOYU_PSEUDONYM_KEY", OTHER_KEY)
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "无法运行" in err and "首次运行时使用的密钥不同" in err


def test_a_demo_run_on_the_offices_warehouse_is_refused(office, capsys):
    _warehouse_of_key(office, KEY)
    assert cli.main(["run", "--demo"]) == 2
    assert "不能以演示模式" in capsys.readouterr().err


# ---------------------------------------------------------------- file names


@pytest.mark.parametrize("name", ["托育机构 2024年9月.csv", "托育机构_2024-09(1).csv", "托育机构_2024-09 (2).xlsx",
                                  "托育机构_2024-09（1）.csv", "institutions  2024-09.csv"])
def test_harmless_variants_are_read(name):
    got = recognise(name)
    assert got is not None and (got.kind, got.period) == ("institutions", "2024-09")


@pytest.mark.parametrize(("name", "words", "suggestion"), [
    ("机构表7月.xlsx", ["开头", "“7月”没有年份"], "托育机构_2026-07.xlsx"),
    ("2024/机构表7月.xlsx", ["“7月”没有年份"], "托育机构_2024-07.xlsx"),  # the folder's year
    ("托育机构_2024-09.ett", ["WPS", "另存为"], "托育机构_2024-09.xlsx"),  # a template; .et itself is read
    ("在托幼儿名单2024年3月.xlsx", [], "在托幼儿_2024-03.xlsx"),
    ("institutions_2022-09 - 副本.csv", ["复制文件时"], "托育机构_2022-09.csv"),
    ("说明.txt", ["不是报表文件", "没有报表类别", "没有年月"], None),
])
def test_an_unrecognised_name_says_why_and_the_name_to_give_it(name, words, suggestion):
    advice = explain_name(name, this_month="2026-12")
    message = advice.message(name)
    assert message.startswith("文件名不符合规定：") and advice.suggestion == suggestion
    for word in words:
        assert word in message
    if suggestion:
        assert suggestion in message


# ---------------------------------------------------------------- tuoyu fix


@pytest.fixture
def findings_warehouse(tmp_path, monkeypatch):
    from pipeline.validate import validate
    from tests.test_validate_audit import _mixed_month
    from tests.validate_fixtures import clean_staffing, new_warehouse, stage

    (tmp_path / "w").mkdir()
    con = new_warehouse(tmp_path / "w")
    _mixed_month(con)
    stage(con, "staffing", [clean_staffing(institution_id="JG0003")])
    validate(con)
    con.close()
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("TUOYU_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "w" / "warehouse.duckdb"))
    return tmp_path


def test_fix_shows_a_clerk_the_rows_in_chinese_without_pseudonyms(findings_warehouse, capsys):
    assert cli.main(["fix", " jg0003 "]) == 0
    out = capsys.readouterr().out
    assert out.startswith("机构 JG0003 需要更正的数据行：共 3 行（剔除 3 行，提示 0 行）")
    for header in ("月份", "报表 在托幼儿", "源文件", "源文件行号", "级别 剔除", "规则", "说明：", "行内容："):
        assert header in out
    assert "机构名称为空" in out and "幼儿身份证号=（不显示）" in out
    assert not re.search(r"\b[0-9a-f]{64}\b", out) and "报表 enrollment" not in out and "级别 R" not in out


def test_fix_exports_the_same_columns(findings_warehouse, capsys):
    (findings_warehouse / "out").mkdir()
    target = findings_warehouse / "out" / "待更正.csv"
    assert cli.main(["fix", "JG0002", "--csv", str(target)]) == 0
    text = target.read_text(encoding="utf-8-sig")
    assert text.startswith("月份,报表,源文件,源文件行号,级别,规则,说明,行内容") and "提示" in text


def test_fix_without_an_id_lists_the_institutions_and_an_unknown_id_is_said_so(findings_warehouse, capsys):
    assert cli.main(["fix"]) == 0
    out = capsys.readouterr().out
    assert "有需要更正的数据行的机构" in out and "JG0003" in out and "JG0002" in out
    assert cli.main(["fix", "JG9999"]) == 1
    captured = capsys.readouterr()
    assert "JG9999 不在任何已载入的报表中" in captured.err and "没有需要更正的数据行" not in captured.out
    assert cli.main(["fix", "JG0002", "--period", "2023年5月"]) == 0
    assert "机构 JG0002 2023-05 没有需要更正的数据行" in capsys.readouterr().out
