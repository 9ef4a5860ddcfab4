"""Fixtures of the reliability tests: hostile files, and `tuoyu run` as a subprocess.

Hostile files (each builder says what is wrong with what it writes):

    random_bytes(path, n, seed)       bytes of no format at all, under any name
    zip_bomb(path, declared)          an XLSX-named zip whose one entry declares `declared`
                                      bytes of zeros (built in milliseconds, see the function)
    lying_zip_bomb(path, inflated)    a workbook whose sheet declares 1000 bytes and inflates
                                      to `inflated`
    million_rows_csv(path, rows)      a valid enrollment CSV of `rows` rows, built by bytes
                                      repetition (under a second): the same child each row
    csv_text, good_institutions       hand-made CSVs, and a valid file to load beside them

Runs (`run_tuoyu`, `sample_run`): the console command's `main` in a process of its own, in
its own process group, with its own TUOYU_* environment (nothing inherited from the
caller's), so that a test can SIGKILL it and look at what it left behind. On Linux the
process is forked from the warm server (tests/warm_server.py, the libraries imported once
per test process; `warm_start`, `WarmPopen`); elsewhere it is started as it is. `sample_run` is the
uninterrupted run of the small sample that both the kill harness and the personal-data
audit compare against: made once per test session.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.conftest import shared_once
from tests.extract_fixtures import ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row

# The console command, next to the interpreter running the tests (uv's .venv/bin/tuoyu).
TUOYU = Path(sys.executable).with_name("tuoyu")
# A distinctive pseudonym key: the personal-data audit searches every output for it.
AUDIT_KEY = "Kq7-reliability-audit-key-3f9c1e58-not-demo"
SAMPLE_MONTHS = ("2023-01", "2023-06")


# ------------------------------------------------------------------ hostile files


def random_bytes(path: Path, n: int = 4096, seed: int = 1, *, nul: bool = True) -> Path:
    """`n` pseudo-random bytes: no encoding, no zip, no header (`nul=False`: no zero byte,
    so that the file is not refused as binary at once but goes through decoding)."""
    import random

    data = random.Random(seed).randbytes(n)
    if not nul:
        data = data.replace(b"\0", b"\1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def zip_bomb(path: Path, declared: int = 1 << 30) -> Path:
    """A zip named .xlsx with one entry `xl/worksheets/sheet1.xml` of `declared` zero bytes.

    Writing a real gigabyte of zeros through zipfile would take seconds; instead the
    deflate stream is one compressed 1 MiB block of zeros repeated (a full flush ends each
    block on a byte boundary with no reference to earlier data, so copies can be chained),
    under a local header and a central directory carrying the true sizes and CRC. The file
    is about 1 MB on disk and truthfully inflates to `declared` bytes.
    """
    block = 1 << 20
    assert declared % block == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush(zlib.Z_FINISH)  # an empty final block
    payload = chunk * (declared // block) + tail
    crc = 0
    zero_block = bytes(block)
    for _ in range(declared // block):
        crc = zlib.crc32(zero_block, crc)
    info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", date_time=(2023, 7, 5, 9, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.CRC, info.compress_size, info.file_size = crc, len(payload), declared
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        # The local header goes first with the sizes set above; then the payload as is.
        raw.write(info.FileHeader(zip64=False))
        raw.write(payload)
        central = raw.tell()
        # The central directory that every reader (and our size check) consults.
        name = info.filename.encode()
        raw.write(_central_entry(info, name))
        size = raw.tell() - central
        raw.write(b"PK\x05\x06" + (0).to_bytes(2, "little") * 2 + (1).to_bytes(2, "little") * 2
                  + size.to_bytes(4, "little") + central.to_bytes(4, "little") + (0).to_bytes(2, "little"))
    return path


def _central_entry(info: zipfile.ZipInfo, name: bytes) -> bytes:
    import struct

    dostime = info.date_time[3] << 11 | info.date_time[4] << 5 | info.date_time[5] // 2
    dosdate = (info.date_time[0] - 1980) << 9 | info.date_time[1] << 5 | info.date_time[2]
    return struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, info.compress_type,
                       dostime, dosdate, info.CRC, info.compress_size, info.file_size,
                       len(name), 0, 0, 0, 0, 0, 0) + name


def lying_zip_bomb(path: Path, inflated: int = 64 << 20, declared: int = 1000) -> Path:
    """A real workbook (the institutions header, then one cell of `inflated` letters x) whose
    sheet declares `declared` bytes: a check of declared sizes alone lets it through, and
    the workbook reader, which trusts the stream, would inflate all of it."""
    import io
    import struct

    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for col, header in enumerate(INSTITUTION_HEADER):
        sheet.write(0, col, header)
    book.close()
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    xml = source.read("xl/worksheets/sheet1.xml")
    head, tail = xml.split(b"</sheetData>")
    cell = b"<row r='2'><c r='C2' t='inlineStr'><is><t>" + b"x" * inflated + b"</t></is></c></row>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for info in source.infolist():
            z.writestr(info.filename, head + cell + b"</sheetData>" + tail
                       if info.filename == "xl/worksheets/sheet1.xml" else source.read(info))
    data = bytearray(out.getvalue())
    member = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    struct.pack_into("<I", data, member.header_offset + 22, declared)  # local header
    at = data.find(b"PK\x01\x02")
    while at != -1:  # the central directory entry of the sheet
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46:at + 46 + length]) == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, at + 24, declared)
        at = data.find(b"PK\x01\x02", at + 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def million_rows_csv(path: Path, rows: int = 1_000_000, period: str = "2023-06") -> Path:
    """An enrollment CSV of `rows` identical, valid rows (one child id): built by `bytes * n`."""
    line = ",".join(child_row(period=period)) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((",".join(ENROLLMENT_HEADER) + "\n").encode() + line.encode() * rows)
    return path


def csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    """CSV with minimal quoting (a cell with a comma, quote or line break is quoted)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def good_institutions(path: Path, period: str = "2023-06", n: int = 2) -> Path:
    """A valid institutions file of `n` rows: the "rest of the inbox" that must still load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(INSTITUTION_HEADER, [institution_row(period=period, iid=f"JG{i:02d}")
                                                   for i in range(1, n + 1)]))
    return path


# ------------------------------------------------------------------ running `tuoyu run`


def tuoyu_env(inbox: Path, out: Path, *, key: str | None = AUDIT_KEY, dagster_home: Path | None = None,
              tmpdir: Path | None = None, debug: bool = False) -> dict[str, str]:
    """The environment of one run: TUOYU_* from these arguments only, outputs under `out`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUOYU_", "DAGSTER_")) and k not in ("PYTHONSTARTUP",)}
    env.update({
        "TUOYU_INBOX": str(inbox),
        "TUOYU_WAREHOUSE": str(out / "warehouse" / "warehouse.duckdb"),
        "TUOYU_REPORTS": str(out / "reports"),
        "TUOYU_LOCK_WAIT": "5",
        "PYTHONUNBUFFERED": "1",
    })
    if key is None:
        env["TUOYU_DEMO"] = "1"
    else:
        env["TUOYU_PSEUDONYM_KEY"] = key
    if dagster_home is not None:
        dagster_home.mkdir(parents=True, exist_ok=True)
        env["DAGSTER_HOME"] = str(dagster_home)
    if tmpdir is not None:
        tmpdir.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(tmpdir)
    if debug:
        env["TUOYU_LOG_LEVEL"] = "DEBUG"
    return env


