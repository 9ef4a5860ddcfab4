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

Runs (`run_tuoyu`, `sample_run`): the real console command `tuoyu run`, in its own
process group, with its own TUOYU_* environment (nothing inherited from the caller's),
so that a test can SIGKILL it and look at what it left behind. `sample_run` is the
uninterrupted run of the small sample that both the kill harness and the personal-data
audit compare against: made once per test session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
    `kill()`, the whole process group gets SIGKILL at once.
    """
    argv = argv or [str(TUOYU), "run"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=env.get("TUOYU_TEST_CWD"))
    killed = threading.Event()

    def kill() -> None:
        if not killed.is_set():
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
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
        # wait4, not proc.wait(): the process's own peak memory comes with its exit status
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        timer.cancel()
        proc.stdout.close()
    return RunOutput(proc.returncode, "\n".join(line for _, line in lines),
                     time.monotonic() - started, killed.is_set() or proc.returncode == -signal.SIGKILL, lines,
                     usage.ru_maxrss / 1024)  # Linux reports kilobytes


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
