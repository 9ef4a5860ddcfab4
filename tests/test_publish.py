"""The published copy: what is published, atomic swaps, open analyst connections, no leftovers."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.analysts import publish as publish_module
from pipeline.analysts.publish import (DATABASE_NAME, FORMS_DIR, publish, published_forms,
                                       version_folders)
from pipeline.warehouse.schema import _ROW_ISSUE_COLUMNS

PSEUDONYM = "5f2c" * 16  # a child's pseudonym in a rejected row's values

# An analyst's session in another process: open the published database read-only, print
# marts.t's value, then print it again for every line read from stdin.
ANALYST = r"""
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select v from marts.t").fetchone()[0], flush=True)
for _ in sys.stdin:
    try:
        print(con.execute("select v from marts.t").fetchone()[0], flush=True)
    except Exception as exc:
        print("ERROR", exc, flush=True)
"""


def make_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse with one table or view in every schema, and the ones never published."""
    con = duckdb.connect(str(path))
    for schema in ("marts", "audit", "reference", "staging", "core"):
        con.execute(f"create schema {schema}")
    con.execute("create table marts.t (v varchar, n integer)")
    con.execute("insert into marts.t values ('first', 1)")
    con.execute("create view marts.t_view as select v, n * 2 as n2 from marts.t")
    for table in ("rejected_rows", "row_warnings"):  # the warehouse's own DDL
        con.execute(f"create table audit.{table} ({_ROW_ISSUE_COLUMNS})")
    con.execute(f"""insert into audit.rejected_rows values ('abc', 'enrollment', '2024-02', 7, 8, 'A1',
                   'ENR-SEX', 'R', '性别填写不正确', '{{"child_pseudonym": "{PSEUDONYM}", "sex": "M"}}')""")
    con.execute("create table audit.pending_validation (kind varchar, period varchar)")
    con.execute("create table audit.output_state (output varchar, fingerprint varchar, files json)")
    con.execute("create table reference.areas (area_code varchar, area_name varchar)")
    con.execute("insert into reference.areas values ('990001', '城关街道')")
    con.execute("create table staging.institutions (name varchar)")
    con.execute("create view core.institutions as select * from staging.institutions")
    return con


def set_value(con: duckdb.DuckDBPyConnection, value: str) -> None:
    con.execute("update marts.t set v = ?", [value])


def value_in(database: Path) -> str:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute("select v from marts.t").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path: Path):
    path = tmp_path / "data" / "warehouse.duckdb"
    path.parent.mkdir()
    con = make_warehouse(path)
    yield path, con
    con.close()


def test_publishes_marts_audit_reference_and_nothing_else(warehouse):
    path, con = warehouse
    database = publish(con, path)
    assert database == path.parent / "published" / DATABASE_NAME
    pub = duckdb.connect(str(database), read_only=True)
    try:
        views = pub.execute("select schema_name, view_name from duckdb_views() where not internal "
                            "order by all").fetchall()
        tables = pub.execute("select count(*) from duckdb_tables()").fetchone()[0]
        assert pub.execute("select v, n from marts.t").fetchall() == [("first", 1)]
        assert pub.execute("select n2 from marts.t_view").fetchall() == [(2,)]
        assert pub.execute("select area_name from reference.areas").fetchall() == [("城关街道",)]
        counts = pub.execute("select kind, rule_id, rows from audit.institution_finding_counts").fetchall()
    finally:
        pub.close()
    # audit.rejected_rows and row_warnings (rows of a child, with row_values) are not published:
    # their counts are (sql/published).
    assert views == [("audit", "finding_counts"), ("audit", "institution_finding_counts"),
                     ("marts", "t"), ("marts", "t_view"), ("reference", "areas")]
    assert tables == 0  # views only: the data lives in the Parquet files
    assert counts == [("enrollment", "ENR-SEX", "<5")]
    (version,) = version_folders(database.parent)
    assert sorted(p.name for p in version.iterdir()) == [
        "audit.finding_counts.parquet", "audit.institution_finding_counts.parquet", "marts.t.parquet",
        "marts.t_view.parquet", "reference.areas.parquet"]
    assert not [p for p in database.parent.rglob("*") if p.is_file() and PSEUDONYM.encode() in p.read_bytes()]


