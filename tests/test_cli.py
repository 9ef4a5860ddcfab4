"""The `tuoyu` command line: the documented commands exist, `tuoyu run` stops with a clear
message (and a non-zero exit) when it cannot run, and the progress display."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.commands import cli
from pipeline.warehouse.lock import run_lock
from pipeline.commands.progress import Progress, display_width, fit
from pipeline.reference import default_reference_folder
from tests.conftest import REPO

# The commands the office's runbook relies on, whatever the docs say today.
RUNBOOK_COMMANDS = {"run", "sample", "demo", "report", "status", "sql", "fix", "dev"}
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_COMMAND = re.compile(r"\btuoyu\s+([a-z][a-z-]*)")


def documented_commands() -> dict[str, set[str]]:
    """{command: files} of every `tuoyu <command>` in code of README.md and docs/*.md."""
    found: dict[str, set[str]] = {}
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for code in _CODE.findall(path.read_text(encoding="utf-8")):
            for command in _COMMAND.findall(code):
                found.setdefault(command, set()).add(path.name)
    return found


def _help(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        sys_stdout, sys.stdout = sys.stdout, out
        try:
            cli.main([*argv, "--help"])
        finally:
            sys.stdout = sys_stdout
    return exit_info.value.code, out.getvalue()


# ---------------------------------------------------------------- commands


def test_the_readme_documents_commands():
    assert "run" in documented_commands()


@pytest.mark.parametrize("command", sorted(RUNBOOK_COMMANDS | set(documented_commands())))
def test_every_documented_command_exists(command):
    code, text = _help(command)
    assert code == 0, f"`tuoyu {command}` is documented in {documented_commands().get(command)} but does not exist"
    assert f"tuoyu {command}" in text


def test_an_unknown_command_is_refused():
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2


def test_the_console_script_is_installed():
    script = Path(sys.executable).with_name("tuoyu")
    result = subprocess.run([str(script), "dev", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout


# ---------------------------------------------------------------- tuoyu run cannot run


def test_run_without_a_key_outside_demo_mode_stops_with_the_chinese_message(office, capsys):
    code = cli.main(["run"])
    out, err = capsys.readouterr()
    assert code != 0
    assert "未配置假名化密钥" in err and "TUOYU_PSEUDONYM_KEY" in err
    assert out == ""
    assert not (office / "warehouse" / "warehouse.duckdb").exists()  # nothing written


def test_run_with_bad_reference_data_names_the_file_and_line(office, monkeypatch, capsys):
    reference = office / "reference"
    shutil.copytree(default_reference_folder(), reference)
    population = reference / "population.csv"
    lines = population.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",很多"  # line 3: the children under three, not a number
    population.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("TUOYU_REFERENCE", str(reference))
    monkeypatch.setenv("TUOYU_DEMO", "1")

    code = cli.main(["run"])
    err = capsys.readouterr().err
    assert code != 0
    assert "population.csv" in err and "第 3 行" in err
    assert "Traceback" not in err


def test_run_while_another_run_holds_the_warehouse_says_so(office, monkeypatch, capsys):
    monkeypatch.setenv("TUOYU_DEMO", "1")
    monkeypatch.setenv("TUOYU_LOCK_WAIT", "0")
    warehouse = office / "warehouse" / "warehouse.duckdb"
    with run_lock(warehouse, 0):
        code = cli.main(["run"])
    err = capsys.readouterr().err
    assert code != 0
    assert "另一次运行" in err and "请等其结束后再运行" in err and f"pid {os.getpid()}" in err


def test_report_while_a_run_holds_the_warehouse_says_so(office, monkeypatch, capsys):
    import duckdb

    monkeypatch.setenv("TUOYU_LOCK_WAIT", "0")
    warehouse = office / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    duckdb.connect(str(warehouse)).close()  # a run has opened it
    with run_lock(warehouse, 0):
        code = cli.main(["report", "--period", "2023-03"])
    assert code != 0
    assert "另一次运行" in capsys.readouterr().err


HOLD_THE_WAREHOUSE = textwrap.dedent("""
    import sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1])
    print("open", flush=True)
    time.sleep(120)
""")


def test_run_while_another_program_has_the_warehouse_open_says_so(office, monkeypatch, capsys):
    """An analyst who opened the warehouse file itself (not the published copy) holds DuckDB's lock."""
    monkeypatch.setenv("TUOYU_DEMO", "1")
    warehouse = office / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_WAREHOUSE, str(warehouse)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        code = cli.main(["run"])
    finally:
        holder.kill()
        holder.wait(timeout=30)
    err = capsys.readouterr().err
    assert code != 0
    assert "正被另一个程序占用" in err and "tuoyu sql" in err


def test_a_bad_lock_wait_is_a_clear_error(office, monkeypatch, capsys):
    monkeypatch.setenv("TUOYU_DEMO", "1")
    monkeypatch.setenv("TUOYU_LOCK_WAIT", "ten minutes")
    assert cli.main(["run"]) != 0
    assert "TUOYU_LOCK_WAIT" in capsys.readouterr().err


def test_a_bad_log_level_is_a_clear_error(office, monkeypatch, capsys):
    monkeypatch.setenv("TUOYU_DEMO", "1")
    monkeypatch.setenv("TUOYU_LOG_LEVEL", "LOUD")
    assert cli.main(["run"]) != 0
    assert "TUOYU_LOG_LEVEL" in capsys.readouterr().err


# ---------------------------------------------------------------- progress


def test_progress_on_a_terminal_redraws_one_line():
    stream = io.StringIO()
    progress = Progress(62, stream=stream, tty=True, columns=80)
    for _ in range(12):
        progress.advance()
    progress.step("reading 托育机构_2023-06.csv")
    progress.close()
    text = stream.getvalue()
    assert text.endswith("[#.........] 12/62 reading 托育机构_2023-06.csv\n")
    assert text.count("\n") == 1 and text.count("\r") == 13


def test_progress_elsewhere_prints_plain_lines():
    stream = io.StringIO()
    progress = Progress(3, stream=stream, tty=False)
    progress.step("2023-01: institutions 120 rows")
    progress.advance()
    progress.step("2023-02: institutions 121 rows")
    progress.close()
    assert stream.getvalue() == "0/3 2023-01: institutions 120 rows\n1/3 2023-02: institutions 121 rows\n"
    assert "\r" not in stream.getvalue()


def test_progress_to_a_log_sink():
    lines: list[str] = []
    progress = Progress(2, sink=lines.append)
    progress.step("validate")
    assert lines == ["0/2 validate"] and not progress.tty


def test_progress_fits_chinese_labels_to_the_terminal():
    assert display_width("托育机构_2023-06.csv") == 8 + 12
    cut = fit("读取 " + "托育机构" * 20, 30)
    assert display_width(cut) <= 30 and cut.endswith("…")
    stream = io.StringIO()
    progress = Progress(5, stream=stream, tty=True, columns=40)
    progress.step("读取 " + "托育机构" * 20)
    drawn = stream.getvalue().split("\r")[-1]
    assert display_width(drawn) <= 39


def test_progress_erases_a_longer_previous_line():
    stream = io.StringIO()
    progress = Progress(2, stream=stream, tty=True, columns=100)
    progress.step("a long label indeed")
    progress.step("short")
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("[..........] 0/2 short") and len(last) == len("[..........] 0/2 a long label indeed")


def _screen(written: str) -> list[str]:
    """What a terminal shows for `written`: `\r` returns to the line's start and overwrites."""
    lines = []
    for line in written.split("\n"):
        cells: list[str] = []
        for part in line.split("\r"):
            cells[:len(part)] = list(part)
        lines.append("".join(cells).rstrip())
    return [line for line in lines if line]


def test_log_lines_written_while_the_bar_is_shown_go_above_it(monkeypatch):
    import logging

    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = logging.StreamHandler(terminal)  # like the one `tuoyu` sets up, made before the bar
    logging.getLogger().addHandler(handler)
    try:
        progress = Progress(4, columns=80)
        assert progress.tty
        progress.step("校验 validate")
        with progress.keep_lines_apart():
            handler.handle(logging.makeLogRecord({"msg": "file rejected: a.csv"}))
            sys.stderr.write("a warning\n")
            progress.advance()
        progress.close()
    finally:
        logging.getLogger().removeHandler(handler)
    assert _screen(terminal.getvalue()) == ["file rejected: a.csv", "a warning", "[##........] 1/4 校验 validate"]
    assert sys.stderr is terminal and handler.stream is terminal  # put back


def test_sample_shows_one_line_per_month_without_a_terminal(tmp_path):
    out = tmp_path / "inbox"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.commands.cli", "sample", "--out", str(out), "--start", "2023-01", "--end", "2023-02"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if re.match(r"^\d+/2 ", line)]
    assert [line.split()[0] for line in progress] == ["1/2", "2/2"]
    assert progress[0].startswith("1/2 2023-01")
    assert "样例数据已写入" in result.stdout
