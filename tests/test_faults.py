"""Faults of the machine, said plainly (issue 14, Build 7): a full disk, a folder that cannot
be written, a corrupt warehouse, a corrupt published copy. Each ends in one Chinese sentence
saying what to do, exit code 2, no traceback; and the step that met it is not retried (the
job retries twice, 15 s apart, what a retry can mend).

How each fault is made:

- full disk, for real: `tuoyu run` in a process whose file-size limit (RLIMIT_FSIZE, what
  `ulimit -f` sets) is 200 kB. A write past it fails with EFBIG (Python ignores SIGXFSZ),
  as a write to a full disk fails with ENOSPC; where it first fails (DuckDB, Dagster's
  SQLite, a report file) is the machine's choice, and the sentence must be the same.
- full disk at a chosen point: `tuoyu run` in-process with the report's file writer raising
  ENOSPC; counting its calls shows the step was not retried.
- a read-only folder: `chmod 0555` when the tests run as an ordinary user; as root (whom
  chmod does not stop) a read-only bind mount in a mount namespace of the run's own
  (unshare(2), as `unshare -m` does), a real read-only file system; where neither is possible, the writes under
  the folder are made to fail with EROFS in-process (`_read_only`).
- corrupt files: random bytes over the whole warehouse, over its middle (DuckDB's checksum
  error, whose "block" once read as "lock": "the warehouse is in use"), over the published
  copy's view database.
"""

from __future__ import annotations

import builtins
import errno
import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from pipeline.commands import cli
from pipeline.warehouse.faults import CORRUPT_WAREHOUSE, DISK_FULL, NOT_WRITABLE, explain
from tests.hostile_fixtures import good_institutions, run_tuoyu, tuoyu_env

pytestmark = pytest.mark.heavy(seconds=240)

DISK_FULL_ZH = "磁盘已满，无法再写入"
NOT_WRITABLE_ZH = "不能写入（只读，或本账户没有写入权限）"
CORRUPT_WAREHOUSE_ZH = "已损坏，无法读取；请从备份恢复该文件"
CORRUPT_PUBLISHED_ZH = "已损坏，无法查询；数据仓库不受影响，请运行一次 tuoyu run"


@pytest.fixture(scope="module")
def completed(tmp_path_factory) -> Path:
    """An inbox with June's institutions and the outputs of one completed `tuoyu run`."""
    root = tmp_path_factory.mktemp("completed")
    good_institutions(root / "inbox" / "托育机构_2023-06.csv", "2023-06")
    result = run_tuoyu(tuoyu_env(root / "inbox", root / "out", key=None), timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    return root


@pytest.fixture
def office(completed, tmp_path, monkeypatch) -> Path:
    """A copy of the completed run, and the environment of `tuoyu` in-process pointed at it."""
    shutil.copytree(completed, tmp_path / "office", symlinks=True)
    root = tmp_path / "office"
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith(("TUOYU_", "DAGSTER_"))]:
        monkeypatch.delenv(name)
    for name, value in tuoyu_env(root / "inbox", root / "out", key=None).items():
        if name.startswith("TUOYU_"):
            monkeypatch.setenv(name, value)
    return root


def _warehouse(root: Path) -> Path:
    return root / "out" / "warehouse" / "warehouse.duckdb"


def _published(root: Path) -> Path:
    return root / "out" / "warehouse" / "published" / "tuoyu.duckdb"


def _july(root: Path) -> None:
    """Something new, so that the next run has to write: July's institutions."""
    good_institutions(root / "inbox" / "托育机构_2023-07.csv", "2023-07")


def _one_sentence(output: str, words: str) -> None:
    assert words in output, output[-3000:]
    assert "Traceback" not in output and "Stack Trace" not in output, output[-3000:]