def test_held_analyst_connection_keeps_old_data_and_a_new_connection_sees_new(warehouse):
    path, con = warehouse
    database = publish(con, path)
    analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(database)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "first"
        set_value(con, "second")
        publish(con, path)  # must neither wait for nor disturb the open connection
        analyst.stdin.write("again\n")
        analyst.stdin.flush()
        assert analyst.stdout.readline().strip() == "first"  # still the old version, no error
        assert value_in(database) == "second"  # a new connection sees the new version
    finally:
        analyst.stdin.close()
        analyst.wait(timeout=30)
    assert analyst.returncode == 0, analyst.stderr.read()


def test_opens_from_another_working_directory(warehouse, tmp_path):
    path, con = warehouse
    database = publish(con, path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = ("import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
              "print(con.execute('select v from marts.t').fetchone()[0])")
    out = subprocess.run([sys.executable, "-c", script, str(database)], cwd=elsewhere, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "first"


def test_duckdb_cli_opens_published_copy(warehouse, tmp_path):
    # duckdb-cli is a dev dependency: the analysts' client, installed with the tests
    cli = os.environ.get("TUOYU_DUCKDB_CLI") or shutil.which("duckdb") or str(Path(sys.executable).with_name("duckdb"))
    assert Path(cli).exists(), "the duckdb CLI (dev dependency duckdb-cli) is missing"
    path, con = warehouse
    database = publish(con, path)
    out = subprocess.run([cli, "-readonly", "-csv", str(database), "-c", "select v from marts.t"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["v", "first"]


def test_storage_format_opens_in_every_1x_client(warehouse):
    path, con = warehouse
    database = publish(con, path)
    probe = duckdb.connect()
    try:
        probe.execute(f"attach '{database}' as pub (read_only)")
        tags = probe.execute("select tags from duckdb_databases() where database_name = 'pub'").fetchone()[0]
    finally:
        probe.close()
    assert tags["storage_version"] == "v1.0.0+"


def test_keeps_the_newest_two_versions(warehouse):
    path, con = warehouse
    for value in ("a", "b", "c"):
        set_value(con, value)
        database = publish(con, path)
    folders = version_folders(database.parent)
    assert len(folders) == 2
    assert value_in(database) == "c"
    newest = duckdb.connect(str(database), read_only=True)
    try:
        definition = newest.execute("select sql from duckdb_views() where view_name = 't'").fetchone()[0]
    finally:
        newest.close()
    assert str(folders[-1]) in definition


def test_no_temporary_or_writable_files_left(warehouse):
    path, con = warehouse
    publish(con, path)
    database = publish(con, path)
    folder = database.parent
    assert sorted(p.name for p in folder.iterdir() if not p.is_dir()) == [DATABASE_NAME]
    assert not [p for p in folder.rglob(".*")]
    for version in version_folders(folder):
        assert all(p.suffix == ".parquet" for p in version.iterdir())
    for file in [database, *folder.rglob("*.parquet")]:
        assert stat.S_IMODE(file.stat().st_mode) == 0o440, file  # owner and group read, others nothing
    for sub in [folder, *version_folders(folder)]:
        assert stat.S_IMODE(sub.stat().st_mode) == 0o750, sub


def test_failure_while_writing_parquet_changes_nothing(warehouse):
    path, con = warehouse
    database = publish(con, path)
    before = sorted(p.name for p in database.parent.iterdir())
    con.execute("create view marts.broken as select error('planted failure') as x")
    set_value(con, "never published")
    with pytest.raises(duckdb.Error, match="planted failure"):
        publish(con, path)
    assert sorted(p.name for p in database.parent.iterdir()) == before
    assert value_in(database) == "first"
    assert con.execute("select count(*) from marts.t").fetchone()[0] == 1  # connection still usable


def test_failure_while_writing_the_database_changes_nothing(warehouse, monkeypatch):
    path, con = warehouse
    database = publish(con, path)
    before = sorted(p.name for p in database.parent.iterdir())
    real = publish_module._write_view_database

    def half_then_fail(db_path, version_dir, relations):
        real(db_path, version_dir, relations[:1])
        raise OSError("planted: disk full")

    monkeypatch.setattr(publish_module, "_write_view_database", half_then_fail)
    set_value(con, "never published")
    with pytest.raises(OSError, match="disk full"):
        publish(con, path)
    assert sorted(p.name for p in database.parent.iterdir()) == before
    assert value_in(database) == "first"


def test_leftovers_of_an_interrupted_publication_are_removed(warehouse):
    path, con = warehouse
    folder = path.parent / "published"
    (folder / ".incoming-v20240101T000000000000Z").mkdir(parents=True)
    (folder / ".incoming-v20240101T000000000000Z" / "marts.t.parquet").write_bytes(b"half")
    (folder / ".incoming-database-v20240101T000000000000Z.duckdb").write_bytes(b"half")
    publish(con, path)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_refuses_a_table_name_that_is_not_a_plain_identifier(warehouse):
    path, con = warehouse
    con.execute('create table marts."../escape" (x integer)')
    with pytest.raises(ValueError, match="plain identifiers"):
        publish(con, path)
    assert not (path.parent / "escape").exists()


def test_a_form_replaces_what_it_names_and_needs_its_inputs(warehouse, tmp_path):
    path, con = warehouse
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    (forms_dir / "marts.t.sql").write_text(
        "-- reads: marts.t\n-- instead_of: marts.t_view\nselect small_count(n) as n from marts.t\n-- a last comment")
    (forms_dir / "marts.never.sql").write_text("-- reads: marts.missing\nselect 1 as x;")  # planted: no input
    database = publish(con, path, forms=published_forms(forms_dir))
    pub = duckdb.connect(str(database), read_only=True)
    try:
        views = pub.execute("select schema_name || '.' || view_name from duckdb_views() where not internal "
                            "and schema_name = 'marts' order by all").fetchall()
        assert pub.execute("select n from marts.t").fetchall() == [("<5",)]  # n = 1
    finally:
        pub.close()
    assert views == [("marts.t",)]  # t_view withheld, marts.never left out
    set_value(con, "x")
    con.execute("update marts.t set n = 5")
    database = publish(con, path, forms=published_forms(forms_dir))
    pub = duckdb.connect(str(database), read_only=True)
    try:
        assert pub.execute("select n from marts.t").fetchall() == [("5",)]  # 0 and 5 or more as they are
    finally:
        pub.close()


def test_a_form_must_say_what_it_reads(tmp_path):
    (tmp_path / "marts.x.sql").write_text("select 1 as x")
    with pytest.raises(ValueError, match="reads"):
        published_forms(tmp_path)


# Columns of core.enrollment that are a child's personal attribute (extract-format.md §4:
# age, sex, birth month; 班型 is an age band).
PERSONAL = re.compile(r"\b(birth_date\w*|sex\w*|class_type|age_\w+)\b")


def test_every_institution_level_mart_on_a_personal_attribute_has_a_published_form():
    """A mart below the 镇街 (its grain is per institution) that reads a child's personal
    attribute is published only through a form of sql/published (which applies `<5`)."""
    marts = Path(FORMS_DIR).parent / "marts"
    forms = {(f.schema, f.name) for f in published_forms()}
    needing = set()
    for path in marts.glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        grain = re.search(r"^-- grain:(.*)$", text, re.MULTILINE).group(1)
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        if "institution" in grain and PERSONAL.search(body):
            needing.add(("marts", path.stem))
    assert ("marts", "institution_enrollment") in needing  # the check sees the one there is
    assert needing <= forms, needing - forms


def test_published_intact_sees_a_missing_file_or_database(warehouse):
    from pipeline.analysts.publish import published_intact, published_relations

    path, con = warehouse
    database = publish(con, path)
    relations = published_relations(con)
    assert published_intact(database.parent, relations)
    moved = path.parent / "moved"
    shutil.copytree(database.parent, moved)  # its views still read the original folder
    assert not published_intact(moved, relations)
    con.execute("create table marts.added (x integer)")  # a relation the copy does not have yet
    assert not published_intact(database.parent, published_relations(con))
    (version,) = version_folders(database.parent)
    parquet = version / "marts.t.parquet"
    parquet.chmod(0o644)
    parquet.unlink()
    assert not published_intact(database.parent, relations)
    publish(con, path)
    assert published_intact(database.parent, published_relations(con))
    database.chmod(0o644)
    database.unlink()
    assert not published_intact(database.parent, published_relations(con))
