"""Nothing new, nothing done: a second `tuoyu run` with nothing new rewrites no file of the
report or of the published copy and says so; a revised file, a changed target or setting,
or a report file deleted or altered brings the report back; the inbox sensor starts
no run for the files the last run loaded.

Two ways to nothing new are tested: the run that finds everything as the last complete run
left it and does not start the job (pipeline/commands/unchanged.py, "quiet"), and the job
itself when that state is missing (each step finds nothing to do; what Dagster-launched
runs rely on). Anything changed since must make the quiet way start the job.

Runs go through `run_pipeline` as `tuoyu run` does, on a two-month inbox of one
institution (the conformance county's reference). The first three runs are shared; a test
that changes something works on its own copy of that workspace.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest

from pipeline.analysts.publish import published_folder
from pipeline.commands import unchanged
from pipeline.commands.run import run_pipeline
from pipeline.orchestration.definitions import defs as load_definitions
from pipeline.reference import default_reference_folder
from pipeline.report import freshness
from pipeline.settings import Settings
from tests.conftest import CONFORMANCE
from tests.extract_fixtures import (ENROLLMENT_HEADER, INSTITUTION_HEADER, STAFFING_HEADER, child_row,
                                    institution_row, staff_row, write_csv)

AREA = "379902001"
LAST = "2023-06"
NOTHING_REWRITTEN = "没有新的或修改过的文件，报告和发布副本已是最新，未改写任何文件。"
QUIET = "收件箱、参考数据和程序与上次完成的运行时相同，未重新读取"  # the job was not started
DELIVERED = time.time() - 3600  # an hour ago: settled, as far as the sensor is concerned


def _deliver(path: Path, header: list[str], rows: list[list[str]], when: float = DELIVERED) -> None:
    write_csv(path, header, rows)
    os.utime(path, (when, when))


def _institutions(inbox: Path, period: str, places: str = "30", when: float = DELIVERED) -> None:
    _deliver(inbox / f"托育机构_{period}.csv", INSTITUTION_HEADER,
             [institution_row(period=period, area=AREA, places=places)], when)


def _settings(base: Path, **changes) -> Settings:
    return Settings(inbox=base / "inbox", reference=base / "reference", warehouse=base / "wh" / "warehouse.duckdb",
                    reports=base / "reports", pseudonym_key=None, demo=True, lock_wait=0).with_(**changes)


def _run(settings: Settings) -> str:
    outcome = run_pipeline(settings)
    assert outcome.success, outcome.text()
    return outcome.text()


def _files(settings: Settings) -> dict[str, tuple[str, int]]:
    """{path: (sha256, st_mtime_ns)} of every file of the reports folder and the published copy."""
    found = {}
    for folder in (settings.reports, published_folder(settings.warehouse)):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                found[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return found


def _dagster_runs(settings: Settings) -> int:
    """The runs in the warehouse's Dagster instance (its run storage)."""
    con = sqlite3.connect(settings.instance_home / "history" / "runs.db")
    try:
        return con.execute("select count(*) from runs").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Two months delivered; a first run, then a second one with nothing new (quiet: the job
    is not started), then a third with the quiet way's state removed (the job finds nothing)."""
    base = tmp_path_factory.mktemp("nothing-new")
    shutil.copytree(CONFORMANCE / "reference", base / "reference")
    for period in ("2023-05", LAST):
        _institutions(base / "inbox", period)
        _deliver(base / "inbox" / f"在托幼儿_{period}.csv", ENROLLMENT_HEADER, [child_row(period=period)])
        _deliver(base / "inbox" / f"从业人员_{period}.csv", STAFFING_HEADER, [staff_row(period=period)])
    settings = _settings(base)
    first = _run(settings)
    before = _files(settings)
    runs = _dagster_runs(settings)
    second = _run(settings)
    runs_after_second = _dagster_runs(settings)
    after_second = _files(settings)
    unchanged.state_path(settings).unlink()
    third = _run(settings)
    return SimpleNamespace(settings=settings, first=first, second=second, third=third, before=before,
                           after_second=after_second, after_third=_files(settings),
                           dagster_runs=(runs, runs_after_second, _dagster_runs(settings)))


