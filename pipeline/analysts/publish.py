"""The published copy: what analysts open, so that they never hold the warehouse's lock.

The warehouse is one DuckDB file with one writer; an analyst who opens it (even read-only)
blocks the next run, and the run blocks the analyst (STACK-NOTES.md). So after every
successful run the tables and views of `marts`, `audit` and `reference` are published as:

    <warehouse dir>/published/
        tuoyu.duckdb                         views only: marts.x = read_parquet('…/vN/marts.x.parquet')
        v20261105T000312123456Z/             one folder per publication (UTC time)
            marts.indicator_values.parquet   one Parquet file per table or view
            audit.load_log.parquet
            …

Nothing an analyst can open is ever half-written, and nothing they hold open is ever
written to:

1. the Parquet files are written into a hidden `.incoming-<version>` folder, synced, and
   the folder renamed to `<version>` (a rename is atomic);
2. a new view database is written under a hidden temporary name and swapped in with
   `os.replace` (atomic): a new connection sees the whole new version;
3. an analyst still connected to the previous `tuoyu.duckdb` keeps the old file (the
   replaced name, not the bytes, is gone) and its views keep reading the previous
   version folder, which is kept: the newest two versions are kept, older ones removed.

`staging`, `core` (row-level data), `audit.pending_validation` (the runner's work
queue), `audit.output_state` (what the runner last wrote) and `audit.key_fingerprint` (the
key's fingerprint, of no use to analysts) are never published. The view database is written in the storage format of
DuckDB 1.0 (`v1.0.0`), which every 1.x client opens (duckdb CLI 1.5.x, DBeaver's
driver). The views use absolute paths, so the file opens from any working directory.
Files are made read-only for their owner and group, and nothing for other users (0440;
folders 0750): a client that tries to open the database for writing is refused instead of
leaving a write-ahead log beside a file that is replaced later.

What the analysts' copy holds where it differs from the warehouse (docs/extract-format.md
§4: no row of a child or staff member; children crossed by a personal attribute below
the 镇街 show 1–4 as `<5`) is data, not code: `sql/published/<schema>.<name>.sql` is the
query published as `<schema>.<name>`; its `-- instead_of:` line names the warehouse
relations then withheld, its `-- reads:` line the relations it needs (a form whose
inputs a warehouse lacks is left out), and `small_count(n)` is the `<5` rule
(`SMALL_COUNT_MACRO`). docs/analysts.md and docs/decisions.md say which and why.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.settings import SQL_DIR
from pipeline.warehouse.sql_models import quote_ident

log = logging.getLogger(__name__)

PUBLISHED_SCHEMAS = ("marts", "audit", "reference")
# The runner's own bookkeeping: its work queue, and what it last wrote (pipeline/report/freshness.py).
NOT_PUBLISHED = frozenset({("audit", "pending_validation"), ("audit", "output_state"), ("audit", "key_fingerprint")})
DATABASE_NAME = "tuoyu.duckdb"
KEEP_VERSIONS = 2
# The oldest storage format DuckDB 1.x still writes: opens in every 1.x and 2.x client.
STORAGE_COMPATIBILITY = "v1.0.0"

_VERSION_NAME = re.compile(r"^v\d{8}T\d{12}Z(-\d+)?$")
_INCOMING_DIR = ".incoming-"
_INCOMING_DB = ".incoming-database-"
# Names become file names: only plain identifiers are published.
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FILE_MODE, FOLDER_MODE = 0o440, 0o750  # owner and group read; other users nothing

FORMS_DIR = SQL_DIR / "published"
# extract-format.md §4: a count of 1–4 children crossed by a personal attribute below the
# 镇街 is shown as `<5` (the published column is text). 0 and 5 or more are shown as is.
SMALL_COUNT_MACRO = ("create or replace temp macro small_count(n) as "
                     "case when n between 1 and 4 then '<5' else cast(n as varchar) end")
_FORM_HEADER = re.compile(r"^--\s*(reads|instead_of)\s*:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PublishedRelation:
    """One table or view of the warehouse, or a published form, and its Parquet file."""

    schema: str
    name: str
    form: str | None = None  # the query of sql/published/<schema>.<name>.sql, if any

    @property
    def file_name(self) -> str:
        return f"{self.schema}.{self.name}.parquet"

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def query(self) -> str:
        return self.form if self.form is not None else f"select * from {self.qualified}"


@dataclass(frozen=True)
class PublishedForm:
    """One file of sql/published: what is published as `schema.name`, read from `reads`,
    instead of the warehouse relations `instead_of` (and of `schema.name` itself)."""

    schema: str
    name: str
    sql: str
    reads: tuple[tuple[str, str], ...]
    instead_of: tuple[tuple[str, str], ...]


def _relation_names(text: str, path: Path) -> tuple[tuple[str, str], ...]:
    names = []
    for item in (part.strip() for part in text.split(",")):
        schema, dot, name = item.partition(".")
        if not dot or not _PLAIN_NAME.match(schema) or not _PLAIN_NAME.match(name):
            raise ValueError(f"{path}: {item!r} is not schema.name")
        names.append((schema, name))
    return tuple(names)


def published_forms(folder: Path = FORMS_DIR) -> list[PublishedForm]:
    """The published forms of sql/published, by file name."""
    forms = []
    for path in sorted(folder.glob("*.sql")):
        ((schema, name),) = _relation_names(path.stem, path)
        if schema not in PUBLISHED_SCHEMAS:
            raise ValueError(f"{path}: only {', '.join(PUBLISHED_SCHEMAS)} are published")
        text = path.read_text(encoding="utf-8")
        headers: dict[str, str] = {}
        for key, value in _FORM_HEADER.findall(text):
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if "reads" not in headers:
            raise ValueError(f"{path}: a published form says what it reads ('-- reads: schema.name, …')")
        instead_of = _relation_names(headers["instead_of"], path) if "instead_of" in headers else ()
        sql = text.strip().removesuffix(";")
        forms.append(PublishedForm(schema, name, sql, _relation_names(headers["reads"], path), instead_of))
    return forms


def published_folder(warehouse_path: Path) -> Path:
    """Where the published copy of this warehouse lives: `<warehouse dir>/published`."""
    return Path(warehouse_path).parent / "published"


def published_database(warehouse_path: Path) -> Path:
    """The view database analysts open: `<warehouse dir>/published/tuoyu.duckdb`."""
    return published_folder(warehouse_path) / DATABASE_NAME


def sql_string(value: str | Path) -> str:
    """A SQL string literal (for file paths in COPY and read_parquet, which take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def published_relations(con: duckdb.DuckDBPyConnection,
                        forms: list[PublishedForm] | None = None) -> list[PublishedRelation]:
    """What is published, ordered by schema and name: the warehouse's tables and views of the
    published schemas as they are, except those a form replaces; and every form whose
    inputs the warehouse has."""
    rows = con.execute(
        """
        select table_schema, table_name
        from information_schema.tables
        where table_catalog = current_database()
          and table_schema in (select unnest($schemas))
        order by table_schema, table_name
        """,
        {"schemas": list(PUBLISHED_SCHEMAS)},
    ).fetchall()
    forms = published_forms() if forms is None else forms
    withheld = set(NOT_PUBLISHED)
    for form in forms:
        withheld |= {(form.schema, form.name), *form.instead_of}
    relations = []
    for schema, name in rows:
        if (schema, name) in withheld:
            continue
        if not _PLAIN_NAME.match(name):
            raise ValueError(f"cannot publish {schema}.{name!r}: table names must be plain identifiers")
        relations.append(PublishedRelation(schema, name))
    present = set(rows)
    relations += [PublishedRelation(f.schema, f.name, f.sql) for f in forms if set(f.reads) <= present]
    return sorted(relations, key=lambda r: (r.schema, r.name))


def publish(con: duckdb.DuckDBPyConnection, warehouse_path: Path, *,
            folder: Path | None = None, now: datetime | None = None,
            forms: list[PublishedForm] | None = None) -> Path:
    """Publish the warehouse open on `con` as a new version; return the view database's path.

    `folder` defaults to `<warehouse dir>/published`; `now` (UTC) names the version;
    `forms` to those of sql/published.
    Call it after a successful run, on the run's own connection (the one writer).
    """
    folder = Path(folder if folder is not None else published_folder(warehouse_path)).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, FOLDER_MODE)
    remove_incomplete(folder)
    relations = published_relations(con, forms)
    version = _new_version_name(folder, now or datetime.now(UTC))
    version_dir = folder / version

    incoming = folder / f"{_INCOMING_DIR}{version}"
    incoming.mkdir()
    os.chmod(incoming, FOLDER_MODE)
    try:
        _write_parquet(con, relations, incoming)
        os.rename(incoming, version_dir)
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise

    database = folder / DATABASE_NAME
    incoming_db = folder / f"{_INCOMING_DB}{version}.duckdb"
    try:
        _write_view_database(incoming_db, version_dir, relations)
        os.chmod(incoming_db, FILE_MODE)
        _fsync_file(incoming_db)
        os.replace(incoming_db, database)
        _fsync_dir(folder)
    except BaseException:
        _remove_database_files(incoming_db)
        shutil.rmtree(version_dir, ignore_errors=True)
        raise

    removed = prune_versions(folder, keep=version)
    log.info("published %d tables and views as %s (removed %s)", len(relations), version_dir,
             ", ".join(removed) or "nothing")
    return database


