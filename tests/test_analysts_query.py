"""`tuoyu sql`: the read-only guarantee, parameters, and the output formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipeline.analysts import examples as examples_module
from pipeline.analysts.publish import publish
from pipeline.report import safe_export
from pipeline.analysts.export import display_width, format_table, to_csv, to_json, to_xlsx
from pipeline.analysts import export
from pipeline.analysts.query import (PublishedCopyMissing, QueryFailed, QueryLimitReached, QueryLimits, QueryRefused,
                                    open_published, run_sql, sql_command)

pytestmark = pytest.mark.heavy(seconds=9)

SECRET = "planted-secret-outside-the-published-folder"


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A published copy of a tiny warehouse, with secrets planted around it."""
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    for schema in ("marts", "audit", "reference"):
        con.execute(f"create schema {schema}")
    con.execute("""create table marts.t as select * from (values
        ('A1', '阳光托育园', 40, -1.5, date '2024-03-31'),
        ('A2', '=HYPERLINK("http://x")', 20, 2.0, null)) as v(institution_id, name, places, delta, day)""")
    con.execute("create table audit.load_log (file_path varchar, period varchar)")
    con.execute("insert into audit.load_log values ('institutions_2024-03.csv', '2024-03')")
    database = publish(con, warehouse)
    con.close()
    # Files the query must never reach: beside the warehouse, and in a folder whose name
    # starts like the published folder's.
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "data" / "secret.csv").write_text(f"a\n{SECRET}\n")
    (tmp_path / "data" / "published-other").mkdir()
    (tmp_path / "data" / "published-other" / "secret.csv").write_text(f"a\n{SECRET}\n")
    return database


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- read-only guarantee

def refused_statements(tmp: Path, published: Path) -> dict[str, str]:
    folder = published.parent
    return {
        "ddl_create": "create table marts.x as select 1 as a",
        "ddl_drop": "drop view marts.t",
        "ddl_replace_view": "create or replace view marts.t as select 1 as a",
        "ddl_temp": "create temp table x as select 1 as a",
        "ddl_macro": "create macro m() as 1",
        "dml_insert": "insert into marts.t values ('X', 'x', 1, 0, null)",
        "dml_update": "update marts.t set places = 0",
        "dml_delete": "delete from marts.t",
        "attach_file": f"attach '{tmp / 'other.duckdb'}' as other",
        "attach_memory": "attach ':memory:' as m",
        "detach": "detach tuoyu",
        "copy_to_outside": f"copy marts.t to '{tmp / 'leak.csv'}'",
        "copy_to_published": f"copy marts.t to '{folder / 'leak.csv'}'",
        "copy_query_to": f"copy (select * from marts.t) to '{folder / 'leak.parquet'}' (format parquet)",
        "copy_from": f"copy marts.t from '{tmp / 'data' / 'secret.csv'}'",
        "export_database": f"export database '{folder / 'dump'}'",
        "import_database": f"import database '{folder}'",
        "pragma_import": f"pragma import_database('{folder}')",
        "install": "install excel",
        "load": "load json",
        "load_path": f"load '{tmp / 'x.duckdb_extension'}'",
        "set_external_access": "set enable_external_access = true",
        "set_threads": "set threads = 1",
        "set_variable": "set variable x = 1",
        "reset": "reset allowed_directories",
        "pragma_set": "pragma threads = 2",
        "pragma_profiling": "pragma enable_profiling",
        "pragma_profile_output": f"pragma profiling_output = '{tmp / 'profile.json'}'",
        "use": "use memory",
        "call": "call pragma_version()",
        "checkpoint": "checkpoint",
        "vacuum": "vacuum",
        "transaction": "begin transaction",
        "prepare": "prepare p as select 1",
        "explain_analyze": "explain analyze select 1",
        "two_selects": "select 1; select 2",
        "select_then_drop": "select * from marts.t; drop view marts.t",
        "select_then_copy": f"select 1; copy marts.t to '{folder / 'leak.csv'}'",
        "comment_hides_second": "select 1 -- harmless\n; drop view marts.t",
        "empty": "   ",
        "only_comment": "-- nothing here",
        "read_etc_passwd": "select * from read_csv('/etc/passwd')",
        "read_outside_text": f"select * from read_text('{tmp / 'secret.txt'}')",
        "read_beside_warehouse": f"select * from read_csv('{tmp / 'data' / 'secret.csv'}')",
        "read_by_traversal": f"select * from read_text('{folder}/../secret.csv')",
        "read_sibling_prefix": f"select * from read_csv('{tmp / 'data' / 'published-other' / 'secret.csv'}')",
        "read_glob_outside": f"select * from glob('{tmp}/*')",
        "read_file_url": f"select * from read_text('file://{tmp / 'secret.txt'}')",
        "read_replacement_scan": f"select * from '{tmp / 'data' / 'secret.csv'}'",
        "read_in_subquery": f"select (select count(*) from read_text('{tmp / 'secret.txt'}')) as n",
        "read_blob_outside": f"select * from read_blob('{tmp / 'secret.txt'}')",
        "read_http": "select * from read_csv('http://127.0.0.1:9/x.csv')",
    }


