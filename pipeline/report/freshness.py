"""Nothing new, nothing done: whether the report and the published copy are already what
this run would write.

Each of the two outputs has a fingerprint of everything it is made from:

- the warehouse's data: the marts' own fingerprints (`pipeline/marts/incremental.py`: each
  month's file versions and rejected rows; the SQL, the indicator catalog and the
  reference tables), and what else of the audit tables the report and the copy show (the
  load log's counts and its files without a month, the row warnings, the confirmations of data-quality flags);
- the code: every file of the pipeline package, the SQL, the row rules, the report
  template, and the versions of the libraries that draw and write the files;
- the report: its month, the compiling unit (TUOYU_COMPILER), and the figures of the
  earlier report it lists revisions against (marts.published_values);
- the published copy: which relations are published, and every figure the reports printed.

After an output is written, its fingerprint is kept in `audit.output_state`, for the
report with the SHA-256 of each file it wrote (paths relative to the reports folder). The
next run leaves an output alone when its fingerprint is unchanged and its files are still
there as written: every report file byte for byte, the copy's view database reading a
complete version folder. A deleted or altered report file, or a report folder
(TUOYU_REPORTS) that does not hold the files, means the report is rendered again.

This module imports neither Typst nor matplotlib: a run with nothing new does not load them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import duckdb

from pipeline.analysts.publish import published_intact, published_relations
from pipeline.ingest.extracts.files import sha256_of
from pipeline.marts import incremental
from pipeline.marts.catalog import CATALOG_PATH
from pipeline.settings import EXPECTATIONS_DIR, PROJECT_DIR, REPORT_TEMPLATE, SQL_DIR
from pipeline.warehouse.connection import table_exists

STATE_TABLE = "audit.output_state"
REPORT = "report"
PUBLISHED_COPY = "published_copy"
# Bumped when the meaning of a fingerprint changes.
_VERSION = "1"

# The libraries whose version can change the bytes of a report or of the copy.
_LIBRARIES = ("typst", "matplotlib", "xlsxwriter", "pylopdf-fonts-zh-cn", "duckdb")
_CODE = (PROJECT_DIR / "pipeline", SQL_DIR, EXPECTATIONS_DIR, REPORT_TEMPLATE)

_STATE_DDL = f"""
create table if not exists {STATE_TABLE} (
    output varchar primary key,     -- 'report' or 'published_copy'
    fingerprint varchar not null,   -- of everything the output was made from
    files json not null             -- the report's files: {{path under the reports folder: sha256}}
)"""


def _sha256(data: Iterable[bytes]) -> str:
    digest = hashlib.sha256(_VERSION.encode())
    for part in data:
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def code_version() -> str:
    """The project's own files (package, SQL, row rules, template) and the libraries'
    versions: a change to any of them is a new version."""
    files = []
    for root in _CODE:
        found = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        files += [p for p in found if "__pycache__" not in p.parts]
    parts = [p.relative_to(PROJECT_DIR).as_posix().encode() + b"=" + p.read_bytes() for p in sorted(files)]
    for name in _LIBRARIES:
        try:
            parts.append(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            parts.append(f"{name} missing".encode())
    return _sha256(parts)


def _digest(con: duckdb.DuckDBPyConnection, relation: str, columns: str) -> str:
    count, total = con.execute(f"select count(*), coalesce(sum(hash({columns})), 0) from {relation}").fetchone()
    return f"{relation}:{count}:{total}"


def _data(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What the marts are built from, and the audit tables beside them."""
    marts = incremental.fingerprints(con, CATALOG_PATH)
    return [
        *(f"{key}={value}" for key, value in sorted(marts.items())),
        # every column but loaded_at, the time of writing
        _digest(con, "audit.load_log", "file_path, kind, period, sha256, rows_read, rows_accepted, "
                                       "rows_rejected, rows_duplicate, status, message, size_bytes, modified_at"),
        _digest(con, "audit.row_warnings", "sha256, kind, period, row_number, rule_id, severity, message"),
        # a flag confirmed since (tuoyu quality confirm) shows as 已核实 in the report
        *([_digest(con, "audit.quality_confirmations", "flag_key, note")]
          if table_exists(con, "audit", "quality_confirmations") else []),
    ]


