"""Opening the warehouse: one writer at a time, with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import duckdb


class WarehouseLocked(Exception):
    pass


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLocked(
                f"数据仓库 {path} 正被另一个程序占用（可能是另一次运行，或分析人员直接打开了该文件）。"
                "请等待其结束或关闭该连接后重试；分析查询请使用发布副本（tuoyu sql）。"
                f" Warehouse {path} is locked by another process; retry when it has finished."
            ) from None
        raise
