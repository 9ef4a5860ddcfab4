"""Opening the warehouse: one writer at a time, with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.settings import DEFAULT_MEMORY_LIMIT


class WarehouseLocked(Exception):
    pass


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether `schema.name` is a table or view of the database `con` is connected to."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(found and found[0])


def connect(path: Path, *, read_only: bool = False,
            memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """The warehouse, with DuckDB's memory capped at `memory_limit` (TUOYU_MEMORY_LIMIT, checked
    by the settings: digits and a unit), spilling to disk beyond."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
        con.execute(f"set memory_limit = '{memory_limit}'")
        return con
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLocked(
                f"数据仓库 {path} 正被另一个程序占用（可能是另一次运行，或分析人员直接打开了该文件）。"
                "请等待其结束或关闭该连接后重试；分析查询请使用发布副本（tuoyu sql）。"
                f" Warehouse {path} is locked by another process; retry when it has finished."
            ) from None
        raise
