"""The GX-on-DuckDB shim and the connection choice, checked against the installed versions.

If a GX upgrade fixes upstream issue #11579 (or moves the patched method), the first test
fails: re-read pipeline/validate/gx_shim.py and drop or adapt the shim.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import sqlalchemy

from pipeline.validate import validate
from pipeline.validate.gx_shim import buffered_results
from tests.validate_fixtures import PERIOD, clean_institution, new_warehouse, stage

FAILING_QUERY = "select sha256, row_number from {batch} where name is null"


def _run_one_expectation(con: duckdb.DuckDBPyConnection) -> Any:
    """GX's SQL datasource on cursors of `con`, one UnexpectedRowsExpectation that must fail."""
    import great_expectations as gx
    from duckdb_engine import ConnectionWrapper

    context = gx.get_context(mode="ephemeral")
    datasource = context.data_sources.add_sql(
        name="warehouse", connection_string="duckdb:///:memory:",
        kwargs={"creator": lambda: ConnectionWrapper(con.cursor()), "poolclass": sqlalchemy.pool.StaticPool},
    )
    batch = datasource.add_table_asset(name="t", table_name="shim_probe").add_batch_definition_whole_table("all")
    suite = context.suites.add(gx.ExpectationSuite(name="probe", expectations=[
        gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query=FAILING_QUERY),
    ]))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="probe", data=batch, suite=suite))
    try:
        return definition.run(result_format="SUMMARY").results[0]
    finally:
        datasource.get_execution_engine().engine.dispose()


@pytest.fixture
def probe_con(tmp_path):
    con = duckdb.connect(str(tmp_path / "probe.duckdb"))
    # two rows, one without a name: the expectation must report exactly one unexpected row
    con.execute("create table shim_probe as select * from (values ('a', 1, 'x'), ('a', 2, null)) t (sha256, row_number, name)")
    yield con
    con.close()


def test_gx_fails_on_duckdb_without_the_shim_and_counts_with_it(probe_con) -> None:
    without = _run_one_expectation(probe_con)
    assert without.success is False
    assert "observed_value" not in without.result  # the metric could not be read …
    assert "MetricResolutionError" in str(without.exception_info)  # … because the result was dropped

    with buffered_results():
        shimmed = _run_one_expectation(probe_con)
    assert shimmed.success is False
    assert shimmed.result == {"observed_value": 1}
    assert shimmed.exception_info.get("raised_exception") is False

    again = _run_one_expectation(probe_con)  # the patch is undone when the block ends
    assert "observed_value" not in again.result


def test_a_second_duckdb_engine_on_the_open_file_is_refused(tmp_path) -> None:
    """Why GX gets cursors: its own engine on the same file clashes with the open connection."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    engine = sqlalchemy.create_engine(f"duckdb:///{path}")
    try:
        with pytest.raises(Exception, match="different configuration"):
            with engine.connect():
                pass
    finally:
        engine.dispose()
        con.close()


def test_validation_leaves_no_connection_behind(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    stage(con, "institutions", [clean_institution(name=None)])  # INS-NAME
    report = validate(con, {"institutions": [PERIOD]})
    assert report.rules_for("institutions", PERIOD) == {"INS-NAME": 1}
    assert con.execute("select count(*) from core.institutions").fetchone() == (0,)  # the caller's con still works
    con.close()
    # A read-only open needs every connection of the read-write instance closed, GX's cursors included.
    reopened = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert reopened.execute("select count(*) from audit.rejected_rows").fetchone() == (1,)
    reopened.close()


def test_validate_opens_and_closes_the_warehouse_path(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    stage(con, "institutions", [clean_institution()])
    con.close()
    report = validate(tmp_path / "warehouse.duckdb")
    assert report.file("institutions", PERIOD).rows_accepted == 1
    duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True).close()  # nothing holds the file


def test_an_open_transaction_is_refused_with_a_clear_message(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    con.execute("begin transaction")
    with pytest.raises(ValueError, match="commit"):
        validate(con)


# ------------------------------------------------------------------ the process's GX context


def _suites_with(tmp_path, rule_id: str, query: str):
    """A copy of the project's suites in which `rule_id` runs `query` instead."""
    import json
    import shutil

    from pipeline.validate.suites import SUITES_DIR

    folder = tmp_path / "suites"
    shutil.copytree(SUITES_DIR, folder)
    path = folder / "institutions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    (rule,) = [e for e in data["expectations"] if e["meta"]["rule_id"] == rule_id]
    rule["kwargs"]["unexpected_rows_query"] = query
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def test_one_gx_context_serves_each_warehouse_in_turn(tmp_path) -> None:
    """The context made by the first session is kept; each session's GX reads its own
    warehouse: A has one row without a name (INS-NAME), B none, then A again."""
    from pipeline.validate import gx_session

    spoiled, clean = tmp_path / "a", tmp_path / "b"
    spoiled.mkdir(), clean.mkdir()
    a, b = new_warehouse(spoiled), new_warehouse(clean)
    stage(a, "institutions", [clean_institution(name=None)])  # INS-NAME
    stage(b, "institutions", [clean_institution()])
    assert validate(a, {"institutions": [PERIOD]}).rules_for("institutions", PERIOD) == {"INS-NAME": 1}
    shared = gx_session._shared
    assert shared is not None and shared.con is None  # kept, and holding no connection
    assert validate(b, {"institutions": [PERIOD]}).rules_for("institutions", PERIOD) == {}
    assert validate(a, {"institutions": [PERIOD]}).rules_for("institutions", PERIOD) == {"INS-NAME": 1}
    assert gx_session._shared is shared
    a.close(), b.close()


def test_a_changed_suite_is_registered_again(tmp_path) -> None:
    """The same clean row under a suite whose INS-NAME also catches every 托育园 (1 finding),
    then under the project's suite again (none): GX must not keep the first version."""
    con = new_warehouse(tmp_path)
    stage(con, "institutions", [clean_institution()])  # name 新华街道第1托育园
    changed = _suites_with(tmp_path, "INS-NAME", "with b as (select * from {batch}) select b.sha256, "
                           "b.period_file, b.row_number from b where b.name is null or b.name like '%托育园'")
    assert validate(con, {"institutions": [PERIOD]}, suites_dir=changed).rules_for("institutions", PERIOD) \
        == {"INS-NAME": 1}
    assert validate(con, {"institutions": [PERIOD]}).rules_for("institutions", PERIOD) == {}
    con.close()


def test_a_failed_session_discards_the_gx_context(tmp_path) -> None:
    """A rule whose query GX cannot run (no such column) ends the session with an error; the
    context goes with it, and the next validation makes a new one and runs."""
    from pipeline.validate import gx_session
    from pipeline.validate.gx_session import GxError

    con = new_warehouse(tmp_path)
    stage(con, "institutions", [clean_institution()])
    validate(con, {"institutions": [PERIOD]})
    before = gx_session._shared
    broken = _suites_with(tmp_path, "INS-NAME", "with b as (select * from {batch}) select b.sha256, "
                          "b.period_file, b.row_number from b where b.no_such_column is null")
    with pytest.raises((GxError, duckdb.Error)):
        validate(con, {"institutions": [PERIOD]}, suites_dir=broken)
    assert gx_session._shared is None
    assert validate(con, {"institutions": [PERIOD]}).rules_for("institutions", PERIOD) == {}
    assert gx_session._shared is not None and gx_session._shared is not before
    con.close()