def _copy(settings: Settings, to: Path) -> Settings:
    """The workspace's inbox, reference, warehouse and reports (not its published copy,
    whose views name the original's folders)."""
    base = settings.inbox.parent
    for name in ("inbox", "reference", "reports", "wh"):
        shutil.copytree(base / name, to / name, ignore=shutil.ignore_patterns("published"))
    return _settings(to)


def _pdf(settings: Settings) -> Path:
    return settings.reports / LAST / f"report_{LAST}.pdf"


# ---------------------------------------------------------------- nothing new


def test_a_second_run_with_nothing_new_rewrites_no_file(workspace):
    before = workspace.before
    assert str(_pdf(workspace.settings)) in before
    assert any(path.endswith("tuoyu.duckdb") for path in before)
    assert any(path.endswith(".parquet") for path in before)
    # the same files, byte for byte, none written again (mtime): quietly, and by the job
    assert workspace.after_second == before
    assert workspace.after_third == before


def test_the_quiet_run_starts_no_job_and_the_job_finds_nothing_new(workspace):
    first, quiet, job = workspace.dagster_runs
    assert first >= 1 and quiet == first and job == first + 1  # the second run started no Dagster run
    assert QUIET in workspace.second and QUIET not in workspace.third
    assert "未变（此前已载入）6 个" in workspace.third  # the job read the inbox: six files, all known


def _english(line: str) -> list[str]:
    """The English words of a summary line, once paths and command names are left out."""
    line = re.sub(r"\S*[/\\]\S*|\S+\.(csv|xlsx|pdf|duckdb)\b|tuoyu [a-z]+|--[a-z]+|DBeaver|duckdb", "", line)
    return re.findall(r"[A-Za-z]{2,}", line)


def test_the_summary_is_chinese_only(workspace):
    for text in (workspace.first, workspace.second, workspace.third):
        assert text.startswith("运行完成。\n本次运行：新载入 ")
        for line in text.splitlines():
            assert re.search(r"[\u4e00-\u9fff]", line) and not _english(line), line


def test_each_run_has_its_log_file_whose_path_the_summary_prints(workspace):
    texts = (workspace.first, workspace.second, workspace.third)
    logs = [Path(line.removeprefix("运行日志：")) for text in texts for line in text.splitlines()
            if line.startswith("运行日志：")]
    assert len(set(logs)) == 3 and all(log.parent == workspace.settings.log_folder for log in logs)
    for log, text in zip(logs[1:], texts[1:]):
        written = log.read_text(encoding="utf-8")
        assert "this run: loaded 0" in written and "nothing new" in written  # the English, kept for the log
        assert text.splitlines()[-1] == f"运行日志：{log}"


def test_the_summary_says_nothing_new_and_nothing_rewritten(workspace):
    for text in (workspace.second, workspace.third):
        assert NOTHING_REWRITTEN in text
        assert "新载入 0 个文件，" in text
        assert f"报告（{LAST}）：{_pdf(workspace.settings)}" in text  # where the report is, as always
        assert "发布副本（供 tuoyu sql、duckdb、DBeaver 查询）：" in text
    assert NOTHING_REWRITTEN not in workspace.first and "本次载入 6 个文件" in workspace.first
    # what stands after the run is said the same way, quietly or by the job
    standing = [line for line in workspace.third.splitlines()[3:] if not line.startswith("运行日志：")]
    assert [line for line in workspace.second.splitlines()[3:] if not line.startswith("运行日志：")] == standing


# ---------------------------------------------------------------- something changed


def _rewritten(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]], path: Path) -> bool:
    return before[str(path)][1] != after[str(path)][1]


def test_a_revised_file_renders_and_publishes_again(workspace, tmp_path):
    settings = _copy(workspace.settings, tmp_path)
    _run(settings)  # the copy's own published copy
    before = _files(settings)
    _institutions(settings.inbox, LAST, places="45", when=DELIVERED + 60)  # a correction: 45 places, not 30
    out = _run(settings)
    after = _files(settings)
    assert "新载入 1 个文件，" in out and NOTHING_REWRITTEN not in out
    assert _rewritten(before, after, _pdf(settings))
    assert before[str(_pdf(settings))][0] != after[str(_pdf(settings))][0]  # it shows the revised figure
    assert set(after) - set(before), "a new version of the published copy"