@dataclass
class RunOutput:
    returncode: int
    output: str
    seconds: float
    killed: bool = False
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)
    peak_rss_mb: float = 0.0  # the largest resident set of the process (its children not counted)


def run_tuoyu(env: dict[str, str], *, argv: list[str] | None = None, timeout: float = 600,
              kill_after: float | None = None, on_line=None) -> RunOutput:
    """Run `tuoyu run` (or `argv`) in a new process group; stdout and stderr together.

    `kill_after` seconds after the start, or when `on_line(seconds, line, kill)` calls
    `kill()`, the whole process group gets SIGKILL at once. The console script and
    `python -c CODE` are forked from the warm server (tests/warm_server.py); anything else
    is started as it is.
    """
    argv = argv or [str(TUOYU), "run"]
    started = time.monotonic()
    cwd = env.get("TUOYU_TEST_CWD")
    proc = warm_start(argv, env, cwd) or _ColdProcess(argv, env, cwd)
    killed = threading.Event()

    def kill() -> None:
        if not killed.is_set():
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # a warm child not yet in its own group, or gone
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    timer = threading.Timer(timeout if kill_after is None else min(timeout, kill_after), kill)
    timer.start()
    lines: list[tuple[float, str]] = []
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            at = time.monotonic() - started
            lines.append((at, line))
            if on_line is not None:
                on_line(at, line, kill)
        returncode, maxrss_kb = proc.wait()
    finally:
        timer.cancel()
        proc.stdout.close()
    return RunOutput(returncode, "\n".join(line for _, line in lines),
                     time.monotonic() - started, killed.is_set() or returncode == -signal.SIGKILL, lines,
                     maxrss_kb / 1024)  # Linux reports kilobytes