REFUSED_NAMES = list(refused_statements(Path("/t"), Path("/t/p/tuoyu.duckdb")))


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_write_or_outside_access_is_refused(name, published, tmp_path):
    query = refused_statements(tmp_path, published)[name]
    before_published = snapshot(published.parent)
    before_outside = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(QueryRefused) as refused:
        run_sql(published, query)
    assert "只允许查询（SELECT）" in str(refused.value)
    assert SECRET not in str(refused.value)
    assert snapshot(published.parent) == before_published
    assert sorted(p.name for p in tmp_path.iterdir()) == before_outside
    assert run_sql(published, "select count(*) as n from marts.t")["n"][0] == 2


@pytest.mark.parametrize("query", [
    "with x as (insert into marts.t values ('X', 'x', 1, 0, null) returning *) select * from x",
    "select * from query('drop view marts.t')",
    "select * from query_table('marts.t'); drop view marts.t",
])
def test_writes_hidden_inside_a_select_do_not_run(query, published):
    before = snapshot(published.parent)
    with pytest.raises((QueryRefused, QueryFailed)):
        run_sql(published, query)
    assert snapshot(published.parent) == before
    assert run_sql(published, "select count(*) as n from marts.t")["n"][0] == 2


def test_the_connection_is_locked_down(published):
    con = open_published(published)
    try:
        settings = dict(con.execute(
            "select name, value from duckdb_settings() where name in ('enable_external_access', "
            "'lock_configuration', 'autoinstall_known_extensions', 'autoload_known_extensions', "
            "'allowed_directories', 'access_mode')").fetchall())
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("set enable_external_access = true")
    finally:
        con.close()
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["access_mode"] == "read_only"
    assert settings["allowed_directories"] == f"[{published.parent.resolve()}/]"


def test_select_forms_an_analyst_uses_are_allowed(published):
    assert run_sql(published, "select name from marts.t where places > 30")["name"].to_list() == ["阳光托育园"]
    assert run_sql(published, "with x as (select places from marts.t) select sum(places) as s from x")["s"][0] == 60
    assert run_sql(published, "from marts.t select count(*) as n;")["n"][0] == 2
    assert "institution_id" in run_sql(published, "describe marts.t")["column_name"].to_list()
    assert run_sql(published, "show all tables").height == 2
    assert run_sql(published, "summarize marts.t").height == 5
    # the published folder itself may be read (it holds nothing but published data)
    assert run_sql(published, f"select count(*) as n from glob('{published.parent}/*/*.parquet')")["n"][0] == 2


def test_parameters_are_bound_not_pasted(published):
    df = run_sql(published, "select name from marts.t where institution_id = $id", {"id": "A1' or '1'='1"})
    assert df.height == 0
    by_id = "select name from marts.t where institution_id = $id"
    assert run_sql(published, by_id, {"id": "A1", "extra": 1}).height == 1  # unused values are ignored
    with pytest.raises(QueryFailed, match=r"\$id"):
        run_sql(published, "select name from marts.t where institution_id = $id")


def test_a_failing_query_says_why(published):
    with pytest.raises(QueryFailed, match="语法错误"):
        run_sql(published, "selec 1")
    with pytest.raises(QueryFailed, match="nope"):
        run_sql(published, "select * from marts.nope")