def _retries(root: Path) -> tuple[int, int]:
    """(step failures, retries) in the run history of the warehouse's Dagster instance."""
    failures = retries = 0
    for db in (root / "out" / "warehouse" / "dagster_home").glob("history/runs/*.db"):
        with sqlite3.connect(db) as con:
            for kind, n in con.execute("select dagster_event_type, count(*) from event_logs group by 1"):
                failures += n if kind == "STEP_FAILURE" else 0
                retries += n if kind == "STEP_UP_FOR_RETRY" else 0
    return failures, retries


# ---------------------------------------------------------------- explain


def test_a_full_disk_behind_a_failed_rollback_is_found():
    """The probe's case 6: DuckDB's write failed, then the rollback failed too, and only the
    rollback's message ('cannot rollback - no transaction is active') reached the office."""
    try:
        try:
            raise duckdb.IOException('IO Error: Could not write file "/w/warehouse.duckdb.wal": '
                                     "No space left on device")
        except duckdb.IOException:
            raise duckdb.TransactionException("TransactionContext Error: cannot rollback - no transaction is active")
    except duckdb.TransactionException as exc:
        fault = explain(exc)
    assert fault is not None and fault.kind == DISK_FULL and fault.path == Path("/w/warehouse.duckdb.wal")
    assert str(fault).startswith(DISK_FULL_ZH)


@pytest.mark.parametrize("number, kind", [(errno.ENOSPC, DISK_FULL), (errno.EDQUOT, DISK_FULL),
                                          (errno.EFBIG, DISK_FULL), (errno.EACCES, NOT_WRITABLE),
                                          (errno.EROFS, NOT_WRITABLE), (errno.ENOENT, None)])
def test_os_errors_by_number(number, kind):
    fault = explain(OSError(number, os.strerror(number), "/r/2024-06/report_2024-06.pdf"))
    assert (fault.kind if fault else None) == kind


def test_other_errors_are_not_faults():
    assert explain(ValueError("no")) is None
    assert explain(duckdb.CatalogException("Catalog Error: Table with name x does not exist!")) is None


# ---------------------------------------------------------------- a full disk


# `tuoyu run` with its files limited to 200 kB: the limit is set, then the console script's
# main runs. (Python ignores SIGXFSZ: a write past the limit fails with EFBIG.)
SMALL_DISK = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
              "from pipeline.commands.cli import main; sys.exit(main(sys.argv[1:]))")


def test_a_full_disk_stops_the_run_with_one_sentence(office):
    """For real: the run's files may not grow past 200 kB (RLIMIT_FSIZE), like a disk that
    fills up during the run. Then, with the space back, the next run completes."""
    _july(office)
    env = tuoyu_env(office / "inbox", office / "out", key=None)
    result = run_tuoyu(env, argv=[sys.executable, "-c", SMALL_DISK, "run"], timeout=300)
    assert result.returncode == 2, result.output[-3000:]
    _one_sentence(result.output, DISK_FULL_ZH)
    assert "然后重新运行 tuoyu run" in result.output

    again = run_tuoyu(env, timeout=300)
    assert again.returncode == 0 and "运行完成" in again.output, again.output[-3000:]


