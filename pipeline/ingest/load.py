"""Bringing the inbox into the warehouse (extract-format.md §1 and §5).

Every file version seen gets one row in `audit.load_log`; every recognised version is
copied, as delivered, into the raw archive; the current version of each kind × month is
parsed into `staging.<kind>`, replacing the month's rows in one transaction. Months whose
rows changed are queued in `audit.pending_validation` for the suites.

Only file versions not seen before are read. While one file's rows are written into the
warehouse, worker threads already read and parse the next ones (`_read_ahead`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipeline.ingest.extracts.files import InboxFile, current_versions, discover
from pipeline.ingest.extracts.ids import Pseudonymiser
from pipeline.ingest.extracts.parse import to_staging
from pipeline.ingest.extracts.read import FileRejected, RawTable, read_extract
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.warehouse.schema import KINDS, create_tables

log = logging.getLogger(__name__)

# Files read and parsed ahead of the one being written (each a parsed month in memory).
READ_AHEAD = 3
# While the files are written, DuckDB checkpoints (compresses the new rows into the file)
# only when its write-ahead log exceeds this, instead of after nearly every file at the
# default 16 MiB: the same work done once rather than again and again. A run killed
# before the checkpoint replays the log on the next start.
INGEST_CHECKPOINT_THRESHOLD = "1GB"

_PENDING_DDL = "create table if not exists audit.pending_validation (kind varchar not null, period varchar not null)"


@dataclass
class IngestResult:
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)
    scope: dict[str, set[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "loaded": len(self.loaded),
            "unchanged": len(self.unchanged),
            "superseded": len(self.superseded),
            "file_rejected": len(self.rejected),
            "unrecognised": len(self.unrecognised),
        }


class InboxMissing(Exception):
    pass


def archive_copy(f: InboxFile, archive: Path) -> Path:
    """Copy one file version into the raw archive (owner-only), once; never overwrite."""
    archive.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(archive, 0o700)
    ext = f.name.ext if f.name else "bin"
    target = archive / f"{f.sha256}.{ext}"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=archive, prefix=".incoming-")
        os.close(fd)
        try:
            os.chmod(tmp, 0o600)
            shutil.copyfile(f.path, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


def _remove_incomplete_copies(archive: Path) -> None:
    """A run killed while copying leaves `.incoming-*` behind: never a version, remove it."""
    if archive.is_dir():
        for leftover in archive.glob(".incoming-*"):
            leftover.unlink(missing_ok=True)


def _log_row(con: duckdb.DuckDBPyConnection, f: InboxFile, status: str, message: str | None,
             now: datetime, rows_read: int | None = None, rows_duplicate: int | None = None) -> None:
    con.execute(
        """
        insert into audit.load_log (file_path, kind, period, sha256, rows_read, rows_accepted,
            rows_rejected, rows_duplicate, status, message, loaded_at, size_bytes, modified_at)
        values (?, ?, ?, ?, ?, null, null, ?, ?, ?, ?, ?, ?)
        """,
        [f.rel_path, f.kind, f.period, f.sha256 or None, rows_read, rows_duplicate, status, message,
         now, f.size_bytes, f.modified_at],
    )


def _known(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    rows = con.execute("select file_path, coalesce(sha256, ''), status from audit.load_log").fetchall()
    return {(p, s): status for p, s, status in rows}


def _loaded(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, str]]:
    rows = con.execute("select kind, period, sha256, file_path from audit.load_log where status = 'loaded'").fetchall()
    return {(k, p): (s, path) for k, p, s, path in rows}


def _same_bytes_other_month(loaded: dict[tuple[str, str], tuple[str, str]], f: InboxFile) -> tuple[str, str] | None:
    """(month, path) of a loaded file of the same kind and another month with these very bytes."""
    for (kind, period), (sha256, path) in sorted(loaded.items()):
        if kind == f.name.kind and period != f.name.period and sha256 == f.sha256:
            return period, path
    return None


def _stage(con: duckdb.DuckDBPyConnection, f: InboxFile, frame: pl.DataFrame, message: str,
           known_status: str | None, now: datetime) -> None:
    """Replace the month's rows of this kind by this version, in one transaction."""
    kind, period = f.name.kind, f.name.period
    rows_read = frame.height
    rows_duplicate = int(frame.get_column("is_duplicate").sum())
    con.execute("begin transaction")
    try:
        con.execute(f"delete from staging.{kind} where period_file = ?", [period])
        con.register("incoming_rows", frame)
        con.execute(f"insert into staging.{kind} by name select * from incoming_rows")
        con.unregister("incoming_rows")
        con.execute(
            "update audit.load_log set status = 'superseded', message = ? "
            "where kind = ? and period = ? and status = 'loaded'",
            [f"已被新版本 {f.rel_path} 取代（修订）。Superseded by a revised file.", kind, period],
        )
        if known_status is not None:
            con.execute("delete from audit.load_log where file_path = ? and sha256 = ?", [f.rel_path, f.sha256])
        _log_row(con, f, "loaded", message, now, rows_read, rows_duplicate)
        con.execute("delete from audit.pending_validation where kind = ? and period = ?", [kind, period])
        con.execute("insert into audit.pending_validation values (?, ?)", [kind, period])
        if kind == "institutions":  # enrollment and staff are judged against the month's institutions
            for other in ("enrollment", "staffing"):
                con.execute("delete from audit.pending_validation where kind = ? and period = ?", [other, period])
                con.execute("insert into audit.pending_validation values (?, ?)", [other, period])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


