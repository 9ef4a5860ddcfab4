"""Taking a delivered file version out of use, without touching the database by hand.

    tuoyu withdraw FILE           the version in use that was delivered as FILE
    tuoyu withdraw KIND MONTH     the version in use of that kind and month (托育机构 2099-01)

A withdrawn version keeps its raw-archive copy and its load-log row (status `withdrawn`,
with when and why); its staged rows and findings go, and its month is queued for
validation, so the next run recomputes the month. The version it had replaced, if any, is
brought back from the raw archive: a wrong revision is undone, not only removed. A
withdrawn file left in the inbox is not read again; a new file (other bytes) is.

`set_aside` is also how validation quarantines a file it cannot vouch for (run.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import duckdb

from pipeline.ingest.extracts.files import parse_month
from pipeline.ingest.extracts.ids import Pseudonymiser
from pipeline.ingest.extracts.parse import to_staging
from pipeline.ingest.extracts.read import FileRejected, read_extract
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH, KIND_STEMS
from pipeline.ingest.extracts.wording import Wording
from pipeline.ingest.load import archive_path, queue_validation
from pipeline.warehouse.schema import create_tables
from pipeline.zh import chinese_only


class WithdrawError(Exception):
    """Nothing to withdraw as asked; the message (Chinese, then English) says why."""


@dataclass(frozen=True)
class Withdrawal:
    file_path: str
    kind: str
    period: str
    restored: str | None  # the earlier version brought back, if any

    def text(self) -> str:
        label = f"{KIND_LABEL_ZH[self.kind]} {self.period}"
        back = (f"该月改用此前的版本 {self.restored}。" if self.restored
                else "该月此类数据暂缺，请报送正确的文件。")
        return (f"已撤回 {self.file_path}（{label}），文件保留在原始档案中；{back}"
                f" Withdrawn {self.file_path}; " + (f"{self.restored} is in use again." if self.restored
                                                    else "the month has no file of this kind now."))


def set_aside(con: duckdb.DuckDBPyConnection, kind: str, period: str, sha256: str, status: str,
              message: str, now: datetime) -> None:
    """Take the loaded version (kind, period, sha256) out of use: its load-log row gets
    `status` and `message`, its staged rows and findings are deleted, the month is queued.
    Inside the caller's transaction."""
    con.execute("update audit.load_log set status = ?, message = ?, loaded_at = ? "
                "where kind = ? and period = ? and sha256 = ? and status = 'loaded'",
                [status, message, now, kind, period, sha256])
    con.execute(f"delete from staging.{kind} where period_file = ? and sha256 = ?", [period, sha256])
    for table in ("audit.rejected_rows", "audit.row_warnings"):
        con.execute(f"delete from {table} where kind = ? and period = ? and sha256 = ?", [kind, period, sha256])
    queue_validation(con, kind, period)


def _kind(text: str) -> str | None:
    text = text.strip().lower()
    for kind, stems in KIND_STEMS.items():
        if text == kind or text in (s.lower() for s in stems):
            return kind
    return None


def _target(con: duckdb.DuckDBPyConnection, inbox: Path, what: str, month: str | None) -> tuple[str, str, str, str]:
    """(file_path, kind, period, sha256) of the loaded version meant."""
    if month is not None:
        kind, period = _kind(what), parse_month(month)
        if kind is None or period is None:
            raise WithdrawError(
                f"无法识别“{what} {month}”：请写成 报表类别 月份，如 tuoyu withdraw 托育机构 2024-06"
                "（类别为 托育机构、在托幼儿 或 从业人员）。"
                f" Not a kind and month: {what!r} {month!r} (e.g. institutions 2024-06).")
        rows = con.execute("select file_path, kind, period, sha256 from audit.load_log "
                           "where status = 'loaded' and kind = ? and period = ?", [kind, period]).fetchall()
        if not rows:
            raise WithdrawError(f"{KIND_LABEL_ZH[kind]} {period} 目前没有在用的文件，无需撤回（见 tuoyu status）。"
                                f" No {kind} file of {period} is in use.")
        return rows[0]
    given = Path(what)
    try:
        relative = given.resolve().relative_to(inbox.resolve()).as_posix()
    except (ValueError, OSError):
        relative = PurePosixPath(what).as_posix()
    rows = con.execute("select file_path, kind, period, sha256, status from audit.load_log "
                       "where kind is not null and (file_path = ? or file_path = ?)",
                       [relative, PurePosixPath(what).as_posix()]).fetchall()
    if not rows:  # the name alone, when one file in the log has it
        rows = [r for r in con.execute("select file_path, kind, period, sha256, status from audit.load_log "
                                       "where kind is not null").fetchall()
                if PurePosixPath(r[0]).name == given.name]
    loaded = [r[:4] for r in rows if r[4] == "loaded"]
    if len(loaded) == 1:
        return loaded[0]
    if len({r[0] for r in rows}) > 1:
        names = "、".join(sorted({r[0] for r in rows}))
        raise WithdrawError(f"有多个文件名为 {given.name}：{names}。请写出收件箱中的完整路径。"
                            f" Several files are named {given.name}; give the path.")
    if rows:
        raise WithdrawError(f"文件 {rows[0][0]} 目前没有在用（状态：{rows[0][4]}），无需撤回。"
                            f" {rows[0][0]} is not in use (status {rows[0][4]}).")
    raise WithdrawError(f"载入记录中没有文件 {what}（见 tuoyu status）。请核对文件名。"
                        f" No file {what} in the load log.")


