"""Opening the warehouse: one writer at a time, with a message that says what to do."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

import duckdb

from pipeline.settings import DEFAULT_MEMORY_LIMIT

log = logging.getLogger(__name__)

# The warehouse holds every child's and staff member's row (pseudonyms, birth dates, sex):
# its owner only. A folder made for it lets the group pass through to `published/` (the
# analysts' copy) without listing or reading anything else (docs/decisions.md).
WAREHOUSE_MODE = 0o600
FOLDER_MODE = 0o710


class WarehouseLocked(Exception):
    pass


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether `schema.name` is a table or view of the database `con` is connected to."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(found and found[0])


def _owner_only(path: Path) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != WAREHOUSE_MODE:
            os.chmod(path, WAREHOUSE_MODE)
    except PermissionError:  # not ours to change: say so, do not stop the run
        log.warning("cannot make %s owner-only (mode 0600): it belongs to another user", path)


def make_warehouse_folder(path: Path) -> None:
    """The folder of the warehouse `path`: made (mode FOLDER_MODE) when it does not exist."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, FOLDER_MODE)


def connect(path: Path, *, read_only: bool = False,
            memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """The warehouse, with DuckDB's memory capped at `memory_limit` (TUOYU_MEMORY_LIMIT, checked
    by the settings: digits and a unit), spilling to disk beyond; owner-only when written."""
    make_warehouse_folder(path)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
        con.execute(f"set memory_limit = '{memory_limit}'")
        if not read_only:
            _owner_only(path)
        return con
    except duckdb.IOException as exc:
        # "Could not set lock on file …: Conflicting lock is held"; not "… in block at …"
        # of a corrupt file (pipeline/warehouse/faults.py).
        if re.search(r"\block\b", str(exc), re.IGNORECASE):
            raise WarehouseLocked(
                f"数据仓库 {path} 正被另一个程序占用（可能是另一次运行，或分析人员直接打开了该文件）。"
                "请等待其结束或关闭该连接后重试；分析查询请使用发布副本（tuoyu sql）。"
                f" Warehouse {path} is locked by another process; retry when it has finished."
            ) from None
        raise