_Parsed = tuple[InboxFile, RawTable, pl.DataFrame]


def _read(f: InboxFile) -> tuple[InboxFile, RawTable]:
    return f, read_extract(f.path, f.name.kind, f.name.ext, f.rel_path)


def _parse(read: Future[tuple[InboxFile, RawTable]], pseudonymiser: Pseudonymiser) -> _Parsed:
    f, table = read.result()  # a FileRejected raised by the reader is raised here, in order
    frame = to_staging(table.rows, f.name.kind, sha256=f.sha256, period_file=f.name.period,
                       xlsx=f.name.ext == "xlsx", pseudonymiser=pseudonymiser)
    return f, table, frame


def _read_ahead(files: list[InboxFile], pseudonymiser: Pseudonymiser,
                ahead: int = READ_AHEAD) -> Iterator[Future[_Parsed]]:
    """The futures of each file's parsed rows, in order, while up to `ahead` files are read
    and parsed in advance: one thread reads files (polars, fastexcel), a second parses and
    pseudonymises them, and the caller writes the previous file into the warehouse (DuckDB),
    all three releasing the GIL for their heavy work. The parser is one thread taking the
    files in order, so the pseudonymiser (not thread-safe) sees the months in order."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tuoyu-read") as readers, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tuoyu-parse") as parsers:
        pending: deque[tuple[Future, Future[_Parsed]]] = deque()
        try:
            for f in files:
                read = readers.submit(_read, f)
                pending.append((read, parsers.submit(_parse, read, pseudonymiser)))
                if len(pending) > ahead:
                    yield pending.popleft()[1]
            while pending:
                yield pending.popleft()[1]
        finally:
            for read, parsed in pending:
                parsed.cancel()
                read.cancel()


def _inbox_missing(inbox: Path) -> InboxMissing:
    return InboxMissing(
        f"收件箱文件夹不存在或在运行中被移走：{inbox}。请检查 TUOYU_INBOX 设置，恢复文件夹后重新运行。"
        f" Inbox folder not found (or removed during the run): {inbox}."
    )


def ingest_inbox(con: duckdb.DuckDBPyConnection, inbox: Path, archive: Path, key: bytes,
                 progress: Callable[[str], None] | None = None) -> IngestResult:
    if not inbox.is_dir():
        raise _inbox_missing(inbox)
    _remove_incomplete_copies(archive)
    con.execute(f"set checkpoint_threshold = '{INGEST_CHECKPOINT_THRESHOLD}'")
    try:
        return _ingest_inbox(con, inbox, archive, key, progress)
    except OSError:
        if not inbox.is_dir():  # the folder vanished mid-run: say so, not a stack trace
            raise _inbox_missing(inbox) from None
        raise
    finally:
        con.execute("reset checkpoint_threshold")


def _ingest_inbox(con: duckdb.DuckDBPyConnection, inbox: Path, archive: Path, key: bytes,
                  progress: Callable[[str], None] | None = None) -> IngestResult:
    create_tables(con)
    con.execute(_PENDING_DDL)
    now = datetime.now().replace(microsecond=0)
    result = IngestResult()
    files = discover(inbox)
    known = _known(con)
    loaded = _loaded(con)
    pseudonymiser = Pseudonymiser(key)
    current, superseded = current_versions(files)

    for f in files:
        if f.name is None or f.problem is not None:
            result.unrecognised.append(f.rel_path)
            if (f.rel_path, f.sha256) not in known:
                message = f.problem or (
                    "文件名不符合规定（应为 托育机构_/在托幼儿_/从业人员_ 或 institutions_/enrollment_/staffing_ "
                    "加月份，如 托育机构_2023-06.csv），未读取，文件保留在收件箱。"
                    " File name not recognised; not read, left in the inbox."
                )
                _log_row(con, f, "unrecognised", message, now)

    def needs_reading(key: tuple[str, str], f: InboxFile) -> bool:
        previous = loaded.get(key)
        return not (previous and previous[0] == f.sha256) and known.get((f.rel_path, f.sha256)) != "file_rejected"

    ordered = sorted(current.items())
    reads = _read_ahead([f for key, f in ordered if needs_reading(key, f)], pseudonymiser)
    try:
        for (kind, period), f in ordered:
            archive_copy(f, archive)
            status = known.get((f.rel_path, f.sha256))
            previous = loaded.get((kind, period))
            label = f"{KIND_LABEL_ZH[kind]} {period}"
            if previous and previous[0] == f.sha256:
                if status is None:  # same bytes under another name: a no-op
                    _log_row(con, f, "unchanged", f"与已载入的 {previous[1]} 内容相同，未重复载入。Identical to a loaded file.", now)
                result.unchanged.append(f.rel_path)
                continue
            if status == "file_rejected":
                result.rejected.append((f.rel_path, "(earlier run)"))
                continue
            if progress:
                progress(f"reading {f.rel_path}")
            try:
                read, table, frame = next(reads).result()
            except FileRejected as exc:
                keep = f"此前载入的版本 {previous[1]} 继续有效。" if previous else "该月此类数据暂缺。"
                _log_row(con, f, "file_rejected", f"{exc.zh}{keep} {exc.en}", now)
                result.rejected.append((f.rel_path, exc.zh))
                log.warning("file rejected: %s: %s", f.rel_path, exc.en)
                continue
            if read is not f:  # cannot happen: reads are queued in this loop's order
                raise RuntimeError(f"read-ahead out of order: {read.rel_path} for {f.rel_path}")
            notes = [f"编码 {table.encoding}，表头在第 {table.header_row} 行"]
            twin = _same_bytes_other_month(loaded, f)
            if twin:
                notes.append(f"注意：本文件与 {twin[0]} 的 {twin[1]} 内容完全相同，疑似把其他月份的文件复制改名；"
                             "请核对后报送本月的文件")
            if table.extra_headers:
                notes.append("已忽略多余列：" + "、".join(table.extra_headers))
            if previous:
                notes.append(f"修订：取代 {previous[1]}")
            _stage(con, f, frame, "；".join(notes) + "。", status, now)
            rows = frame.height
            del frame  # the next files are already being read: hold no more than READ_AHEAD + 1
            result.loaded.append(f.rel_path)
            result.scope.setdefault(kind, set()).add(period)
            if kind == "institutions":
                for other in ("enrollment", "staffing"):
                    result.scope.setdefault(other, set()).add(period)
            log.info("loaded %s (%s): %d rows", f.rel_path, label, rows)
    finally:
        reads.close()

    current_by_sha = {f.sha256: f for f in current.values()}
    for f in files:
        if f.name is None or f.problem is not None or current.get((f.name.kind, f.name.period)) is f:
            continue
        archive_copy(f, archive)
        if (f.rel_path, f.sha256) in known:
            continue
        winner = current_by_sha.get(f.sha256)
        if winner is not None:
            _log_row(con, f, "unchanged", f"与 {winner.rel_path} 内容相同。Identical to another file.", now)
            result.unchanged.append(f.rel_path)
        else:
            cur = current[(f.name.kind, f.name.period)]
            _log_row(con, f, "superseded",
                     f"同月同类文件中 {cur.rel_path} 更新，本文件不使用。Superseded by a newer file of the same month.", now)
            result.superseded.append(f.rel_path)
    return result


def pending_scope(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    con.execute(_PENDING_DDL)
    rows = con.execute("select kind, period from audit.pending_validation order by kind, period").fetchall()
    scope: dict[str, list[str]] = {}
    for kind, period in rows:
        scope.setdefault(kind, []).append(period)
    return scope


def clear_pending(con: duckdb.DuckDBPyConnection, scope: dict[str, list[str]]) -> None:
    for kind, periods in scope.items():
        for period in periods:
            con.execute("delete from audit.pending_validation where kind = ? and period = ?", [kind, period])


__all__ = ["IngestResult", "InboxMissing", "ingest_inbox", "pending_scope", "clear_pending", "KINDS"]