def test_a_full_disk_while_writing_the_report_is_not_retried(office, monkeypatch, capsys):
    """In-process: the report's file writer fails with ENOSPC. A retry would call it again
    (twice more, 15 s apart); it is called once, and the run says what to do."""
    from pipeline.report import render

    _july(office)
    calls = []

    def full_disk(path: Path, content: bytes) -> None:
        calls.append(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(render, "write_atomic", full_disk)
    code = cli.main(["run"])
    err = capsys.readouterr().err
    assert code == 2
    _one_sentence(err, DISK_FULL_ZH)
    assert len(calls) == 1  # no retry
    assert _retries(office) == (1, 0)


# ---------------------------------------------------------------- a folder that cannot be written


# `tuoyu run` in a mount namespace of its own (what `unshare -m` does: unshare(2), then no
# mount propagates back) in which the folder sys.argv[1] is bound read-only on itself.
READ_ONLY_MOUNT = """
import ctypes, os, subprocess, sys
if ctypes.CDLL(None, use_errno=True).unshare(0x00020000) != 0:  # CLONE_NEWNS
    raise OSError(ctypes.get_errno(), "unshare")
folder = sys.argv[1]
for command in (["mount", "--make-rprivate", "/"], ["mount", "--bind", folder, folder],
                ["mount", "-o", "remount,ro,bind", folder, folder]):
    subprocess.run(command, check=True)
from pipeline.commands.cli import main
sys.exit(main(sys.argv[2:]))
"""


@functools.cache
def _can_mount_read_only() -> bool:
    probe = Path(tempfile.mkdtemp())
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" "$0" && '
                               'mount -o remount,ro,bind "$0" && ! touch "$0/x"', str(probe)],
                              capture_output=True, timeout=30)
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _read_only(folder: Path, env: dict[str, str], monkeypatch, capsys) -> tuple[int, str]:
    """`tuoyu run` with `folder` read-only, by the first of these that this machine allows:
    chmod 0555 (an ordinary user), a read-only bind mount in the run's own mount namespace
    (root), or, failing both, in-process with every Python write under `folder` failing
    with EROFS (DuckDB's own writes are not reached that way: the run lock's file, which
    Python opens first, fails instead)."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            result = run_tuoyu(env, timeout=300)
        finally:
            folder.chmod(mode)
        return result.returncode, result.output
    if _can_mount_read_only():
        result = run_tuoyu(env, argv=[sys.executable, "-c", READ_ONLY_MOUNT, str(folder), "run"], timeout=300)
        return result.returncode, result.output
    inside = str(folder.resolve()) + os.sep
    real_open, real_mkstemp = builtins.open, tempfile.mkstemp

    def refuse(path) -> None:
        if str(Path(path).resolve()).startswith(inside):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, Path)) and any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def mkstemp(*args, dir=None, **kwargs):
        refuse(Path(dir or ".") / "x")
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    try:
        code = cli.main(["run"])
    finally:
        monkeypatch.undo()
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_read_only_warehouse_folder_stops_the_run_and_the_next_run_completes(office, monkeypatch, capsys):
    _july(office)
    env = tuoyu_env(office / "inbox", office / "out", key=None)
    folder = _warehouse(office).parent
    code, output = _read_only(folder, env, monkeypatch, capsys)
    assert code == 2, output[-3000:]
    _one_sentence(output, NOT_WRITABLE_ZH)
    assert f"文件夹 {folder}" in output  # the folder named

    again = run_tuoyu(env, timeout=300)
    assert again.returncode == 0 and "新载入 1 个文件" in again.output, again.output[-3000:]


def test_a_read_only_reports_folder_stops_the_run_without_retry(office, monkeypatch, capsys):
    _july(office)
    env = tuoyu_env(office / "inbox", office / "out", key=None)
    reports = office / "out" / "reports"
    code, output = _read_only(reports, env, monkeypatch, capsys)
    assert code == 2, output[-3000:]
    _one_sentence(output, NOT_WRITABLE_ZH)
    assert f"文件夹 {reports}" in output  # a folder of the reports named
    failures, retries = _retries(office)
    assert failures == 1 and retries == 0  # the report step failed once and was not tried again

    again = run_tuoyu(env, timeout=300)
    assert again.returncode == 0 and (reports / "2023-07" / "report_2023-07.pdf").is_file(), again.output[-3000:]


# ---------------------------------------------------------------- corrupt files


def _garble(path: Path, start: int = 0, end: int | None = None) -> None:
    """Random bytes over `path` from `start` to `end` (the file's end when None)."""
    size = path.stat().st_size
    end = size if end is None else end
    path.chmod(0o600)
    with open(path, "r+b") as handle:
        handle.seek(start)
        handle.write(os.urandom(end - start))


@pytest.mark.parametrize("where", ["whole", "middle"])
def test_a_corrupt_warehouse_is_said_by_run_status_and_sql(office, capsys, where):
    """Random bytes over the whole file (not a DuckDB file at all), or over its middle (a
    checksum error). `tuoyu sql` reads the published copy, which is whole: it still works."""
    from pipeline.analysts.publish import publish

    warehouse = _warehouse(office)
    with duckdb.connect(str(warehouse)) as con:  # the copy's own published copy (views hold absolute paths)
        publish(con, warehouse)
    if where == "whole":
        _garble(warehouse)
    else:
        _garble(warehouse, 300_000, warehouse.stat().st_size - 100_000)
    for argv in (["run"], ["status"]):
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        _one_sentence(err, f"数据仓库文件 {warehouse} {CORRUPT_WAREHOUSE_ZH}")
        assert "正被另一个程序占用" not in err
    assert cli.main(["sql", "select count(*) as n from audit.load_log"]) == 0
    assert capsys.readouterr().out.split()[2] == "1"  # the header, a rule, then the count


@pytest.mark.parametrize("which", ["view database", "parquet file"])
def test_a_corrupt_published_copy_is_said_by_sql_and_rebuilt_by_the_next_run(office, capsys, which):
    """Random bytes over the view database analysts open, or over one Parquet file of the
    newest version. The next run, with nothing new in the inbox, sees that the copy is not
    whole and publishes it again."""
    from pipeline.analysts.publish import publish, version_folders

    with duckdb.connect(str(_warehouse(office))) as con:  # the copy's own published copy
        publish(con, _warehouse(office))
    published = _published(office)
    if which == "parquet file":
        published = version_folders(published.parent)[-1] / "audit.load_log.parquet"
    _garble(published)
    code = cli.main(["sql", "select count(*) as n from audit.load_log"])
    err = capsys.readouterr().err
    assert code == 2
    _one_sentence(err, f"发布副本 {published} {CORRUPT_PUBLISHED_ZH}")
    assert cli.main(["status"]) == 0  # the warehouse is not affected
    capsys.readouterr()
    assert cli.main(["run"]) == 0
    assert "没有新的或修改过的文件" in capsys.readouterr().out  # nothing new, and yet published again
    assert cli.main(["sql", "select count(*) as n from audit.load_log"]) == 0
    assert "Error" not in capsys.readouterr().err


def test_the_kinds_name_their_folder(tmp_path):
    """The sentence names the folder a file of which could not be written."""
    fault = explain(OSError(errno.EACCES, "Permission denied", str(tmp_path / "x.pdf")))
    assert fault.kind == NOT_WRITABLE and f"文件夹 {tmp_path} " in str(fault)
    corrupt = explain(duckdb.IOException(f'IO Error: The file "{tmp_path}/w.duckdb" exists, but it is not a '
                                         "valid DuckDB database file!"))
    assert corrupt.kind == CORRUPT_WAREHOUSE


def test_a_full_disk_in_validation_sets_no_file_aside(tmp_path, monkeypatch):
    """Validation sets aside a file whose month fails alone (test_hostile_deliveries.py); a
    full disk met while validating is no file's fault: it is raised at once, no month is
    validated alone and nothing is set aside."""
    from pipeline.validate import run

    scopes = []

    def validate(path, scope, **kwargs):  # July's write meets a full disk; June's would pass
        scopes.append(scope)
        if "2024-07" in scope["institutions"]:
            raise duckdb.IOException('IO Error: Could not write file "/w/warehouse.duckdb.wal": '
                                     "No space left on device")
        return None

    monkeypatch.setattr(run, "validate", validate)
    scope = {"institutions": ["2024-06", "2024-07"]}
    with pytest.raises(duckdb.IOException):
        run.validate_or_set_aside(tmp_path / "warehouse.duckdb", scope)
    assert scopes == [scope]  # not month by month