class _ColdProcess:
    """A process started as it is (subprocess), in a new session."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | None) -> None:
        self._proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      start_new_session=True, cwd=cwd)
        self.pid, self.stdout = self._proc.pid, self._proc.stdout

    def wait(self) -> tuple[int, int]:
        """(exit code, peak resident set in kB): wait4, not Popen.wait(), for the latter."""
        _, status, usage = os.wait4(self.pid, 0)
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        return self._proc.returncode, usage.ru_maxrss


class _WarmProcess:
    """A child of the warm server: its pid, its output pipe(s), and the server's word on its end."""

    def __init__(self, connection: socket.socket, pid: int, pipes: list) -> None:
        self._connection, self.pid, self.pipes = connection, pid, pipes
        self.stdout = pipes[0]
        self.returncode: int | None = None
        self.maxrss_kb = 0

    def _end(self, block: bool) -> bool:
        """Read the server's word on the child's end (at most once); False: not yet."""
        if self.returncode is not None:
            return True
        if not block and not select.select([self._connection], [], [], 0)[0]:
            return False
        try:
            message = self._connection.recv(1 << 16)
        finally:
            self._connection.close()
        if not message:
            raise RuntimeError("the warm server ended before reporting its child's exit")
        end = json.loads(message)
        self.returncode, self.maxrss_kb = end["returncode"], end["maxrss_kb"]
        return True

    def wait(self) -> tuple[int, int]:
        self._end(block=True)
        return self.returncode, self.maxrss_kb