def _published_values(con: duckdb.DuckDBPyConnection, where: str = "true", params: list | None = None) -> str:
    count, total = 0, 0  # the first report creates the table: none is as good as empty
    if table_exists(con, "marts", "published_values"):
        count, total = con.execute(
            f"select count(*), coalesce(sum(hash(t)), 0) from (select * from marts.published_values where {where}) as t",
            params or []).fetchone()
    return f"marts.published_values:{count}:{total}"


def report_fingerprint(con: duckdb.DuckDBPyConnection, period: str, compiler: str, demo: bool = False) -> str:
    """Of everything the report of `period` shows, once the marts are built (the demo mark too)."""
    earlier = ("report_period = (select max(report_period) from marts.published_values where report_period < ?)")
    return _sha256(part.encode() for part in [
        f"report {period}", f"compiler {compiler}", *(["demo"] if demo else []), code_version(), *_data(con),
        _published_values(con, earlier, [period]),
    ])


def copy_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """Of everything the published copy holds (but audit.runs, one row per run)."""
    relations = ",".join(f"{r.schema}.{r.name}" for r in published_relations(con))
    return _sha256(part.encode() for part in [
        "published copy", relations, code_version(), *_data(con), _published_values(con),
    ])


# ---------------------------------------------------------------- the state kept after writing


def _stored(con: duckdb.DuckDBPyConnection, output: str) -> tuple[str, dict[str, str]] | None:
    if not table_exists(con, *STATE_TABLE.split(".")):
        return None
    row = con.execute(f"select fingerprint, files from {STATE_TABLE} where output = ?", [output]).fetchone()
    return (row[0], json.loads(row[1])) if row else None


def _remember(con: duckdb.DuckDBPyConnection, output: str, fingerprint: str, files: dict[str, str]) -> None:
    con.execute(_STATE_DDL)
    con.execute(f"insert or replace into {STATE_TABLE} values (?, ?, ?)",
                [output, fingerprint, json.dumps(files, sort_keys=True)])


def _report_files(reports: Path, paths: Iterable[Path]) -> dict[str, str]:
    """{path relative to the reports folder: SHA-256} of the files a report wrote."""
    reports = Path(reports).resolve()
    return {Path(p).resolve().relative_to(reports).as_posix(): sha256_of(Path(p)) for p in paths}


def unchanged_report(con: duckdb.DuckDBPyConnection, fingerprint: str, reports: Path) -> Path | None:
    """The report's PDF when the last report written has this fingerprint and every one of
    its files is still in `reports` as written; None: render it."""
    state = _stored(con, REPORT)
    if state is None or state[0] != fingerprint or not state[1]:
        return None
    for rel, sha in state[1].items():
        try:
            if sha256_of(Path(reports) / rel) != sha:
                return None
        except OSError:  # missing, or not a plain file any more
            return None
    return next((Path(reports) / rel for rel in sorted(state[1]) if rel.endswith(".pdf")), None)


def remember_report(con: duckdb.DuckDBPyConnection, fingerprint: str, reports: Path, paths: Iterable[Path]) -> None:
    """After the report's files are in place."""
    _remember(con, REPORT, fingerprint, _report_files(reports, paths))


def unchanged_copy(con: duckdb.DuckDBPyConnection, fingerprint: str, folder: Path) -> bool:
    """The last copy published has this fingerprint and is complete in `folder`."""
    state = _stored(con, PUBLISHED_COPY)
    return state is not None and state[0] == fingerprint and published_intact(folder, published_relations(con))


def remember_copy(con: duckdb.DuckDBPyConnection, fingerprint: str) -> None:
    """After the copy is swapped in."""
    _remember(con, PUBLISHED_COPY, fingerprint, {})
