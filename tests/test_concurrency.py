"""One writer at a time: two `tuoyu run` at once, a run that gives up at once, a killed run's
lock, and an analyst's connection on the published copy held open while runs crash and complete.

The runs are real processes (`python -m pipeline.commands.cli run`, forked from the warm
server of tests/warm_server.py) on a three-month sample inbox in demo mode. A run takes 15–30 s here, so the runs are shared by module-scoped fixtures:
`single_run` (one run, with a second one refused meanwhile) and `two_runs` (two started
together), and the analyst test adds one more month to `two_runs`' warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest.extracts.files import recognise
from pipeline.warehouse.lock import RunInProgress, lock_path, run_lock
from pipeline.analysts.publish import published_database
from pipeline.reference import default_reference_folder
from pipeline.sample import generate_test_sample
from tests.hostile_fixtures import WarmPopen, start_process

pytestmark = pytest.mark.heavy(seconds=35)

RUN_TIMEOUT = 240


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """Three months of extracts (with the sample's planted rejected files and revision)."""
    root = tmp_path_factory.mktemp("sample")
    generate_test_sample(root, default_reference_folder(), start="2023-01", end="2023-03")
    return root / "inbox"


def _workspace(base: Path, sample: Path) -> dict[str, str]:
    """A copy of the sample inbox, its own warehouse and reports; the environment of a run."""
    base.mkdir(parents=True, exist_ok=True)
    shutil.copytree(sample, base / "inbox")  # copy2: delivery times kept
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUOYU_") and k != "DAGSTER_HOME"}
    env.update({
        "TUOYU_DEMO": "1",
        "TUOYU_INBOX": str(base / "inbox"),
        "TUOYU_WAREHOUSE": str(base / "warehouse" / "warehouse.duckdb"),
        "TUOYU_REPORTS": str(base / "reports"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _start(env: dict[str, str], **extra: str) -> WarmPopen | subprocess.Popen:
    """`python -m pipeline.commands.cli run`, a process of its own (forked from the warm server)."""
    return start_process([sys.executable, "-m", "pipeline.commands.cli", "run"], {**env, **extra},
                         cwd=Path(env["TUOYU_INBOX"]).parent)  # no .env of the working copy


def _finish(proc: WarmPopen | subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=RUN_TIMEOUT)
    return proc.returncode, out, err


def _warehouse(env: dict[str, str]) -> Path:
    return Path(env["TUOYU_WAREHOUSE"])


def _wait_until_locked_by(proc: WarmPopen | subprocess.Popen, warehouse: Path, timeout: float = 60) -> None:
    """Until `proc` holds the run lock: the holder writes its pid into the lock file. (Reading
    the file, not trying the lock, so that the probe never takes the lock itself.)"""
    deadline = time.monotonic() + timeout
    path = lock_path(warehouse)
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").startswith(f"pid {proc.pid},"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it held the lock: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("the run never took the lock")


def _kill_at(proc: WarmPopen | subprocess.Popen, text: str) -> None:
    """SIGKILL `proc` as soon as its progress lines (stderr) show `text`."""
    for line in proc.stderr:
        if text in line:
            proc.send_signal(signal.SIGKILL)
            return
    raise AssertionError(f"the run ended without showing {text!r}")


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every base table's rows, sorted, without timestamp columns (when a row was written
    differs between runs; nothing else may). audit.runs is one row per run by design."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            """select table_schema, table_name from information_schema.tables
               where table_type = 'BASE TABLE' and table_catalog = current_database()
               order by 1, 2""").fetchall()
        out = {}
        for schema, table in tables:
            if (schema, table) == ("audit", "runs"):
                continue
            columns = [name for name, kind in con.execute(
                """select column_name, data_type from information_schema.columns
                   where table_schema = ? and table_name = ? order by ordinal_position""", [schema, table]
            ).fetchall() if not kind.startswith("TIMESTAMP")]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {listed} from "{schema}"."{table}"').fetchall()
            out[f"{schema}.{table}"] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def _runs(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select run_id, success from audit.runs order by started_at").fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- the runs


@pytest.fixture(scope="module")
def single_run(tmp_path_factory, sample):
    """One run; while it holds the lock, a second run with TUOYU_LOCK_WAIT=0 is started."""
    env = _workspace(tmp_path_factory.mktemp("single"), sample)
    first = _start(env)
    _wait_until_locked_by(first, _warehouse(env))
    second = _start(env, TUOYU_LOCK_WAIT="0")
    refused = _finish(second)
    assert first.poll() is None, "the first run was still running when the second gave up"
    done = _finish(first)
    return env, done, refused, first.pid


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, sample):
    """Two runs started together on the same, new warehouse."""
    env = _workspace(tmp_path_factory.mktemp("two"), sample)
    procs = [_start(env), _start(env)]
    return env, [_finish(p) for p in procs]


def test_a_single_run_completes(single_run, sample):
    env, (code, out, err), _, _ = single_run
    assert code == 0, out + err
    assert "运行完成" in out
    # the summary: what this run did with the sample's files (its manifest says what each is)
    files = json.loads((sample.parent / "sample-manifest.json").read_text(encoding="utf-8"))["files"]
    expected = {status: sorted(f["file"] for f in files if f["status"] == status)
                for status in ("loaded", "superseded", "file_rejected", "unrecognised")}
    assert f"新载入 {len(expected['loaded'])} 个文件，" in out
    assert f"旧版本未使用 {len(expected['superseded'])} 个，" in out
    assert f"拒收 {len(expected['file_rejected'])} 个，" in out
    assert f"文件名无法识别 {len(expected['unrecognised'])} 个" in out
    rejected_block = re.search(r"^拒收的文件.*\n((?:  .*\n)+)", out, re.M).group(1)
    listed = re.findall(r"^  (.+?)：(.+)$", rejected_block, re.M)  # each rejected file with its reason
    assert sorted(path for path, _ in listed) == expected["file_rejected"]
    assert all(re.search(r"[\u4e00-\u9fff]", reason) for _, reason in listed)
    report = Path(re.search(r"报告（2023-03）：(.+)", out).group(1))
    published = Path(re.search(r"发布副本（.*）：(.+)", out).group(1))
    assert report.is_file() and published == published_database(_warehouse(env)) and published.is_file()
    # progress without a terminal: one plain line per step, stage by stage
    steps = [line for line in err.splitlines() if re.match(r"^\d+/\d+ ", line)]
    for stage in ("读取：", "校验：", "指标：", "报告：", "发布："):
        assert any(stage in line for line in steps), stage
    assert any("读取：正在读取 2023/" in line for line in steps)


def test_a_second_run_with_no_wait_exits_with_a_clear_message(single_run):
    env, _, (code, out, err), first_pid = single_run
    assert code == 2
    assert out == ""
    assert "另一次运行" in err and "请等其结束后再运行" in err and "TUOYU_LOCK_WAIT" in err
    assert f"pid {first_pid}" in err  # says which process holds the warehouse
    assert "Traceback" not in err


def test_the_refused_run_changed_nothing(single_run):
    env, _, _, _ = single_run
    runs = _runs(_warehouse(env))
    assert len(runs) == 1 and runs[0][1] is True  # only the first run was recorded


def test_two_runs_at_once_both_complete_one_after_the_other(two_runs):
    env, results = two_runs
    for code, out, err in results:
        assert code == 0, out + err
        assert "运行完成" in out
    outs = sorted((out for _, out, _ in results), key=lambda o: "新载入 0 个文件，" not in o)
    assert "新载入 0 个文件，" in outs[0] and "没有新的或修改过的文件" in outs[0]  # the second found nothing new
    assert re.search(r"新载入 [1-9]\d* 个文件", outs[1])
    assert any("等待其结束" in err for _, _, err in results)  # one waited for the other
    runs = _runs(_warehouse(env))
    assert len(runs) == 2 and all(ok for _, ok in runs)


# What Dagster prints on its own when its instance has no dagster.yaml or reports usage.
DAGSTER_CHATTER = ("Welcome to Dagster", "Telemetry", "telemetry", "dagster.yaml", "DAGSTER_HOME")
_PROGRESS = re.compile(r"^\d+/\d+ ")
_CHINESE_FIRST = re.compile(r"^[\u4e00-\u9fff]")


def test_runs_print_only_the_projects_own_progress_and_summary(single_run, two_runs):
    """No banner, no telemetry text, no warning about the instance, no English warning: on
    stderr only progress lines and Chinese-first messages (the wait, the refusal)."""
    env, (_, out, err), (_, refused_out, refused_err), _ = single_run
    outputs = [(out, err), (refused_out, refused_err), *[(o, e) for _, o, e in two_runs[1]]]
    for out, err in outputs:
        for phrase in DAGSTER_CHATTER:
            assert phrase not in out + err, phrase
        foreign = [line for line in err.splitlines()
                   if line.strip() and not _PROGRESS.match(line) and not _CHINESE_FIRST.match(line)]
        assert foreign == []
    assert "拒收的文件" in outputs[0][0]  # the sample's rejected files: listed in the summary, not warned about
    for workspace in (env, two_runs[0]):  # the project's own instance, beside the warehouse
        config = (_warehouse(workspace).parent / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8")
        assert "telemetry:\n  enabled: false" in config


def test_two_runs_at_once_leave_the_warehouse_of_one_run(single_run, two_runs):
    one = snapshot(_warehouse(single_run[0]))
    two = snapshot(_warehouse(two_runs[0]))
    assert one.keys() == two.keys()
    assert sum(len(rows) for rows in one.values()) > 0
    different = [table for table in one if one[table] != two[table]]
    assert different == []


def _add_month(env: dict[str, str], tmp: Path, period: str = "2023-04") -> list[str]:
    """Copy one more month's extracts (of a longer sample with the same seed) into the inbox."""
    generate_test_sample(tmp, default_reference_folder(), start="2023-01", end=period)
    inbox = Path(env["TUOYU_INBOX"])
    added = []
    for path in sorted((tmp / "inbox").rglob("*")):
        name = recognise(path.name)
        if path.is_file() and name is not None and name.period == period:
            rel = path.relative_to(tmp / "inbox")
            (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, inbox / rel)
            added.append(rel.as_posix())
    assert added
    return added


def test_an_analyst_connection_held_open_while_runs_crash_and_complete(two_runs, tmp_path):
    """An analyst keeps a connection on the published copy while a new month arrives, a run is
    killed halfway (SIGKILL: its lock file stays behind), and the next run, refusing to wait
    (TUOYU_LOCK_WAIT=0), completes: the killed run's lock blocks nothing, the held connection
    keeps answering from the version it opened, a new connection sees the new month."""
    env, _ = two_runs
    warehouse = _warehouse(env)
    database = published_database(warehouse)
    count_new = "select count(*) from audit.load_log where period = '2023-04'"
    values = "select count(*) from marts.indicator_values"
    analyst = duckdb.connect(str(database), read_only=True)
    try:
        assert analyst.execute(count_new).fetchone()[0] == 0
        before = analyst.execute(values).fetchone()[0]
        _add_month(env, tmp_path / "april")

        victim = _start(env)
        _kill_at(victim, "正在读取 ")  # while it reads the new month's files into the warehouse
        victim.communicate(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        assert lock_path(warehouse).read_text(encoding="utf-8").startswith(f"pid {victim.pid},")

        run = _start(env, TUOYU_LOCK_WAIT="0")
        while run.poll() is None:  # the analyst keeps working during the run
            assert analyst.execute(values).fetchone()[0] == before
            time.sleep(0.5)
        code, out, err = _finish(run)
        assert code == 0, out + err
        assert "运行完成" in out

        # the held connection still answers, from the version it opened
        assert analyst.execute(values).fetchone()[0] == before
        assert analyst.execute(count_new).fetchone()[0] == 0
    finally:
        analyst.close()
    fresh = duckdb.connect(str(database), read_only=True)
    try:  # a new connection sees the new month
        assert fresh.execute(count_new).fetchone()[0] > 0
        assert fresh.execute(values).fetchone()[0] > before
    finally:
        fresh.close()
    runs = dict(_runs(warehouse))
    assert list(runs.values()).count(None) == 1  # the killed run: started, never finished


# ---------------------------------------------------------------- a killed run


HOLD_THE_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pipeline.warehouse.lock import run_lock
    with run_lock(Path(sys.argv[1]), 0):
        print("locked", flush=True)
        time.sleep(120)
""")


def test_a_killed_run_never_blocks_the_next(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(warehouse)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInProgress, match=f"pid {holder.pid}"):
            with run_lock(warehouse, 0):
                pass
        started = time.monotonic()
        with pytest.raises(RunInProgress):
            with run_lock(warehouse, 1.0):  # waits, then gives up
                pass
        assert time.monotonic() - started >= 1.0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    # the dead run's lock file is still there, naming it, and blocks nothing
    assert lock_path(warehouse).read_text(encoding="utf-8").startswith(f"pid {holder.pid},")
    with run_lock(warehouse, 0):
        assert lock_path(warehouse).read_text(encoding="utf-8").startswith(f"pid {os.getpid()},")
