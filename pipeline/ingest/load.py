"""Bringing the inbox into the warehouse (extract-format.md §1 and §5).

Every file version seen gets one row in `audit.load_log`; every recognised version is
copied, as delivered, into the raw archive; the current version of each kind × month is
parsed into `staging.<kind>`, replacing the month's rows in one transaction. Months whose
rows changed are queued in `audit.pending_validation` for the suites.

Only file versions not seen before are read, each in one opening that follows no link:
the bytes read are hashed, archived and parsed, so the version recorded is the version
loaded even when the file is replaced meanwhile; a file gone by then is recorded as
`vanished`. While one file's rows are written into the warehouse, worker threads already
read and parse the next ones (`_read_ahead`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipeline.ingest.extracts.files import InboxFile, current_versions, discover
from pipeline.ingest.extracts.ids import Pseudonymiser
from pipeline.ingest.extracts.names import explain_name
from pipeline.ingest.extracts.parse import to_staging
from pipeline.ingest.extracts.read import FileRejected, RawTable, read_bytes, read_extract
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.ingest.extracts.wording import Wording
from pipeline.period import index as month_index
from pipeline.period import last_full_month, month_label, shift_month
from pipeline.settings import DEFAULT_FIRST_MONTH
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

# The first month a file may be of, unless the settings say otherwise (TUOYU_FIRST_MONTH).
# A load-log message is shown by `tuoyu status` and the run summary: never longer than this.
MAX_MESSAGE_CHARS = 2_000
# Statuses that keep a file version from being read again: a file rejected for what it
# holds (until it changes), a version the office withdrew (`tuoyu withdraw`).
STICKY = ("file_rejected", "withdrawn")
# The words every month-range rejection starts with: such a rejection is not sticky (a
# month after the current one comes into range when that month begins).
_MONTH_OUT_OF_RANGE = "月份超出可接受范围"
# Extra headers named in a load-log message; beyond, only their number.
MAX_EXTRA_HEADERS_SHOWN = 30


def month_problem(period: str, filename: str, first_month: str, this_month: str) -> str | None:
    """Why a file of `period` is not read (after the current month, or before the first
    month monitored), as the clerk reads it; None when the month is within range."""
    if month_index(period) > month_index(this_month):
        return (f"{_MONTH_OUT_OF_RANGE}：文件 {filename} 的月份 {month_label(period)} 晚于本月（{month_label(this_month)}），"
                "未读取。请核对文件名中的月份后重新报送；确为该月的数据，请到该月再报送。"
                f" File {filename}: month {period} is after the current month {this_month}; not read.")
    if month_index(period) < month_index(first_month):
        return (f"{_MONTH_OUT_OF_RANGE}：文件 {filename} 的月份 {month_label(period)} 早于监测的起始月份"
                f"（{month_label(first_month)}，设置项 TUOYU_FIRST_MONTH），未读取。请核对文件名中的月份后重新报送。"
                f" File {filename}: month {period} is before the first month {first_month}; not read.")
    return None


@dataclass
class IngestResult:
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    scope: dict[str, set[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "loaded": len(self.loaded),
            "unchanged": len(self.unchanged),
            "superseded": len(self.superseded),
            "file_rejected": len(self.rejected),
            "unrecognised": len(self.unrecognised),
            "vanished": len(self.vanished),
            "withdrawn": len(self.withdrawn),
        }


class InboxMissing(Exception):
    pass


def archive_path(archive: Path, sha256: str, ext: str) -> Path:
    """Where the raw archive keeps a file version: named by the SHA-256 of its bytes."""
    return archive / f"{sha256}.{ext}"


def archive_bytes(f: InboxFile, data: bytes, archive: Path) -> Path:
    """Keep one file version's bytes (those hashed as `f.sha256`) in the raw archive
    (owner-only), once; never overwrite."""
    archive.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(archive, 0o700)
    target = archive_path(archive, f.sha256, f.name.ext if f.name else "bin")
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=archive, prefix=".incoming-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


def _archive_unread(f: InboxFile, archive: Path) -> str | None:
    """Archive a version that is not parsed (unchanged, superseded, rejected before), reading
    it only when the archive lacks it. Returns why it could not be (gone, or changed since it
    was hashed: the next run sees the new version), else None."""
    if archive_path(archive, f.sha256, f.name.ext).exists():
        return None
    try:
        data = read_bytes(f.path, f.name.ext, f.rel_path)
    except FileRejected:
        return "too large"  # kept in the inbox, named in the load log; not copied
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if hashlib.sha256(data).hexdigest() != f.sha256:
        return "changed"
    archive_bytes(f, data, archive)
    return None


def _remove_incomplete_copies(archive: Path) -> None:
    """A run killed while copying leaves `.incoming-*` behind: never a version, remove it."""
    if archive.is_dir():
        for leftover in archive.glob(".incoming-*"):
            leftover.unlink(missing_ok=True)


def bounded(message: str | None, limit: int = MAX_MESSAGE_CHARS) -> str | None:
    """A message cut to `limit` characters, saying so (a header of a million extra columns
    once made a 7.9 MB load-log message)."""
    if message is None or len(message) <= limit:
        return message
    return message[:limit - 20] + f"…（共 {len(message):,} 字，已截断）"


def _log_row(con: duckdb.DuckDBPyConnection, f: InboxFile, status: str, message: str | None,
             now: datetime, rows_read: int | None = None, rows_duplicate: int | None = None,
             *, with_period: bool = True, replacing: bool = False) -> None:
    """One load-log row. `with_period=False` for a file whose month is out of range: the
    month is in its name and message, and no month span (status, marts) reaches out to it.
    `replacing`: first remove an earlier standing of these bytes under this path (vanished,
    or a month then out of range), so that a version has one row."""
    message = bounded(message)
    if replacing:
        con.execute("delete from audit.load_log where file_path = ? and sha256 = ?", [f.rel_path, f.sha256])
    con.execute(
        """
        insert into audit.load_log (file_path, kind, period, sha256, rows_read, rows_accepted,
            rows_rejected, rows_duplicate, status, message, loaded_at, size_bytes, modified_at)
        values (?, ?, ?, ?, ?, null, null, ?, ?, ?, ?, ?, ?)
        """,
        [f.rel_path, f.kind, f.period if with_period else None, f.sha256 or None, rows_read, rows_duplicate, status, message,
         now, f.size_bytes, f.modified_at],
    )


def _known(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """(path, sha256) → status of every file version seen. A rejection for the month alone
    is left out: the month may be in range now (it is checked again every run)."""
    rows = con.execute("select file_path, coalesce(sha256, ''), status, coalesce(message, '') "
                       "from audit.load_log").fetchall()
    return {(p, s): status for p, s, status, message in rows
            if not (status == "file_rejected" and message.startswith(_MONTH_OUT_OF_RANGE))}


def _loaded(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, str]]:
    rows = con.execute("select kind, period, sha256, file_path from audit.load_log where status = 'loaded'").fetchall()
    return {(k, p): (s, path) for k, p, s, path in rows}


def _needs_reading(f: InboxFile, known: dict[tuple[str, str], str],
                   loaded: dict[tuple[str, str], tuple[str, str]]) -> bool:
    """A month's current file is read unless it is the version loaded, or was rejected or
    withdrawn before (the ingest's `standing` says why)."""
    previous = loaded.get((f.name.kind, f.name.period))
    return not (previous and previous[0] == f.sha256) and known.get((f.rel_path, f.sha256)) not in STICKY


def unseen_files(con: duckdb.DuckDBPyConnection, files: list[InboxFile]) -> list[InboxFile]:
    """The extracts of an inbox (all its files) that a run would read or record, against the
    load log on `con`: a file version the log does not have, or a month's current file that
    is not the version loaded (an earlier version delivered again). Empty: a run would find
    nothing new."""
    known, loaded = _known(con), _loaded(con)
    current, _ = current_versions(files)
    return [f for f in files if f.name is not None and f.problem is None and (
        (f.rel_path, f.sha256) not in known
        or (current.get((f.name.kind, f.name.period)) is f and _needs_reading(f, known, loaded)))]


def queue_validation(con: duckdb.DuckDBPyConnection, kind: str, period: str) -> None:
    """Queue a month of a kind for validation (in the caller's transaction); the month's
    enrollment and staff with its institutions, as they are judged against them."""
    con.execute(_PENDING_DDL)
    for each in (KINDS if kind == "institutions" else (kind,)):
        con.execute("delete from audit.pending_validation where kind = ? and period = ?", [each, period])
        con.execute("insert into audit.pending_validation values (?, ?)", [each, period])


def _same_bytes_other_month(loaded: dict[tuple[str, str], tuple[str, str]], f: InboxFile) -> tuple[str, str] | None:
    """(month, path) of a loaded file of the same kind and another month with these very bytes."""
    for (kind, period), (sha256, path) in sorted(loaded.items()):
        if kind == f.name.kind and period != f.name.period and sha256 == f.sha256:
            return period, path
    return None


def _stage(con: duckdb.DuckDBPyConnection, f: InboxFile, frame: pl.DataFrame, message: str,
           now: datetime) -> None:
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
        _log_row(con, f, "loaded", message, now, rows_read, rows_duplicate, replacing=True)
        queue_validation(con, kind, period)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


@dataclass
class _Delivery:
    """One file as read: `file` carries the SHA-256 and size of the bytes read (`data`),
    which are the bytes archived and parsed; or why it was not read or not usable."""

    file: InboxFile
    data: bytes | None = None
    table: RawTable | None = None
    frame: pl.DataFrame | None = None
    rejected: FileRejected | None = None
    vanished: str | None = None  # the reason it could not be opened (gone, a link, not a file)


def _read(f: InboxFile, wording: Wording | None) -> _Delivery:
    try:
        data = read_bytes(f.path, f.name.ext, f.rel_path)  # the one opening of this file
    except FileRejected as exc:  # above the size limit: not read, not archived
        return _Delivery(f, rejected=exc)
    except OSError as exc:
        return _Delivery(f, vanished=exc.strerror or type(exc).__name__)
    f = replace(f, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
    try:
        return _Delivery(f, data, read_extract(data, f.name.kind, f.name.ext, f.rel_path, wording))
    except FileRejected as exc:
        return _Delivery(f, data, rejected=exc)


def _parse(read: Future[_Delivery], pseudonymiser: Pseudonymiser) -> _Delivery:
    delivery = read.result()
    if delivery.table is not None:
        f = delivery.file
        delivery.frame = to_staging(delivery.table.rows, f.name.kind, sha256=f.sha256, period_file=f.name.period,
                                    xlsx=f.name.ext != "csv", pseudonymiser=pseudonymiser)
    return delivery


def _read_ahead(files: list[InboxFile], pseudonymiser: Pseudonymiser, wording: Wording | None,
                ahead: int = READ_AHEAD) -> Iterator[Future[_Delivery]]:
    """The futures of each file's parsed rows, in order, while up to `ahead` files are read
    and parsed in advance: one thread reads files (polars, fastexcel), a second parses and
    pseudonymises them, and the caller writes the previous file into the warehouse (DuckDB),
    all three releasing the GIL for their heavy work. The parser is one thread taking the
    files in order, so the pseudonymiser (not thread-safe) sees the months in order."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tuoyu-read") as readers, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tuoyu-parse") as parsers:
        pending: deque[tuple[Future, Future[_Delivery]]] = deque()
        try:
            for f in files:
                read = readers.submit(_read, f, wording)
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
                 progress: Callable[[str], None] | None = None, *, first_month: str = DEFAULT_FIRST_MONTH,
                 this_month: str | None = None, wording: Wording | None = None) -> IngestResult:
    """Bring the inbox into the warehouse. Files of a month after `this_month` (default: the
    current month in Beijing) or before `first_month` are rejected, and read again on a
    later run (the month may be in range then). `wording`: the county's own headers and
    values (the reference folder's mapping.toml and 镇街 names), applied to every file read."""
    if not inbox.is_dir():
        raise _inbox_missing(inbox)
    _remove_incomplete_copies(archive)
    con.execute(f"set checkpoint_threshold = '{INGEST_CHECKPOINT_THRESHOLD}'")
    try:
        return _ingest_inbox(con, inbox, archive, key, progress, first_month, this_month, wording)
    except OSError:
        if not inbox.is_dir():  # the folder vanished mid-run: say so, not a stack trace
            raise _inbox_missing(inbox) from None
        raise
    finally:
        con.execute("reset checkpoint_threshold")


def _ingest_inbox(con: duckdb.DuckDBPyConnection, inbox: Path, archive: Path, key: bytes,
                  progress: Callable[[str], None] | None, first_month: str,
                  this_month: str | None, wording: Wording | None) -> IngestResult:
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
                # why, and the name to give it (names.py)
                message = f.problem or explain_name(f.rel_path, this_month).message(f.rel_path)
                _log_row(con, f, "unrecognised", message, now)

    def standing(f: InboxFile) -> str:
        """What becomes of a current file: `unchanged`, `sticky` (rejected or withdrawn
        before), `month` (out of range) or `read`."""
        previous = loaded.get((f.name.kind, f.name.period))
        if previous and previous[0] == f.sha256:
            return "unchanged"
        if known.get((f.rel_path, f.sha256)) in STICKY:
            return "sticky"
        if month_problem(f.name.period, f.rel_path, first_month, this_month):
            return "month"
        return "read"

    def settle(f: InboxFile, decision: str) -> None:
        """Record a current file that is not staged, for the reason `decision` gives."""
        _archive_unread(f, archive)
        status = known.get((f.rel_path, f.sha256))
        previous = loaded.get((f.name.kind, f.name.period))
        if decision == "unchanged":
            if status is None:  # same bytes under another name: a no-op
                _log_row(con, f, "unchanged", f"与已载入的 {previous[1]} 内容相同，未重复载入。Identical to a loaded file.", now)
            result.unchanged.append(f.rel_path)
        elif decision == "sticky":
            if status == "withdrawn":
                result.withdrawn.append(f.rel_path)
            else:
                result.rejected.append((f.rel_path, "(earlier run)"))
        else:
            message = month_problem(f.name.period, f.rel_path, first_month, this_month)
            seen = con.execute("select count(*) from audit.load_log where file_path = ? and sha256 = ? "
                               "and status = 'file_rejected'", [f.rel_path, f.sha256]).fetchone()[0]
            if not seen:
                _log_row(con, f, "file_rejected", message, now, with_period=False)
            result.rejected.append((f.rel_path, message))

    this_month = this_month or shift_month(last_full_month(), 1)
    ordered = sorted(current.items())
    decisions = {key: standing(f) for key, f in ordered}
    reads = _read_ahead([f for key, f in ordered if decisions[key] == "read"], pseudonymiser, wording)
    try:
        for (kind, period), f in ordered:
            if decisions[(kind, period)] != "read":
                settle(f, decisions[(kind, period)])
                continue
            if progress:
                progress(f"reading {f.rel_path}")
            delivery = next(reads).result()
            if delivery.file.rel_path != f.rel_path:  # cannot happen: reads are queued in this loop's order
                raise RuntimeError(f"read-ahead out of order: {delivery.file.rel_path} for {f.rel_path}")
            if delivery.vanished is not None:
                if not inbox.is_dir():
                    raise _inbox_missing(inbox)
                _log_row(con, f, "vanished",
                         f"文件 {f.rel_path} 在本次运行中被移走、删除或换成了链接（{delivery.vanished}），未载入。"
                         "如仍需载入，请把文件本身放回收件箱后重新运行。"
                         f" File vanished (or became a link) during the run: {delivery.vanished}; not loaded.", now,
                         replacing=True)
                result.vanished.append(f.rel_path)
                log.warning("file vanished: %s", f.rel_path)
                continue
            f = delivery.file  # hashed from the bytes read: what is archived and staged
            if delivery.data is not None:
                archive_bytes(f, delivery.data, archive)
                delivery.data = None
            decision = standing(f)
            if decision != "read":  # replaced since discovery, by bytes already known
                settle(f, decision)
                continue
            previous = loaded.get((kind, period))
            if delivery.rejected is not None:
                exc = delivery.rejected
                keep = f"此前载入的版本 {previous[1]} 继续有效。" if previous else "该月此类数据暂缺。"
                _log_row(con, f, "file_rejected", f"{exc.zh}{keep} {exc.en}", now, replacing=True)
                result.rejected.append((f.rel_path, exc.zh))
                # a data outcome, not a fault: the run summary and `tuoyu status` name it in Chinese
                log.info("file rejected: %s: %s", f.rel_path, exc.en)
                continue
            table, frame = delivery.table, delivery.frame
            delivery.frame = None
            notes = [f"编码 {table.encoding}，表头在第 {table.header_row} 行"]
            if table.sheet:
                notes.append(f"数据取自{table.sheet}（前面的工作表没有完整的表头）")
            twin = _same_bytes_other_month(loaded, f)
            if twin:
                notes.append(f"注意：本文件与 {twin[0]} 的 {twin[1]} 内容完全相同，疑似把其他月份的文件复制改名；"
                             "请核对后报送本月的文件")
            if table.extra_headers:
                shown = table.extra_headers[:MAX_EXTRA_HEADERS_SHOWN]
                more = len(table.extra_headers) - len(shown)
                notes.append("已忽略多余列：" + "、".join(shown) + (f" 等共 {len(table.extra_headers):,} 列" if more else ""))
            if table.wording_used:
                notes.append("按本县用语对照（mapping.toml）转换：" + "；".join(table.wording_used))
            if previous:
                notes.append(f"修订：取代 {previous[1]}")
            _stage(con, f, frame, "；".join(notes) + "。", now)
            rows = frame.height
            del frame  # the next files are already being read: hold no more than READ_AHEAD + 1
            result.loaded.append(f.rel_path)
            result.scope.setdefault(kind, set()).add(period)
            if kind == "institutions":
                for other in ("enrollment", "staffing"):
                    result.scope.setdefault(other, set()).add(period)
            log.info("loaded %s (%s %s): %d rows", f.rel_path, KIND_LABEL_ZH[kind], period, rows)
    finally:
        reads.close()

    current_by_sha = {f.sha256: f for f in current.values()}
    for f in files:
        if f.name is None or f.problem is not None or current.get((f.name.kind, f.name.period)) is f:
            continue
        if _archive_unread(f, archive) is not None:
            continue  # gone or changed since it was hashed: the next run sees what is there then
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


__all__ = ["IngestResult", "InboxMissing", "ingest_inbox", "pending_scope", "clear_pending", "unseen_files", "KINDS"]