def _new_version_name(folder: Path, now: datetime) -> str:
    """`v<UTC time to the microsecond>Z`; a suffix when that name exists already."""
    base = "v" + now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name, n = base, 1
    while (folder / name).exists() or (folder / f"{_INCOMING_DIR}{name}").exists():
        name, n = f"{base}-{n}", n + 1
    return name


def _write_parquet(con: duckdb.DuckDBPyConnection, relations: list[PublishedRelation], into: Path) -> None:
    # One transaction: every file shows the warehouse at the same moment.
    con.execute("begin transaction")
    try:
        con.execute(SMALL_COUNT_MACRO)
        for rel in relations:
            target = into / rel.file_name
            con.execute(f"copy ({rel.query}\n) to {sql_string(target)} (format parquet)")
            os.chmod(target, FILE_MODE)
            _fsync_file(target)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _write_view_database(path: Path, version_dir: Path, relations: list[PublishedRelation]) -> None:
    db = duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_COMPATIBILITY})
    try:
        for schema in PUBLISHED_SCHEMAS:
            db.execute(f"create schema if not exists {quote_ident(schema)}")
        for rel in relations:
            source = sql_string(version_dir / rel.file_name)
            db.execute(f"create view {rel.qualified} as select * from read_parquet({source})")
        db.execute("checkpoint")
    finally:
        db.close()
    wal = path.with_name(path.name + ".wal")
    if wal.exists():  # a closed database has checkpointed its log; if not, do not publish it
        raise RuntimeError(f"{path} left a write-ahead log behind; not published")