def _previous(con: duckdb.DuckDBPyConnection, archive: Path, kind: str, period: str,
              sha256: str) -> tuple[str, str, bytes] | None:
    """(file_path, sha256, bytes) of the latest other version of the month kept in the archive."""
    rows = con.execute("select file_path, sha256 from audit.load_log where kind = ? and period = ? "
                       "and status = 'superseded' and sha256 <> ? order by loaded_at desc, file_path desc",
                       [kind, period, sha256]).fetchall()
    for path, sha in rows:
        copy = archive_path(archive, sha, PurePosixPath(path).suffix.lstrip(".").lower())
        if copy.is_file():
            return path, sha, copy.read_bytes()
    return None


def withdraw(con: duckdb.DuckDBPyConnection, inbox: Path, archive: Path, key: bytes, what: str,
             month: str | None = None, now: datetime | None = None, wording: Wording | None = None) -> Withdrawal:
    """Withdraw the version meant by `what` (a file) or `what month` (a kind and a month).
    `wording`: the county's mappings, with which the version used again is read."""
    create_tables(con)
    now = now or datetime.now().replace(microsecond=0)
    path, kind, period, sha256 = _target(con, inbox, what, month)
    restore = _previous(con, archive, kind, period, sha256)
    frame = None
    if restore is not None:
        ext = PurePosixPath(restore[0]).suffix.lstrip(".").lower()
        try:
            table = read_extract(restore[2], kind, ext, restore[0], wording)
        except FileRejected:  # it was loaded once; if it cannot be now, the month goes without
            restore = None
        else:
            frame = to_staging(table.rows, kind, sha256=restore[1], period_file=period, xlsx=ext != "csv",
                               pseudonymiser=Pseudonymiser(key))
    con.execute("begin transaction")
    try:
        set_aside(con, kind, period, sha256, "withdrawn",
                  f"已于 {now:%Y-%m-%d %H:%M} 撤回（tuoyu withdraw），不再使用；文件保留在原始档案中。"
                  " Withdrawn; kept in the raw archive.", now)
        if restore is not None:
            con.register("restored_rows", frame)
            con.execute(f"insert into staging.{kind} by name select * from restored_rows")
            con.unregister("restored_rows")
            con.execute("update audit.load_log set status = 'loaded', message = ?, rows_read = ?, rows_duplicate = ?, "
                        "rows_accepted = null, rows_rejected = null "
                        "where kind = ? and period = ? and file_path = ? and sha256 = ? and status = 'superseded'",
                        [f"撤回 {path} 后恢复使用（原始档案中的版本）。In use again after {path} was withdrawn.",
                         frame.height, int(frame.get_column("is_duplicate").sum()), kind, period, restore[0], restore[1]])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return Withdrawal(path, kind, period, restore[0] if restore else None)


def withdraw_command(settings, what: str, month: str | None,
                     on_wait: Callable[[str], None] | None = None) -> int:
    """`tuoyu withdraw`: under the run lock; prints what was done. 0 done, 2 nothing to do."""
    from pipeline.reference import load_reference
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.lock import run_lock

    wording = load_reference(settings.reference).wording
    with run_lock(settings.warehouse, settings.lock_wait, on_wait=on_wait):
        con = connect(settings.warehouse, memory_limit=settings.memory_limit)
        try:
            done = withdraw(con, settings.inbox, settings.archive, settings.key(), what, month, wording=wording)
        except WithdrawError as exc:
            print(f"错误：{chinese_only(str(exc))}", file=sys.stderr)
            return 2
        finally:
            con.close()
    print(chinese_only(done.text()), flush=True)
    return 0
