"""The clerk's console, continued: `tuoyu where` names the folders, the county and where each
setting comes from, creating nothing; the demo refuses an inbox holding a file the sample did not
write; what the terminal shows is Chinese only, the English sentence kept for the log."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from pipeline.commands import cli
from pipeline.commands.demo import foreign_files
from pipeline.reference import default_reference_folder
from pipeline.zh import chinese_only


def _where(argv: list[str], capsys) -> dict[str, tuple[str, str]]:
    """{label: (path line, source line)} of `tuoyu where`."""
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == "" or "Traceback" not in err
    lines = out.splitlines()
    folders = {}
    for at, line in enumerate(lines):
        match = re.match(r"^(收件箱|数据仓库|报告|发布副本|运行日志|参考数据)：(.+)$", line)
        if match:
            source = lines[at + 1].strip()
            assert source.startswith("来自："), line
            folders[match.group(1)] = (match.group(2), source.removeprefix("来自："))
    folders["县"] = (next(line for line in lines if line.startswith("县（市、区）：")), "")
    folders["密钥"] = (next(line for line in lines if line.startswith("假名化密钥：")), "")
    return folders


def test_where_names_the_folders_of_the_environment_and_the_env_file(office, monkeypatch, capsys):
    monkeypatch.delenv("TUOYU_REPORTS")  # set in the working folder's .env instead
    (office / ".env").write_text(f"TUOYU_REPORTS={office / 'from-dotenv'}\n", encoding="utf-8")
    folders = _where(["where"], capsys)
    assert folders["收件箱"] == (str(office / "inbox"), "环境变量 TUOYU_INBOX")
    warehouse = office / "warehouse" / "warehouse.duckdb"
    assert folders["数据仓库"][0].startswith(str(warehouse)) and "还不存在" in folders["数据仓库"][0]
    assert folders["数据仓库"][1] == "环境变量 TUOYU_WAREHOUSE"
    assert folders["报告"][0].startswith(str(office / "from-dotenv"))
    assert folders["报告"][1] == f"{office / '.env'} 中的 TUOYU_REPORTS"
    assert folders["发布副本"][0].startswith(str(warehouse.parent / "published"))
    assert folders["运行日志"][0].startswith(str(warehouse.parent / "logs"))
    assert folders["参考数据"] == (str(default_reference_folder()), "默认")
    assert folders["县"][0].startswith("县（市、区）：370781 青州市")
    assert "未设置" in folders["密钥"][0]
    assert not (office / "warehouse").exists() and not (office / "from-dotenv").exists()  # nothing created


def test_where_with_demo_names_the_demo_folders_and_creates_none(office, monkeypatch, capsys):
    monkeypatch.setattr(cli, "DEMO_DIR", office / "demo")
    folders = _where(["--demo", "where"], capsys)
    demo = (office / "demo").resolve()
    assert folders["收件箱"][0].startswith(str(demo / "inbox")) and folders["收件箱"][1].startswith("--demo")
    assert folders["数据仓库"][0].startswith(str(demo / "warehouse.duckdb")) and folders["数据仓库"][1].startswith("--demo")
    assert folders["报告"][0].startswith(str(demo / "reports"))
    assert folders["参考数据"][0] == str(default_reference_folder())
    assert folders["县"][0].startswith("县（市、区）：370781 青州市") and "演示密钥" in folders["密钥"][0]
    assert not (office / "demo").exists() and not (office / "warehouse").exists()


def test_where_names_the_county_of_another_reference_folder(office, monkeypatch, capsys):
    reference = office / "ref"
    reference.mkdir()
    (reference / "areas.csv").write_text("area_code,area_name,area_type,urban_rural,parent_code\n"
                                         "370102,历下区,市辖区,,\n370102001,解放路街道,街道,城镇,370102\n",
                                         encoding="utf-8")
    monkeypatch.setenv("TUOYU_REFERENCE", str(reference))
    folders = _where(["where"], capsys)
    assert folders["县"][0].startswith("县（市、区）：370102 历下区")
    assert folders["参考数据"] == (str(reference), "环境变量 TUOYU_REFERENCE")


# ---------------------------------------------------------------- the demo reads only its own sample


def _demo_folder(base: Path) -> Path:
    """A demo folder as `tuoyu demo` leaves it: an inbox and the manifest of what was generated."""
    inbox = base / "inbox"
    (inbox / "2024").mkdir(parents=True)
    files = {"2024/托育机构_2024-06.csv": b"a,b\n1,2\n", "2024/在托幼儿_2024-06.csv": b"c,d\n3,4\n"}
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    manifest = {"files": [{"file": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()]}
    (base / "sample-manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return inbox


def test_the_samples_own_files_are_not_foreign(tmp_path):
    inbox = _demo_folder(tmp_path)
    (inbox / ".DS_Store").write_bytes(b"x")  # hidden files are never read
    assert foreign_files(inbox) == []


def test_a_file_the_sample_did_not_write_is_foreign_by_name_and_by_content(tmp_path):
    inbox = _demo_folder(tmp_path)
    (inbox / "从业人员_2024-06.csv").write_bytes(b"real,county\n")
    (inbox / "2024" / "托育机构_2024-06.csv").write_bytes(b"a,b\n1,2\n9,9\n")  # same name, other bytes
    assert sorted(foreign_files(inbox)) == ["2024/托育机构_2024-06.csv", "从业人员_2024-06.csv"]
    (tmp_path / "sample-manifest.json").unlink()  # no manifest: nothing was generated here
    assert len(foreign_files(inbox)) == 3


@pytest.mark.parametrize("argv", [["demo", "--dir", "{demo}"], ["--demo", "run"]], ids=" ".join)
def test_the_demo_refuses_an_inbox_with_a_foreign_file_and_changes_nothing(office, monkeypatch, capsys, argv):
    demo = office / "demo"
    monkeypatch.setattr(cli, "DEMO_DIR", demo)
    inbox = _demo_folder(demo)
    (inbox / "2024" / "从业人员_2024-06.xlsx").write_bytes(b"PK\x03\x04 a real county's extract")
    before = sorted(p.relative_to(office) for p in office.rglob("*"))
    code = cli.main([a.format(demo=demo) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert "不是样例生成的文件" in err and "2024/从业人员_2024-06.xlsx" in err and "什么都没有改动" in err
    assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", re.sub(r"--demo|tuoyu [a-z]+", "", err))
    assert sorted(p.relative_to(office) for p in office.rglob("*")) == before  # no warehouse, no lock file


# ---------------------------------------------------------------- Chinese on the terminal, English in the log


@pytest.mark.parametrize(("message", "shown"), [
    ("收件箱文件夹不存在：/x。请检查 TUOYU_INBOX。Inbox folder not found.", "收件箱文件夹不存在：/x。请检查 TUOYU_INBOX。"),
    ("TUOYU_LOCK_WAIT 应为等待的秒数（如 600），现为 'x'。 TUOYU_LOCK_WAIT must be a number of seconds, not 'x'.",
     "TUOYU_LOCK_WAIT 应为等待的秒数（如 600），现为 'x'。"),
    ("参考数据错误：areas.csv 第 3 行：重复。Reference data error: areas.csv line 3: duplicate.",
     "参考数据错误：areas.csv 第 3 行：重复。"),
    ("SQL 语法错误：Parser Error: syntax error at or near x", "SQL 语法错误：Parser Error: syntax error at or near x"),
    ("请设置 TUOYU_DEMO=1。", "请设置 TUOYU_DEMO=1。"),
    ("Only English here.", "Only English here."),
    # the English sentence quotes a path with Chinese in it: still the maintainers' sentence
    ("文件夹 /d/模板 不存在，未导出。请先建好文件夹。 Folder /d/模板 does not exist; make it first.",
     "文件夹 /d/模板 不存在，未导出。请先建好文件夹。"),
    ("中文（English words here）。还有中文。", "中文（English words here）。还有中文。"),
])
def test_the_clerk_sees_the_chinese_sentence_only(message, shown):
    assert chinese_only(message) == shown


def test_a_setting_refused_is_said_in_chinese_only(office, monkeypatch, capsys):
    monkeypatch.setenv("TUOYU_LOCK_WAIT", "soon")
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：TUOYU_LOCK_WAIT 应为等待的秒数") and "must be" not in err


def test_a_missing_inbox_is_said_in_chinese_only(office, monkeypatch, capsys):
    monkeypatch.setenv("TUOYU_INBOX", str(office / "nowhere"))
    assert cli.main(["run", "--demo"]) == 2
    err = capsys.readouterr().err
    assert "收件箱文件夹不存在" in err and "not found" not in err