def test_missing_published_copy_says_what_to_do(tmp_path):
    with pytest.raises(PublishedCopyMissing, match="tuoyu run"):
        run_sql(tmp_path / "published" / "tuoyu.duckdb", "select 1")


def test_querying_writes_nothing(published):
    before = snapshot(published.parent)
    run_sql(published, "select * from marts.t order by random() limit 1")
    run_sql(published, "select interval 3 day as gap")  # a type polars reads differently
    assert snapshot(published.parent) == before


# ---------------------------------------------------------------- output

def frame() -> pl.DataFrame:
    return pl.DataFrame({
        "机构名称": ["阳光托育园", "=cmd|'/c calc'!A1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "\nx", "plain", None],
        "n": [1, -2, 3, 4, 5, 6, 7, 8, 9, 10],
        "day": [date(2024, 3, 31)] * 10,
    })


def test_neutralising_reuses_the_report_function():
    assert export.neutralise_cell is safe_export.neutralise_cell


def test_csv_cells_cannot_run_as_formulas(tmp_path):
    target = tmp_path / "out.csv"
    to_csv(frame(), target)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    names = [r[0] for r in rows[1:]]
    assert names == ["阳光托育园", "'=cmd|'/c calc'!A1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "'\nx", "plain", ""]
    assert [r[1] for r in rows[1:3]] == ["1", "-2"]  # numbers stay numbers
    assert rows[1][2] == "2024-03-31"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_csv_line_ends_lf_on_standard_output_crlf_in_a_file(published, tmp_path):
    # Shell tools (wc, sort, cut) read the printed CSV; Excel reads the file.
    out = io.StringIO()
    assert sql_command(published, query="select places from marts.t order by 1", fmt="csv", out=out) == 0
    assert out.getvalue() == "places\n20\n40\n"
    target = tmp_path / "places.csv"
    assert sql_command(published, query="select places from marts.t order by 1", fmt="csv", output=target,
                       out=io.StringIO()) == 0
    assert target.read_bytes() == b"\xef\xbb\xbfplaces\r\n20\r\n40\r\n"


def test_csv_header_is_neutralised_too():
    buffer = io.StringIO()
    to_csv(pl.DataFrame({"=1+1": [1]}), buffer)
    assert buffer.getvalue().splitlines()[0] == "'=1+1"


def test_xlsx_cells_are_text_not_formulas(tmp_path):
    target = tmp_path / "out.xlsx"
    to_xlsx(frame(), target)
    ws = openpyxl.load_workbook(target).active
    assert [c.value for c in ws[1]] == ["机构名称", "n", "day"]
    names = [ws.cell(row=r, column=1) for r in range(2, 12)]
    assert [c.value for c in names[:5]] == ["阳光托育园", "'=cmd|'/c calc'!A1", "'+1", "'-2", "'@SUM(A1)"]
    assert all(c.data_type in ("s", "n") for c in names)  # never "f" (formula)
    assert names[-1].value is None
    assert ws.cell(row=3, column=2).value == -2 and ws.cell(row=3, column=2).data_type == "n"
    assert ws.cell(row=2, column=3).value.date() == date(2024, 3, 31)
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_json_keeps_chinese_and_types():
    buffer = io.StringIO()
    to_json(frame().head(2), buffer)
    text = buffer.getvalue()
    assert "阳光托育园" in text
    assert json.loads(text) == [
        {"机构名称": "阳光托育园", "n": 1, "day": "2024-03-31"},
        {"机构名称": "=cmd|'/c calc'!A1", "n": -2, "day": "2024-03-31"},
    ]


def test_table_aligns_chinese_text():
    text = format_table(pl.DataFrame({"名称": ["阳光托育园", "ab"], "n": [1, 22]}))
    lines = text.splitlines()
    assert lines[0] == "名称       | n "
    assert lines[2] == "阳光托育园 |  1"
    assert lines[3] == "ab         | 22"
    assert lines[-1] == "（2 行 rows）"


def test_table_shows_null_and_caps_rows():
    text = format_table(pl.DataFrame({"x": [None] + list(range(200))}), max_rows=5)
    assert text.splitlines()[2].strip() == "NULL"
    assert "共 201 行" in text and len(text.splitlines()) == 2 + 5 + 1


# ---------------------------------------------------------------- the command

def test_command_prints_a_table_and_refuses_with_exit_code_2(published):
    out, err = io.StringIO(), io.StringIO()
    assert sql_command(published, query="select name from marts.t order by 1", out=out, err=err) == 0
    assert "阳光托育园" in out.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert sql_command(published, query="drop view marts.t", out=out, err=err) == 2
    assert "只允许查询（SELECT）" in err.getvalue() and out.getvalue() == ""


def test_command_writes_csv_json_and_xlsx(published, tmp_path):
    out = io.StringIO()
    assert sql_command(published, query="select name from marts.t order by places", fmt="csv", out=out) == 0
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["name"], ["'=HYPERLINK(\"http://x\")"], ["阳光托育园"]]
    out = io.StringIO()
    assert sql_command(published, query="select places from marts.t order by 1", fmt="json", out=out) == 0
    assert json.loads(out.getvalue()) == [{"places": 20}, {"places": 40}]
    target = tmp_path / "result.xlsx"
    assert sql_command(published, query="select * from marts.t", fmt="xlsx", output=target, out=io.StringIO()) == 0
    assert openpyxl.load_workbook(target).active.max_row == 3
    err = io.StringIO()
    assert sql_command(published, query="select 1", fmt="xlsx", out=io.StringIO(), err=err) == 2


def test_command_runs_an_example_with_parameters(published, tmp_path, monkeypatch):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "by_id.sql").write_text(
        "-- question_zh: 某机构的名称？\n-- question_en: The name of one institution?\n"
        "-- reads: marts.t\n-- param: $id 机构编号 / institution id\n\n"
        "select name from marts.t where institution_id = $id\n", encoding="utf-8")
    monkeypatch.setattr(examples_module, "EXAMPLES_DIR", examples)
    monkeypatch.setattr(examples_module.find_example, "__defaults__", (examples,))
    monkeypatch.setattr(examples_module.list_examples, "__defaults__", (examples,))
    out = io.StringIO()
    assert sql_command(published, example="by_id", params=["id=A1"], fmt="csv", out=out) == 0
    assert out.getvalue().splitlines() == ["name", "阳光托育园"]
    err = io.StringIO()
    assert sql_command(published, example="by_id", out=io.StringIO(), err=err) == 2
    assert "$id" in err.getvalue()
    err = io.StringIO()
    assert sql_command(published, example="by_id", params=["id"], out=io.StringIO(), err=err) == 2
    out = io.StringIO()
    assert sql_command(published, list_only=True, out=out) == 0
    assert "by_id" in out.getvalue() and "--param id=" in out.getvalue()