def test_a_changed_target_renders_again(workspace, tmp_path):
    settings = _copy(workspace.settings, tmp_path)
    before = _files(settings)
    targets = (default_reference_folder() / "targets.toml").read_text(encoding="utf-8")
    changed = targets.replace("[demo_institutions]\nvalue = 1\n", "[demo_institutions]\nvalue = 3\n")
    assert changed != targets
    (settings.reference / "targets.toml").write_text(changed, encoding="utf-8")
    out = _run(settings)
    after = _files(settings)
    assert NOTHING_REWRITTEN not in out
    assert _rewritten(before, after, _pdf(settings))


@pytest.mark.parametrize("damage", ["deleted", "altered"])
def test_a_deleted_or_altered_report_file_is_rendered_again(workspace, tmp_path, damage):
    settings = _copy(workspace.settings, tmp_path)
    card = settings.reports / LAST / f"card_{LAST}.png"
    original = card.read_bytes()
    if damage == "deleted":
        card.unlink()
    else:
        card.write_bytes(original[:-10])
    out = _run(settings)
    assert NOTHING_REWRITTEN not in out
    assert card.read_bytes() == original


def test_a_report_folder_without_the_files_is_rendered_into(workspace, tmp_path):
    settings = _copy(workspace.settings, tmp_path).with_(reports=tmp_path / "elsewhere")
    _run(settings)
    assert _pdf(settings).read_bytes() == _pdf(workspace.settings).read_bytes()


# ---------------------------------------------------------------- the quiet way: anything changed starts the job


@pytest.fixture(scope="module")
def office(workspace, tmp_path_factory) -> Settings:
    """A copy of the workspace, run once by the job, which keeps the state for the copy's
    folders. The tests below each change one thing in it, in turn: each starts by checking
    that a run is quiet there, and ends with the state kept again."""
    settings = _copy(workspace.settings, tmp_path_factory.mktemp("quiet"))
    _run(settings)
    return settings


