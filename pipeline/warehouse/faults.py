"""Faults of the machine, said plainly: a full disk, a folder that cannot be written, a
warehouse or published copy that is not a database any more.

None of them is mended by trying again, and none is the office's data: the run stops at
once (no retry, pipeline/orchestration/resources.py), with one Chinese sentence that says
what happened and what to do, and `tuoyu` exits 2 without a traceback (commands/cli.py,
commands/run.py). `explain(error)` finds such a fault anywhere in an error's chain (a full
disk once surfaced as DuckDB's "cannot rollback - no transaction is active", whose cause
was the write that failed) and returns it as a `Fault`, or None for any other error.
"""

from __future__ import annotations

import errno
import re
import sqlite3
from pathlib import Path

import duckdb

DISK_FULL, NOT_WRITABLE, CORRUPT_WAREHOUSE, CORRUPT_PUBLISHED = (
    "disk_full", "not_writable", "corrupt_warehouse", "corrupt_published")

_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
# How DuckDB words the same faults (its errors carry no errno).
_DISK_FULL_TEXT = ("no space left on device", "file too large", "disk quota exceeded",
                   "could not write all bytes")
_NOT_WRITABLE_TEXT = ("permission denied", "read-only file system", "operation not permitted")
_CORRUPT_TEXT = ("not a valid duckdb database file", "corrupt database file", "checksum", "corrupted",
                 "failed to deserialize", "serialization error",
                 "no magic bytes found")  # a published Parquet file that is not one any more
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")
# The published copy's folder (pipeline/analysts/publish.py `published_folder`).
_PUBLISHED_PART = ("published",)


class Fault(Exception):
    """A fault no retry mends; `str(fault)` is the sentence for the office (Chinese, then English)."""

    def __init__(self, kind: str, message: str, path: Path | None = None):
        self.kind = kind
        self.path = path
        super().__init__(message)


def _chain(error: BaseException):
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ if error.__cause__ is not None else (
            None if error.__suppress_context__ else error.__context__)


def _folder(path: Path | None) -> Path | None:
    if path is None:
        return None
    return path if path.is_dir() else path.parent


# The sentence of each fault: {where} is the file or folder in Chinese, {at} in English.
_SENTENCES = {
    DISK_FULL: (
        "磁盘已满，无法再写入{where}，运行已停止，此前完成的运行结果不受影响；请清理该磁盘或换用空间更大的磁盘"
        "（TUOYU_WAREHOUSE、TUOYU_REPORTS），然后重新运行 tuoyu run。",
        " The disk is full{at}: free space, then run `tuoyu run` again."),
    NOT_WRITABLE: (
        "{where}不能写入（只读，或本账户没有写入权限），运行已停止；请管理员开放该文件夹的写入权限，"
        "或用 TUOYU_WAREHOUSE、TUOYU_REPORTS 指向可写入的文件夹，然后重新运行 tuoyu run。",
        " The folder{at} cannot be written (read-only or no permission): make it writable, then run "
        "`tuoyu run` again."),
    CORRUPT_WAREHOUSE: (
        "数据仓库文件{where}已损坏，无法读取；请从备份恢复该文件后重新运行 tuoyu run"
        "（没有备份时，把它移到别处再运行 tuoyu run，程序会从收件箱重新载入全部报表，此前的载入记录不再保留）。",
        " The warehouse{at} is corrupt: restore it from a backup, or move it away and run `tuoyu run` to "
        "rebuild it from the inbox."),
    CORRUPT_PUBLISHED: (
        "发布副本{where}已损坏，无法查询；数据仓库不受影响，请运行一次 tuoyu run（或等下次运行）重新生成发布副本后再查询。",
        " The published copy{at} is corrupt: the warehouse is not affected; `tuoyu run` publishes it again."),
}


def fault(kind: str, path: Path | None) -> Fault:
    """The Fault of `kind` met at `path` (a file; a folder not writable is named by its folder)."""
    named = _folder(path) if kind == NOT_WRITABLE else path
    if kind == DISK_FULL:
        where, at = (f"（写入 {path} 时）", f" (writing {path})") if path else ("", "")
    elif kind == NOT_WRITABLE:
        where, at = (f"文件夹 {named} ", f" {named}") if named else ("所需的文件夹", "")
    else:
        where, at = (f" {named} ", f" {named}") if named else ("", "")
    zh, en = _SENTENCES[kind]
    return Fault(kind, zh.format(where=where) + en.format(at=at), path)


def _is_published(path: Path | None, published: Path | None) -> bool:
    if path is None:
        return False
    if published is not None:
        folder = published.resolve().parent
        return path.resolve() == published.resolve() or folder in path.resolve().parents
    return _PUBLISHED_PART[0] in path.parts[:-1]


def explain(error: BaseException, *, warehouse: Path | None = None) -> Fault | None:
    """The fault behind `error` (itself or anything in its chain), or None.

    `warehouse` is the file a DuckDB error that names no file is about; a corrupt file in
    its published copy's folder is the published copy."""
    published = None
    if warehouse is not None:
        from pipeline.analysts.publish import published_database

        published = published_database(warehouse)
    for link in _chain(error):
        if isinstance(link, Fault):
            return link
        if isinstance(link, OSError) and link.errno is not None:
            path = Path(link.filename) if isinstance(link.filename, (str, Path)) and link.filename else None
            if link.errno in _DISK_FULL_ERRNOS:
                return fault(DISK_FULL, path)
            if link.errno in _NOT_WRITABLE_ERRNOS:
                return fault(NOT_WRITABLE, path)
        if isinstance(link, sqlite3.OperationalError):  # Dagster's run history (DAGSTER_HOME)
            text = str(link).lower()
            if "disk is full" in text or "disk i/o error" in text:
                return fault(DISK_FULL, None)
            if "readonly database" in text or "unable to open database" in text:
                return fault(NOT_WRITABLE, None)
        if isinstance(link, duckdb.Error):
            text = str(link).lower()
            quoted = _QUOTED_PATH.search(str(link))
            path = Path(quoted.group(1)) if quoted else None
            if any(t in text for t in _DISK_FULL_TEXT):
                return fault(DISK_FULL, path)
            if any(t in text for t in _NOT_WRITABLE_TEXT):
                return fault(NOT_WRITABLE, path or warehouse)
            if any(t in text for t in _CORRUPT_TEXT):
                if _is_published(path, published):
                    return fault(CORRUPT_PUBLISHED, path)
                return fault(CORRUPT_WAREHOUSE, path or warehouse)
    return None