class WarmPopen(_WarmProcess):
    """The parts of subprocess.Popen (text mode, stdout and stderr apart) that
    tests/test_concurrency.py uses, for a child of the warm server."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | Path) -> None:
        started = warm_start(argv, env, str(cwd), outputs=2)
        if started is None:
            raise ValueError(f"not a command the warm server runs: {argv}")
        self.__dict__.update(started.__dict__)
        self.stdout, self.stderr = (io.TextIOWrapper(pipe, encoding="utf-8") for pipe in self.pipes)

    def poll(self) -> int | None:
        self._end(block=False)
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, number)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        texts: dict[int, str] = {}
        readers = [threading.Thread(target=lambda i=i, pipe=pipe: texts.__setitem__(i, pipe.read()), daemon=True)
                   for i, pipe in enumerate((self.stdout, self.stderr))]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout)
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.pid, timeout)
        self.wait()
        self.stdout.close()
        self.stderr.close()
        return texts[0], texts[1]


_warm_lock = threading.Lock()
_warm: dict[str, object] = {}


def _warm_socket() -> str:
    """The warm server of this test process (started on first use), by its socket path."""
    with _warm_lock:
        server = _warm.get("server")
        if server is None or server.poll() is not None:
            folder = tempfile.mkdtemp(prefix="tuoyu-warm-")
            path = os.path.join(folder, "socket")
            if len(path.encode()) > 100:  # a long TMPDIR: a Unix socket's path has at most 107 bytes
                path = os.path.join(tempfile.mkdtemp(prefix="tuoyu-warm-", dir="/tmp"), "socket")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TUOYU_", "DAGSTER_"))}
            server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("warm_server.py")), path],
                                      env={**env, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
            ready = server.stdout.readline().strip()
            if ready != "ready":
                server.kill()
                raise RuntimeError(f"the warm server did not start: {ready!r}")
            _warm.update(server=server, path=path)
            atexit.register(server.stdin.close)  # the server ends when its input closes
        return _warm["path"]


def start_process(argv: list[str], env: dict[str, str], cwd: str | Path) -> WarmPopen | subprocess.Popen:
    """`argv` as a process with stdout and stderr apart (text): forked from the warm server
    where it runs, else started as it is."""
    if WARM:
        return WarmPopen(argv, env, cwd)
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# The warm server needs Linux (fork, SCM_RIGHTS over SOCK_SEQPACKET, PR_SET_PDEATHSIG);
# elsewhere every process is started as it is.
WARM = sys.platform == "linux"


def warm_start(argv: list[str], env: dict[str, str], cwd: str | None, outputs: int = 1) -> _WarmProcess | None:
    """Fork `argv` from the warm server when it is the console script, `python -c` or
    `python -m pipeline.commands.cli`; `outputs` 1: stdout and stderr on one pipe, 2: apart.
    None: started otherwise (not such a command, or not on Linux)."""
    if not WARM:
        return None
    if argv[0] == str(TUOYU):
        code, args = None, [str(TUOYU), *argv[1:]]
    elif argv[:3] == [sys.executable, "-m", "pipeline.commands.cli"]:
        code, args = None, [str(TUOYU), *argv[3:]]
    elif argv[:2] == [sys.executable, "-c"]:
        code, args = argv[2], ["-c", *argv[3:]]
    else:
        return None
    pipes = [os.pipe() for _ in range(outputs)]
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(_warm_socket())
        request = {"argv": args, "code": code, "env": env, "cwd": cwd or os.getcwd()}
        socket.send_fds(connection, [json.dumps(request).encode()], [write for _, write in pipes])
    except BaseException:
        for read, _ in pipes:
            os.close(read)
        connection.close()
        raise
    finally:
        for _, write in pipes:
            os.close(write)
    reply = connection.recv(1 << 16)
    if not reply:
        for read, _ in pipes:
            os.close(read)
        connection.close()
        raise RuntimeError("the warm server did not fork the run")
    return _WarmProcess(connection, json.loads(reply)["pid"], [os.fdopen(read, "rb") for read, _ in pipes])


@dataclass(frozen=True)
class SampleRun:
    """An uninterrupted run of the small sample: its inbox, outputs and what it printed."""

    inbox: Path
    out: Path
    dagster_home: Path
    tmpdir: Path
    result: RunOutput

    @property
    def warehouse(self) -> Path:
        return self.out / "warehouse" / "warehouse.duckdb"

    @property
    def reports(self) -> Path:
        return self.out / "reports"

    @property
    def published(self) -> Path:
        return self.out / "warehouse" / "published"

    @property
    def archive(self) -> Path:
        return self.out / "warehouse" / "raw-archive"


def sample_inbox(tmp_path_factory) -> Path:
    """The small sample inbox (six months), written once per test session; never modified."""
    from pipeline.reference import default_reference_folder
    from pipeline.sample import generate_test_sample

    def make(root: Path) -> dict:
        generate_test_sample(root, default_reference_folder(), start=SAMPLE_MONTHS[0], end=SAMPLE_MONTHS[1])
        return {}

    root, _ = shared_once(tmp_path_factory, "sample", make)
    return root / "inbox"


def sample_run(tmp_path_factory) -> SampleRun:
    """`tuoyu run` on the sample, uninterrupted: the audit key, logging at DEBUG (the most a
    log can say), a DAGSTER_HOME on disk and a TMPDIR of its own, all searched afterwards.
    Run once per test session (the kill harness and the personal-data audit share it)."""
    inbox = sample_inbox(tmp_path_factory)

    def make(root: Path) -> dict:
        env = tuoyu_env(inbox, root / "out", dagster_home=root / "dagster-home", tmpdir=root / "tmp", debug=True)
        result = run_tuoyu(env)
        assert result.returncode == 0, result.output[-3000:]
        return asdict(result)

    root, result = shared_once(tmp_path_factory, "uninterrupted", make)
    result["lines"] = [tuple(line) for line in result["lines"]]
    return SampleRun(inbox, root / "out", root / "dagster-home", root / "tmp", RunOutput(**result))