def published_intact(folder: Path, relations: list[PublishedRelation]) -> bool:
    """The copy in `folder` is whole: the view database exists, the newest version folder
    holds a Parquet file for each of `relations`, and the database's views read that folder."""
    folder = Path(folder).resolve()  # as publish() writes the views' paths
    database = folder / DATABASE_NAME
    versions = version_folders(folder)
    if not database.is_file() or not versions:
        return False
    newest = versions[-1]
    if any(not _looks_like_parquet(newest / rel.file_name) for rel in relations):
        return False
    try:
        db = duckdb.connect(str(database), read_only=True)
    except duckdb.Error:
        return False
    try:
        reading = db.execute("select count(*) from duckdb_views() where not internal and contains(sql, ?)",
                             [sql_string(newest)[1:-1] + "/"]).fetchone()[0]
    finally:
        db.close()
    return reading == len(relations)


def _looks_like_parquet(path: Path) -> bool:
    """A regular file that begins and ends with Parquet's magic bytes: what a file overwritten
    or cut short (a full disk, random bytes) no longer does. Reads 8 bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            handle.seek(-4, os.SEEK_END)
            return head == b"PAR1" and handle.read(4) == b"PAR1"
    except OSError:  # missing, not a file, shorter than 4 bytes
        return False


def version_folders(folder: Path) -> list[Path]:
    """The complete version folders, oldest first."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_dir() and _VERSION_NAME.match(p.name)),
                  key=lambda p: p.name)


def prune_versions(folder: Path, *, keep: str) -> list[str]:
    """Remove old version folders: keep `keep` (the one just published) and the newest other one."""
    others = [p for p in version_folders(folder) if p.name != keep]
    removed = []
    for old in others[: max(0, len(others) - (KEEP_VERSIONS - 1))]:
        shutil.rmtree(old)
        removed.append(old.name)
    return removed


def remove_incomplete(folder: Path) -> list[str]:
    """Remove what an interrupted publication left (hidden incoming folders and databases)."""
    removed = []
    for path in folder.iterdir():
        if path.name.startswith(_INCOMING_DIR) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        elif path.name.startswith(_INCOMING_DB) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def _remove_database_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Makes a rename durable; not every platform can open a directory.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
