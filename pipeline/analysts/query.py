"""`tuoyu sql`: one read-only query against the published copy, and its output.

Read-only by two independent locks, so that no trick gets a write through:

1. The statement. The text is parsed by DuckDB itself (`extract_statements`, on the
   locked connection below, since parsing can already read files, e.g. IMPORT DATABASE);
   exactly one statement of type SELECT is accepted. DDL, DML, ATTACH, COPY, EXPORT,
   INSTALL/LOAD, SET/RESET/PRAGMA-with-value, CALL, transactions: refused (`QueryRefused`).
   SHOW, DESCRIBE, SUMMARIZE and PIVOT with an IN list are SELECTs and allowed.
2. The connection. The published view database is opened `read_only=True`, with
   extension auto-install/auto-load off and no spill folder; then `allowed_directories`
   is set to the published folder, `enable_external_access` to false (no file outside
   that folder, no network, no ATTACH of a file, no extension load), and
   `lock_configuration` to true (no SET can undo any of it). DuckDB 1.5.6 refuses
   `allowed_directories` in the connect-time config ("Cannot change/set
   allowed_directories before the database is started"), hence the SETs.

(1) is what stops COPY … TO and EXPORT DATABASE into the published folder itself, which
(2) alone would allow. (2) is what stops a SELECT from reading `/etc/passwd`.

Bounded, so that one query cannot starve the monthly run on the same machine: a memory
limit (`TUOYU_SQL_MEMORY_LIMIT`, default 2GB; set before the configuration is locked, and
with no spill folder a query beyond it fails) and a statement timeout (`TUOYU_SQL_TIMEOUT`,
default 60 s: a timer thread calls `con.interrupt()`). Either ends the query with a Chinese
message naming the limit and the variable (`QueryLimitReached`).

The file an export writes is checked before the query runs (pipeline/analysts/destination.py).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import polars as pl

from pipeline.analysts.destination import ExportRefused, check_destination
from pipeline.analysts.examples import UnknownExample, find_example, format_examples, list_examples
from pipeline.analysts.export import TooManyRows, format_table, to_csv, to_json, to_xlsx
from pipeline.settings import DEFAULT_SQL_MEMORY_LIMIT, DEFAULT_SQL_TIMEOUT
from pipeline.zh import chinese_only

READ_ONLY_ZH = "只允许查询（SELECT），不能修改数据、读写发布文件夹以外的文件或更改设置。"
READ_ONLY_EN = ("Only a single read-only query (SELECT) is allowed: no changes to data or settings, "
                "no files outside the published folder.")


class QueryRefused(Exception):
    """The statement is not a single read-only query, or reaches outside the published copy."""

    def __init__(self, reason_zh: str, reason_en: str):
        self.reason_zh, self.reason_en = reason_zh, reason_en
        super().__init__(f"{READ_ONLY_ZH}{reason_zh} {READ_ONLY_EN} {reason_en}".strip())


class QueryFailed(Exception):
    """An allowed query that could not run (syntax error, unknown table, missing parameter…)."""


class QueryLimitReached(QueryFailed):
    """The query ran past the statement timeout or the memory limit and was stopped."""


class PublishedCopyMissing(Exception):
    pass


@dataclass(frozen=True)
class QueryLimits:
    """What one `tuoyu sql` query may take: seconds of wall time, and DuckDB memory."""

    timeout: float = DEFAULT_SQL_TIMEOUT  # TUOYU_SQL_TIMEOUT
    memory_limit: str = DEFAULT_SQL_MEMORY_LIMIT  # TUOYU_SQL_MEMORY_LIMIT


# ---------------------------------------------------------------- connection and checks


def open_published(published_db: Path, limits: QueryLimits = QueryLimits()) -> duckdb.DuckDBPyConnection:
    """A locked-down, read-only connection to the published view database, within `limits`'
    memory."""
    published_db = Path(published_db)
    if not published_db.is_file():
        raise PublishedCopyMissing(
            f"发布副本不存在：{published_db}。请先完成一次 tuoyu run（每次成功运行后自动发布）。"
            f" No published copy at {published_db}: run `tuoyu run` first."
        )
    folder = published_db.resolve().parent
    con = duckdb.connect(str(published_db), read_only=True, config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "temp_directory": "",  # no spilling: nothing is ever written beside the published copy
    })
    try:
        # The trailing separator matters: "/x/published" would also allow "/x/published-other".
        con.execute(f"set memory_limit = '{limits.memory_limit}'")  # checked: digits and a unit
        con.execute("set allowed_directories = $dirs", {"dirs": [str(folder) + os.sep]})
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def check_query(con: duckdb.DuckDBPyConnection, query: str) -> duckdb.Statement:
    """The one SELECT statement of `query`, or `QueryRefused`/`QueryFailed`."""
    try:
        statements = con.extract_statements(query)
    except duckdb.ParserException as exc:
        raise QueryFailed(f"SQL 语法错误：{exc}") from None
    except duckdb.Error as exc:
        # Parsing a SELECT never touches anything; a statement whose parsing does is refused.
        raise QueryRefused("该语句在解析时就需要读取文件。",
                           f"The statement reads files when parsed ({exc}).") from None
    if not statements:
        raise QueryRefused("没有可执行的查询语句。", "No statement given.")
    if len(statements) > 1:
        raise QueryRefused(f"一次只能执行一条语句（收到 {len(statements)} 条）。",
                           f"One statement at a time ({len(statements)} given).")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise QueryRefused(f"收到的是 {statement.type.name} 语句。", f"Got a {statement.type.name} statement.")
    return statement


def run_sql(published_db: Path, query: str, params: Mapping[str, Any] | None = None,
            limits: QueryLimits = QueryLimits()) -> pl.DataFrame:
    """Run one read-only query on the published copy; `params` bind its `$name` parameters."""
    con = open_published(published_db, limits)
    try:
        statement = check_query(con, query)
        needed = sorted(statement.named_parameters)
        missing = [name for name in needed if name not in (params or {})]
        if missing:
            raise QueryFailed(
                "缺少参数 Missing parameters: " + ", ".join(f"${m}" for m in missing)
                + "（用 --param 名称=值 给出 / give them as --param name=value）"
            )
        bound = {name: params[name] for name in needed} if needed else None
        timer = threading.Timer(limits.timeout, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            return _fetch(con, statement, bound)
        except duckdb.PermissionException as exc:
            raise QueryRefused("只能读取发布文件夹内的数据。",
                               f"Only the published folder can be read ({exc}).") from None
        except duckdb.InterruptException:
            raise QueryLimitReached(
                f"查询超过 {limits.timeout:g} 秒的时限，已停止。请缩小查询范围（加 where 条件或 limit）；"
                f"确需更长时间时，可设置环境变量 TUOYU_SQL_TIMEOUT（秒）。"
                f" The query ran past the {limits.timeout:g} s timeout and was stopped (TUOYU_SQL_TIMEOUT)."
            ) from None
        except duckdb.OutOfMemoryException:
            raise QueryLimitReached(
                f"查询所需内存超过 {limits.memory_limit} 的上限，已停止。请缩小查询范围（加 where 条件、"
                f"少取几列或先汇总）；确需更多内存时，可设置环境变量 TUOYU_SQL_MEMORY_LIMIT（如 4GB）。"
                f" The query needed more than the {limits.memory_limit} memory limit and was stopped"
                " (TUOYU_SQL_MEMORY_LIMIT)."
            ) from None
        except duckdb.Error as exc:
            from pipeline.warehouse.faults import CORRUPT_PUBLISHED, explain

            fault = explain(exc)  # a file of the published copy that is not one any more
            if fault is not None and fault.kind == CORRUPT_PUBLISHED:
                raise QueryFailed(str(fault)) from None
            raise QueryFailed(f"查询失败：{exc}") from None
        finally:
            timer.cancel()
    finally:
        con.close()


def _fetch(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement, params: dict | None) -> pl.DataFrame:
    try:
        return con.execute(statement, params).pl()
    except pl.exceptions.PolarsError:
        # A type Arrow/polars cannot take (INTERVAL): build the frame from Python values.
        result = con.execute(statement, params)
        names = _unique_names([d[0] for d in result.description])
        return pl.DataFrame(result.fetchall(), schema=names, orient="row", infer_schema_length=None)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}_{n}")
    return out


# ---------------------------------------------------------------- the command


def parse_params(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`["period=2024-03", …]` → `{"period": "2024-03", …}` (values are text)."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise QueryFailed(f"参数应写作 名称=值，如 period=2024-03，而不是 {pair!r}。"
                              f" A parameter is name=value, e.g. period=2024-03.")
        params[name] = value
    return params


def sql_command(published_db: Path, *, query: str | None = None, example: str | None = None,
                params: list[str] | tuple[str, ...] = (), fmt: str = "table", output: Path | None = None,
                force: bool = False, protected: Sequence[Path] = (), limits: QueryLimits = QueryLimits(),
                list_only: bool = False, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """What `tuoyu sql` does: run `query` (or the named example), print or write the result.

    `fmt` is table, csv, json or xlsx; `output` a file (required for xlsx; csv/json print
    to `out` without one), refused when it exists (unless `force`) or lies in the published
    folder or a `protected` one (destination.py). Returns the exit code: 0, or 2 with a
    message on `err`.
    """
    out, err = out or sys.stdout, err or sys.stderr
    if list_only:
        print(format_examples(list_examples()), file=out)
        return 0
    try:
        if example:
            query = find_example(example).sql
        if not query:
            raise QueryFailed("请给出查询语句，或用 --example 名称。")
        if fmt == "xlsx" and output is None:
            raise QueryFailed("--xlsx 需要文件名。")
        if output is not None:  # before the query: no one waits a minute to hear the name is refused
            output = check_destination(output, [Path(published_db).parent, *protected], force=force)
        df = run_sql(published_db, query, parse_params(params), limits)
        if fmt == "table":
            print(format_table(df), file=out)
        elif fmt == "xlsx":
            to_xlsx(df, output, replace=force)
        elif output is not None:
            {"csv": to_csv, "json": to_json}[fmt](df, output, replace=force)
        else:
            {"csv": to_csv, "json": to_json}[fmt](df, out)
    except (QueryRefused, QueryFailed, PublishedCopyMissing, UnknownExample, TooManyRows, ExportRefused) as exc:
        print(f"错误：{chinese_only(str(exc))}", file=err)
        return 2
    if output is not None:
        print(f"已写入 {output}（{df.height} 行）。", file=out)
    return 0