def test_table_clips_long_text_to_the_same_width():
    long_text = "统计月份为空、无法识别或与文件名中的月份不一致" * 2
    text = format_table(pl.DataFrame({"原因": [long_text, "短"]}), max_width=20)
    widths = {display_width(line) for line in text.splitlines()[:4]}
    assert len(widths) == 1 and widths.pop() <= 20  # every line as wide, none wider than asked
    assert text.splitlines()[2].endswith("...")


# ---------------------------------------------------------------- exports never overwrite
# The probe's cases (issue 14, "Why" 4): `--csv` over warehouse.duckdb and over the 0444
# published tuoyu.duckdb, `--xlsx ../../etc/x.xlsx` creating folders. Run through the console
# command's own `main`, with the warehouse of the `published` fixture.

def _tuoyu(monkeypatch, tmp_path: Path, *argv: str) -> tuple[int, str]:
    from pipeline.commands.cli import main

    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("TUOYU_INBOX", str(tmp_path / "inbox"))
    for name in ("TUOYU_SQL_TIMEOUT", "TUOYU_SQL_MEMORY_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    return main(list(argv)), err.getvalue()


@pytest.mark.parametrize("option", ["--csv", "--json", "--xlsx"])
@pytest.mark.parametrize("victim", ["data/warehouse.duckdb", "data/published/tuoyu.duckdb"])
def test_an_export_never_overwrites_the_warehouse_or_the_published_copy(option, victim, published, tmp_path,
                                                                         monkeypatch):
    target = tmp_path / victim
    before = target.read_bytes()
    for force in ([], ["--force"]):  # not even with --force: these folders are never written
        code, err = _tuoyu(monkeypatch, tmp_path, "sql", option, str(target), *force, "select * from marts.t")
        assert code == 2
        assert err.startswith("错误：不能把导出文件写到") and "--force" not in err
        assert target.read_bytes() == before
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("spelling", [
    "data/published/../warehouse.duckdb",            # `..` back into the warehouse folder
    "link-to-data/new.csv",                          # a link to the warehouse folder (planted below)
    "data/published/v-new.csv",                      # a new file in the published folder
    "data/raw-archive/x.csv",                        # the raw archive (created below)
    "inbox/托育机构_2024-06.csv",                     # the inbox: it would be read as a delivery
])
def test_no_spelling_of_a_protected_folder_is_written(spelling, published, tmp_path, monkeypatch):
    (tmp_path / "link-to-data").symlink_to(tmp_path / "data")
    (tmp_path / "data" / "raw-archive").mkdir()
    (tmp_path / "inbox").mkdir()
    before = snapshot(tmp_path / "data")
    code, err = _tuoyu(monkeypatch, tmp_path, "sql", "--csv", str(tmp_path / spelling), "select 1 as x")
    assert code == 2 and "不能把导出文件写到" in err
    assert snapshot(tmp_path / "data") == before
    assert not (tmp_path / "inbox" / "托育机构_2024-06.csv").exists()


def test_a_missing_folder_is_not_created(published, tmp_path, monkeypatch):
    # The probe's exact argument, from a folder two levels down: ../../etc does not exist.
    cwd = tmp_path / "home" / "analyst"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    code, err = _tuoyu(monkeypatch, tmp_path, "sql", "--xlsx", "../../etc/x.xlsx", "select * from marts.t")
    assert code == 2 and "不存在" in err and "不会自动创建文件夹" in err
    assert not (tmp_path / "etc").exists()
    code, err = _tuoyu(monkeypatch, tmp_path, "sql", "--csv", "new/sub/x.csv", "select 1 as x")
    assert code == 2 and not (cwd / "new").exists()


def test_an_existing_file_is_replaced_only_with_force(published, tmp_path, monkeypatch):
    target = tmp_path / "结果.csv"
    target.write_text("the analyst's earlier work\n", encoding="utf-8")
    code, err = _tuoyu(monkeypatch, tmp_path, "sql", "--csv", str(target), "select places from marts.t order by 1")
    assert code == 2 and "已存在" in err and "--force" in err
    assert target.read_text(encoding="utf-8") == "the analyst's earlier work\n"
    code, _ = _tuoyu(monkeypatch, tmp_path, "sql", "--csv", str(target), "--force",
                     "select places from marts.t order by 1")
    assert code == 0 and target.read_bytes() == b"\xef\xbb\xbfplaces\r\n20\r\n40\r\n"
    # A dangling link is a name that exists: refused too, and its target not created.
    link = tmp_path / "dangling.csv"
    link.symlink_to(tmp_path / "nowhere.csv")
    code, err = _tuoyu(monkeypatch, tmp_path, "sql", "--csv", str(link), "select 1 as x")
    assert code == 2 and "已存在" in err and not (tmp_path / "nowhere.csv").exists()
    # --force replaces regular files only.
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    code, err = _tuoyu(monkeypatch, tmp_path, "sql", "--csv", str(folder), "--force", "select 1 as x")
    assert code == 2 and "不是普通文件" in err and folder.is_dir()


def test_a_file_that_appears_while_the_query_runs_is_not_overwritten(tmp_path, monkeypatch):
    from pipeline.analysts import destination
    from pipeline.analysts.destination import ExportRefused

    target = tmp_path / "out.csv"
    real = destination.write_new

    def someone_else_writes_first(tmp, path, *, replace):
        path.write_text("someone else's file\n")  # planted: appears after the check
        real(tmp, path, replace=replace)

    monkeypatch.setattr(export, "write_new", someone_else_writes_first)
    with pytest.raises(ExportRefused, match="已存在"):
        to_csv(pl.DataFrame({"x": [1]}), target)
    assert target.read_text() == "someone else's file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_fix_csv_refuses_like_sql(tmp_path, monkeypatch):
    from pipeline.warehouse.schema import create_tables

    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    create_tables(con)
    con.execute("insert into staging.institutions (sha256, period_file, row_number, source_row, institution_id) "
                "values ('x', '2024-06', 1, 2, 'JG0001')")  # a known institution, without findings
    con.close()
    before = warehouse.read_bytes()
    code, err = _tuoyu(monkeypatch, tmp_path, "fix", "JG0001", "--csv", str(warehouse), "--force")
    assert code == 2 and "不能把导出文件写到" in err and warehouse.read_bytes() == before
    code, err = _tuoyu(monkeypatch, tmp_path, "fix", "JG0001", "--csv", str(tmp_path / "no" / "x.csv"))
    assert code == 2 and "不存在" in err and not (tmp_path / "no").exists()
    target = tmp_path / "待更正.csv"
    assert _tuoyu(monkeypatch, tmp_path, "fix", "JG0001", "--csv", str(target))[0] == 0
    assert target.read_bytes().startswith("\ufeff月份,报表,源文件".encode())
    code, err = _tuoyu(monkeypatch, tmp_path, "fix", "JG0001", "--csv", str(target))
    assert code == 2 and "已存在" in err
    assert _tuoyu(monkeypatch, tmp_path, "fix", "JG0001", "--csv", str(target), "--force")[0] == 0


# ---------------------------------------------------------------- queries bounded

def test_a_query_ends_at_the_timeout(published, tmp_path, monkeypatch):
    # The probe's query counts a trillion rows (about 20 minutes on one core). DuckDB 1.5 does
    # not take the double 1e12 as range's argument, so the probe's exact text fails at once,
    # and the same query with an integer bound must end at the timeout set here.
    import time

    with pytest.raises(QueryFailed):
        run_sql(published, "select count(*) from range(1e12)", limits=QueryLimits(timeout=0.5))
    for query in ("select count(*) from range(1e12::bigint)", "select count(*) from range(1000000000000)"):
        started = time.monotonic()
        with pytest.raises(QueryLimitReached, match="0.5 秒的时限") as stopped:
            run_sql(published, query, limits=QueryLimits(timeout=0.5))
        assert time.monotonic() - started < 10
        assert "TUOYU_SQL_TIMEOUT" in str(stopped.value)
    # The connection's lock stays: the limit is not a setting a query can change.
    assert run_sql(published, "select count(*) as n from marts.t", limits=QueryLimits(timeout=5))["n"][0] == 2
    monkeypatch.setenv("TUOYU_SQL_TIMEOUT", "0.5")
    from pipeline.commands.cli import main

    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "data" / "warehouse.duckdb"))
    assert main(["sql", "select count(*) from range(1000000000000)"]) == 2
    assert err.getvalue().startswith("错误：查询超过 0.5 秒的时限")


