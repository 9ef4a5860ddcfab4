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
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import duckdb
import polars as pl

from pipeline.report.safe_export import neutralise_cell

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "sql" / "examples"

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


class PublishedCopyMissing(Exception):
    pass


# ---------------------------------------------------------------- connection and checks


def open_published(published_db: Path) -> duckdb.DuckDBPyConnection:
    """A locked-down, read-only connection to the published view database."""
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
        raise QueryFailed(f"SQL 语法错误 Syntax error: {exc}") from None
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


def run_sql(published_db: Path, query: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Run one read-only query on the published copy; `params` bind its `$name` parameters."""
    con = open_published(published_db)
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
        try:
            return _fetch(con, statement, bound)
        except duckdb.PermissionException as exc:
            raise QueryRefused("只能读取发布文件夹内的数据。",
                               f"Only the published folder can be read ({exc}).") from None
        except duckdb.Error as exc:
            raise QueryFailed(f"查询失败 Query failed: {exc}") from None
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


# ---------------------------------------------------------------- documented example queries

_EXAMPLE_HEADER = re.compile(r"^--\s*(question_zh|question_en|reads|param)\s*:\s*(.+?)\s*$", re.MULTILINE)
_PARAM = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$")


@dataclass(frozen=True)
class Example:
    """One file of sql/examples: the question it answers, the tables it reads, its parameters."""

    name: str
    path: Path
    question_zh: str
    question_en: str
    reads: tuple[str, ...]
    params: dict[str, str]
    sql: str


def load_example(path: Path) -> Example:
    text = path.read_text(encoding="utf-8")
    headers: dict[str, list[str]] = {}
    for key, value in _EXAMPLE_HEADER.findall(text):
        headers.setdefault(key, []).append(value)
    params = {}
    for line in headers.get("param", []):
        m = _PARAM.match(line)
        if not m:
            raise ValueError(f"{path}: a param line is '-- param: $name description', not {line!r}")
        params[m.group(1)] = m.group(2)
    reads = tuple(r.strip() for r in ",".join(headers.get("reads", [])).split(",") if r.strip())
    return Example(path.stem, path, " ".join(headers.get("question_zh", [])),
                   " ".join(headers.get("question_en", [])), reads, params, text)


def list_examples(folder: Path = EXAMPLES_DIR) -> list[Example]:
    return [load_example(p) for p in sorted(folder.glob("*.sql"))]


def find_example(name: str, folder: Path = EXAMPLES_DIR) -> Example:
    path = folder / f"{Path(name).stem}.sql"
    if not path.is_file():
        names = "、".join(e.name for e in list_examples(folder))
        raise QueryFailed(f"没有名为 {name} 的示例查询。可用 Available: {names}")
    return load_example(path)


def format_examples(examples: list[Example]) -> str:
    lines = []
    for e in examples:
        params = " ".join(f"--param {k}=…" for k in e.params)
        lines.append(f"{e.name}  {params}".rstrip())
        lines.append(f"    {e.question_zh}")
        lines.append(f"    {e.question_en}")
    return "\n".join(lines)


# ---------------------------------------------------------------- output

def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    # "..." rather than "…", whose width terminals disagree on (East Asian "ambiguous").
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 3:
            break
        out.append(ch)
        used += w
    return "".join(out) + "..."


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


def _display(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value).replace("\r", " ").replace("\n", " ").replace("\t", " ")


def format_table(df: pl.DataFrame, *, max_rows: int = 100, max_width: int = 40) -> str:
    """The result as an aligned text table (Chinese-aware), at most `max_rows` rows."""
    if df.width == 0:
        return "（无列 no columns）"
    numeric = [dtype.is_numeric() for dtype in df.dtypes]
    rows = [[_clip(_display(v), max_width) for v in row] for row in df.head(max_rows).iter_rows()]
    header = [_clip(name, max_width) for name in df.columns]
    widths = [max([display_width(header[i])] + [display_width(r[i]) for r in rows]) for i in range(df.width)]
    lines = [" | ".join(_pad(h, w, False) for h, w in zip(header, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(_pad(c, w, right) for c, w, right in zip(r, widths, numeric, strict=True)) for r in rows]
    if df.height > max_rows:
        lines.append(f"（共 {df.height} 行，只显示前 {max_rows} 行；用 --csv 或 --xlsx 导出全部。"
                     f" {df.height} rows, first {max_rows} shown.）")
    else:
        lines.append(f"（{df.height} 行 rows）")
    return "\n".join(lines)


def _text_cell(value: Any) -> Any:
    """A cell for CSV/XLSX: numbers and dates kept; everything else as text, neutralised."""
    if value is None or isinstance(value, (bool, int, float, Decimal, date)):
        return value
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    elif isinstance(value, (bytes, bytearray)):
        value = value.hex()
    return neutralise_cell(str(value))


def _spreadsheet_rows(df: pl.DataFrame) -> list[list[Any]]:
    return [[_text_cell(v) for v in row] for row in df.iter_rows()]


def _atomic_write(path: Path, write, *, text: bool, encoding: str | None = None) -> None:
    """Write `path` through a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w" if text else "wb", encoding=encoding, newline="" if text else None) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_csv(df: pl.DataFrame, target: Path | IO[str] | None = None) -> None:
    """CSV (UTF-8; a file gets a BOM so Excel reads the Chinese); text cells neutralised."""
    def write(f: IO[str]) -> None:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow([neutralise_cell(c) for c in df.columns])
        for row in _spreadsheet_rows(df):
            w.writerow(["" if v is None else _csv_value(v) for v in row])

    if target is None or hasattr(target, "write"):
        write(target or sys.stdout)
    else:
        _atomic_write(Path(target), write, text=True, encoding="utf-8-sig")


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def to_json(df: pl.DataFrame, target: Path | IO[str] | None = None) -> None:
    """A JSON array of row objects (UTF-8, dates as ISO text, NaN as null)."""
    rows = [{k: _json_value(v) for k, v in row.items()} for row in df.iter_rows(named=True)]

    def write(f: IO[str]) -> None:
        json.dump(rows, f, ensure_ascii=False, indent=1, default=str)
        f.write("\n")

    if target is None or hasattr(target, "write"):
        write(target or sys.stdout)
    else:
        _atomic_write(Path(target), write, text=True, encoding="utf-8")


XLSX_MAX_ROWS = 1_048_575  # a sheet's rows less the header


def to_xlsx(df: pl.DataFrame, path: Path, *, sheet: str = "查询结果") -> None:
    """One sheet: header row, numbers as numbers, dates as dates, text as text (neutralised)."""
    import xlsxwriter

    if df.height > XLSX_MAX_ROWS:
        raise QueryFailed(f"结果有 {df.height} 行，超过 Excel 上限；请用 --csv。Too many rows for Excel: use --csv.")

    def write(f: IO[bytes]) -> None:
        wb = xlsxwriter.Workbook(f, {"strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False, "remove_timezone": True})
        ws = wb.add_worksheet(sheet)
        bold = wb.add_format({"bold": True})
        date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        datetime_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for col, name in enumerate(df.columns):
            ws.write_string(0, col, str(neutralise_cell(name)), bold)
        for r, row in enumerate(_spreadsheet_rows(df), start=1):
            for c, value in enumerate(row):
                _xlsx_cell(ws, r, c, value, date_fmt, datetime_fmt)
        ws.freeze_panes(1, 0)
        wb.close()

    _atomic_write(Path(path), write, text=False)


def _xlsx_cell(ws, r: int, c: int, value: Any, date_fmt, datetime_fmt) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, (int, float, Decimal)):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return
        ws.write_number(r, c, number)
    elif isinstance(value, datetime):
        ws.write_datetime(r, c, value.replace(tzinfo=None), datetime_fmt)
    elif isinstance(value, date):
        ws.write_datetime(r, c, datetime(value.year, value.month, value.day), date_fmt)
    else:
        ws.write_string(r, c, str(value))


def render(df: pl.DataFrame, fmt: str = "table") -> str:
    """The result as text in one of the stdout formats: table, csv, json."""
    if fmt == "table":
        return format_table(df)
    buffer = io.StringIO()
    {"csv": to_csv, "json": to_json}[fmt](df, buffer)
    return buffer.getvalue()


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
                list_only: bool = False, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """What `tuoyu sql` does: run `query` (or the named example), print or write the result.

    `fmt` is table, csv, json or xlsx; `output` a file (required for xlsx; csv/json print
    to `out` without one). Returns the exit code: 0, or 2 with a message on `err`.
    """
    out, err = out or sys.stdout, err or sys.stderr
    if list_only:
        print(format_examples(list_examples()), file=out)
        return 0
    try:
        if example:
            query = find_example(example).sql
        if not query:
            raise QueryFailed("请给出查询语句，或用 --example 名称。Give a query, or --example NAME.")
        if fmt == "xlsx" and output is None:
            raise QueryFailed("--xlsx 需要文件名。--xlsx needs a file name.")
        df = run_sql(published_db, query, parse_params(params))
    except (QueryRefused, QueryFailed, PublishedCopyMissing) as exc:
        print(f"错误 Error: {exc}", file=err)
        return 2
    if fmt == "table":
        print(format_table(df), file=out)
    elif fmt == "xlsx":
        to_xlsx(df, output)
    elif output is not None:
        {"csv": to_csv, "json": to_json}[fmt](df, output)
    else:
        {"csv": to_csv, "json": to_json}[fmt](df, out)
    if output is not None:
        print(f"已写入 {output}（{df.height} 行）。Written to {output} ({df.height} rows).", file=out)
    return 0
