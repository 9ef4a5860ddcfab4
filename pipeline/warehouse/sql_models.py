"""Run the SQL models of `sql/`: one model per file, named after the table it builds.

A model file is a single SELECT (a chain of CTEs ending in `final` is the house style).
Its header comments declare how it is materialised and what it depends on:

    -- grain: one row per institution per month
    -- materialized: table            (or: view)
    -- incremental_by: period         (optional: see run_model)
    -- depends_on: core.institutions, reference.areas
    -- owner: validation              (optional: the stage that owns a model kept in another
                                       stage's folder, e.g. sql/marts/data_quality.sql)

`sql/<schema>/<name>.sql` builds `<schema>.<name>`. Values enter as named parameters
(`$period`), never pasted into the text; identifiers go through `quote_ident`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.settings import SQL_DIR

_HEADER = re.compile(r"^--\s*(materialized|depends_on|grain|incremental_by|owner)\s*:\s*(.+?)\s*$", re.MULTILINE)


def quote_ident(name: str) -> str:
    """Quote one SQL identifier (DuckDB / standard SQL double quotes)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class SqlModel:
    schema: str
    name: str
    path: Path
    sql: str
    materialized: str
    depends_on: tuple[str, ...]
    grain: str
    incremental_by: str | None = None  # a column: the model can be rebuilt for some of its values
    owner: str | None = None  # the stage that owns the model, when not the one of its folder

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


def load_model(path: Path) -> SqlModel:
    text = path.read_text(encoding="utf-8")
    headers = {key: value for key, value in _HEADER.findall(text)}
    materialized = headers.get("materialized", "table")
    if materialized not in ("table", "view"):
        raise ValueError(f"{path}: materialized must be 'table' or 'view', not {materialized!r}")
    depends = tuple(d.strip() for d in headers.get("depends_on", "").split(",") if d.strip())
    return SqlModel(
        schema=path.parent.name,
        name=path.stem,
        path=path,
        sql=text.strip().rstrip(";"),
        materialized=materialized,
        depends_on=depends,
        grain=headers.get("grain", ""),
        incremental_by=headers.get("incremental_by"),
        owner=headers.get("owner"),
    )


def load_models(schema: str, sql_dir: Path = SQL_DIR) -> list[SqlModel]:
    """The models of one schema folder, ordered so that each comes after its dependencies."""
    models = {m.table: m for m in (load_model(p) for p in sorted((sql_dir / schema).glob("*.sql")))}
    ordered: list[SqlModel] = []
    seen: set[str] = set()

    def visit(table: str, stack: tuple[str, ...]) -> None:
        if table in seen or table not in models:
            return
        if table in stack:
            raise ValueError(f"dependency cycle in sql/: {' -> '.join(stack + (table,))}")
        for dep in models[table].depends_on:
            visit(dep, stack + (table,))
        seen.add(table)
        ordered.append(models[table])

    for table in sorted(models):
        visit(table, ())
    return ordered


def run_model(con: duckdb.DuckDBPyConnection, model: SqlModel, params: dict[str, Any] | None = None,
              replace_only: str | None = None) -> int | None:
    """Build one model; return its row count when it is a table.

    `replace_only` (for a model with `incremental_by`, whose table exists): the SQL of a
    query returning the values of that column to rebuild. The table's rows with those
    values are replaced by the model's rows for them, in one transaction; its other rows
    stay. The model's own SQL restricts itself to them (pipeline/marts/build.py); the
    outer filter only makes sure."""
    con.execute(f"create schema if not exists {quote_ident(model.schema)}")
    kind = "view" if model.materialized == "view" else "table"
    other = "table" if kind == "view" else "view"
    # A model may switch between view and table across versions: drop the other kind first.
    exists = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [model.schema, model.name],
    ).fetchone()
    if exists and (exists[0] == "VIEW") != (kind == "view"):
        con.execute(f"drop {other} {model.qualified}")
    used = {k: v for k, v in (params or {}).items() if f"${k}" in model.sql}
    if kind == "view":
        if used:
            raise ValueError(f"{model.path}: a view cannot take parameters")
        con.execute(f"create or replace view {model.qualified} as\n{model.sql}")
        return None
    if replace_only is not None and exists:
        if not model.incremental_by:
            raise ValueError(f"{model.path}: not incremental (no incremental_by header)")
        column = quote_ident(model.incremental_by)
        con.execute("begin transaction")
        try:
            con.execute(f"delete from {model.qualified} where {column} in ({replace_only})")
            con.execute(f"insert into {model.qualified} select * from (\n{model.sql}\n) "
                        f"where {column} in ({replace_only})", used or None)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    else:
        con.execute(f"create or replace table {model.qualified} as\n{model.sql}", used or None)
    return con.execute(f"select count(*) from {model.qualified}").fetchone()[0]


def run_models(con: duckdb.DuckDBPyConnection, schema: str, params: dict[str, Any] | None = None,
               sql_dir: Path = SQL_DIR) -> dict[str, int | None]:
    """Build every model of one schema folder in dependency order; return row counts."""
    return {m.table: run_model(con, m, params) for m in load_models(schema, sql_dir)}