def test_a_query_ends_at_the_memory_limit(published):
    query = "select count(distinct x) as n from range(100000000) t(x)"  # a hash table of 10⁸ keys
    with pytest.raises(QueryLimitReached, match="64MB") as stopped:
        run_sql(published, query, limits=QueryLimits(timeout=60, memory_limit="64MB"))
    assert "TUOYU_SQL_MEMORY_LIMIT" in str(stopped.value)
    con = open_published(published, QueryLimits(memory_limit="64MB"))
    try:
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] in ("64.0 MiB", "61.0 MiB")
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("set memory_limit = '8GB'")
    finally:
        con.close()


def test_limits_come_from_the_settings_with_defaults():
    from pipeline.settings import ConfigError, Settings

    default = Settings.from_env({}, load_dotenv=False)
    assert (default.sql_timeout, default.sql_memory_limit) == (60.0, "2GB")
    given = Settings.from_env({"TUOYU_SQL_TIMEOUT": "5.5", "TUOYU_SQL_MEMORY_LIMIT": "512MB"}, load_dotenv=False)
    assert (given.sql_timeout, given.sql_memory_limit) == (5.5, "512MB")
    for timeout, memory in (("abc", "2GB"), ("0", "2GB"), ("-1", "2GB"), ("inf", "2GB"), ("60", "lots")):
        with pytest.raises(ConfigError, match="TUOYU_SQL_"):
            Settings.from_env({"TUOYU_SQL_TIMEOUT": timeout, "TUOYU_SQL_MEMORY_LIMIT": memory}, load_dotenv=False)