def _same_size_and_times(settings: Settings) -> None:
    """June's institutions file says 31 places instead of 30: the same size, its times put back."""
    path = settings.inbox / f"托育机构_{LAST}.csv"
    before = path.stat()
    data = path.read_bytes()
    assert data.count(b",30,") == 1
    path.write_bytes(data.replace(b",30,", b",31,"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def _reference_written_again(settings: Settings) -> None:
    path = settings.reference / "areas.csv"
    path.write_bytes(path.read_bytes())  # the same bytes: the job decides whether that matters


def _warehouse_written(settings: Settings) -> None:
    """A write by another command (as `tuoyu quality confirm` or `withdraw` make)."""
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("create table audit.note_by_hand as select 1 as n")
    finally:
        con.close()


class _Tomorrow(date):
    @classmethod
    def today(cls):
        return date.today() + timedelta(days=1)


CHANGES = {
    "inbox bytes, same size and times": _same_size_and_times,
    "a file added to the inbox": lambda s: _deliver(s.inbox / "说明.txt", ["备注"], [["无"]]),
    "a reference file written again": _reference_written_again,
    "a report file deleted": lambda s: (s.reports / LAST / f"card_{LAST}.png").unlink(),
    "the warehouse written by another command": _warehouse_written,
    "another day": None,  # below
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_anything_changed_since_the_last_complete_run_starts_the_job(office, monkeypatch, change):
    settings = office
    assert QUIET in _run(settings)
    if change == "another day":
        monkeypatch.setattr(unchanged, "date", _Tomorrow)
    else:
        CHANGES[change](settings)
    out = _run(settings)
    assert QUIET not in out and "未变（此前已载入）" in out  # the job read the inbox
    if change == "inbox bytes, same size and times":
        assert "新载入 1 个文件，" in out and NOTHING_REWRITTEN not in out
    if change == "a report file deleted":
        assert (settings.reports / LAST / f"card_{LAST}.png").is_file()
    if change == "another day":
        assert QUIET in _run(settings)  # the same day again: quiet
        monkeypatch.undo()
        _run(settings)  # back to today, for the next test: the state kept is of tomorrow
    assert QUIET in _run(settings)  # and the state is kept again


def test_a_run_that_fails_keeps_no_state_and_the_next_starts_the_job(office, monkeypatch):
    from pipeline.report import render

    settings = office
    assert QUIET in _run(settings)
    (settings.reports / LAST / f"card_{LAST}.png").unlink()  # the report must be rendered again …

    def full_disk(*args, **kwargs):  # a fault of the machine: not retried (15 s apart)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(settings.reports))

    monkeypatch.setattr(render, "compile_typst", full_disk)  # … and cannot be
    assert not run_pipeline(settings).success
    assert not unchanged.state_path(settings).exists()
    monkeypatch.undo()
    out = _run(settings)
    assert QUIET not in out and (settings.reports / LAST / f"card_{LAST}.png").is_file()
    assert QUIET in _run(settings)


def test_a_file_delivered_while_a_run_goes_on_is_new_to_the_next(office, monkeypatch):
    """The inbox's state kept is the one the job started from: July's file, delivered while
    a run goes on (here: once the job is done, before the summary), is read by the next run.
    (Last of the tests on `office`: July is its latest month afterwards.)"""
    from pipeline.commands import run as run_module

    settings = office
    assert QUIET in _run(settings)
    (settings.reports / LAST / f"card_{LAST}.png").unlink()  # so that the job runs
    summary = run_module._summary

    def delivered_meanwhile(*args, **kwargs):
        _institutions(settings.inbox, "2023-07")
        return summary(*args, **kwargs)

    monkeypatch.setattr(run_module, "_summary", delivered_meanwhile)
    assert "新载入 0 个文件，" in _run(settings)  # July came too late for this run
    monkeypatch.undo()
    out = _run(settings)
    assert QUIET not in out and "新载入 1 个文件，" in out
    assert QUIET in _run(settings)


# ---------------------------------------------------------------- fingerprints


def test_the_report_fingerprint_follows_its_month_and_compiling_unit(workspace):
    settings = workspace.settings
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        fingerprint = freshness.report_fingerprint(con, LAST, "统计局")
        assert freshness.report_fingerprint(con, LAST, "统计局") == fingerprint
        assert freshness.report_fingerprint(con, LAST, "卫生健康局") != fingerprint
        assert freshness.report_fingerprint(con, "2023-05", "统计局") != fingerprint
    finally:
        con.close()


def test_the_code_version_follows_the_code(tmp_path, monkeypatch):
    module = tmp_path / "pipeline" / "module.py"
    module.parent.mkdir()
    module.write_text("x = 1\n")
    (module.parent / "__pycache__").mkdir()
    (module.parent / "__pycache__" / "module.pyc").write_bytes(b"compiled")
    monkeypatch.setattr(freshness, "PROJECT_DIR", tmp_path)
    monkeypatch.setattr(freshness, "_CODE", (tmp_path / "pipeline",))
    version = freshness.code_version.__wrapped__()
    (module.parent / "__pycache__" / "module.pyc").write_bytes(b"compiled again")
    assert freshness.code_version.__wrapped__() == version  # bytecode is not code
    module.write_text("x = 2\n")
    assert freshness.code_version.__wrapped__() != version


# ---------------------------------------------------------------- the sensor


def _tick(monkeypatch, inbox: Path, warehouse: Path, cursor: str | None = None):
    monkeypatch.setenv("TUOYU_INBOX", str(inbox))
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(warehouse))
    sensor = load_definitions().resolve_sensor_def("inbox_sensor")  # on TUOYU_INBOX, as Dagster loads it
    return sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor))


def test_the_sensor_starts_no_run_for_the_inbox_the_last_run_loaded(workspace, monkeypatch, tmp_path):
    settings = workspace.settings
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    data = _tick(monkeypatch, settings.inbox, settings.warehouse)  # no cursor: every file looks new
    assert not data.run_requests, data.run_requests
    assert "nothing new for a run" in data.skip_message


def test_the_sensor_starts_a_run_for_a_file_changed_since(workspace, monkeypatch, tmp_path):
    settings = workspace.settings
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "inbox"
    shutil.copytree(settings.inbox, inbox)  # the same files, times kept
    first = _tick(monkeypatch, inbox, settings.warehouse)
    assert not first.run_requests
    _institutions(inbox, LAST, places="45", when=DELIVERED + 60)
    [request] = _tick(monkeypatch, inbox, settings.warehouse, first.cursor).run_requests
    assert request.tags["tuoyu/files"] == "1"
