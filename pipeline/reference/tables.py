"""Copying a loaded reference (a county's or a prefecture's) into the warehouse's `reference` schema."""

from __future__ import annotations

from dataclasses import astuple

import duckdb

from pipeline.reference.areas import AREA_COLUMNS, POPULATION_COLUMNS
from pipeline.reference.load import PrefectureReference, Reference
from pipeline.reference.quality import QualityParameters


_CREATE_TABLES = (
    """create or replace table reference.areas (
        area_code varchar primary key,
        area_name varchar not null,
        area_type varchar not null,
        urban_rural varchar,
        parent_code varchar
    )""",
    """create or replace table reference.population (
        year integer not null,
        area_code varchar not null,
        resident_population bigint not null,
        population_under3 bigint not null,
        primary key (year, area_code)
    )""",
    """create or replace table reference.targets (
        indicator_id varchar primary key,
        target_value double not null,
        comparison varchar not null,
        deadline varchar not null,
        clause varchar not null,
        lead_unit varchar not null,
        note varchar not null,
        planned_max double,
        applies_to varchar not null check (applies_to in ('county', 'county_and_towns'))
    )""",
    """create or replace table reference.ranked_indicators (
        rank_no integer primary key,
        indicator_id varchar not null
    )""",
    """create or replace table reference.measures (
        measure_no integer primary key,
        title_zh varchar not null,
        lead_unit varchar not null,
        responsible_units varchar not null,
        indicator_ids varchar,
        coverage_note_zh varchar not null
    )""",
)

# One row: the parameters of quality.toml, read by sql/marts/quality_flags.sql and
# reporting_rates.sql (docs/quality.md).
QUALITY_PARAMETERS_DDL = """create or replace table reference.quality_parameters (
    out_series_history_months integer not null,
    out_series_min_history integer not null,
    out_series_threshold double not null,
    out_series_mad_floor_share double not null,
    out_series_mad_floor double not null,
    area_jump_months integer not null,
    area_jump_min_present integer not null,
    area_jump_min_difference double not null,
    area_jump_max_relative_change double not null,
    reporting_deadline_day integer not null,
    reporting_windows integer[] not null
)"""

_INSERTS = {
    "areas": "insert into reference.areas values (?, ?, ?, ?, ?)",
    "population": "insert into reference.population values (?, ?, ?, ?)",
    "targets": "insert into reference.targets values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "measures": "insert into reference.measures values (?, ?, ?, ?, ?, ?)",
    "ranked_indicators": "insert into reference.ranked_indicators values (?, ?)",
}


def write_quality_parameters(con: duckdb.DuckDBPyConnection, quality: QualityParameters) -> None:
    """Create or replace reference.quality_parameters with its one row (no transaction of
    its own: write_reference_tables runs it inside its own)."""
    row = astuple(quality)
    con.execute(QUALITY_PARAMETERS_DDL)
    con.execute(f"insert into reference.quality_parameters values ({', '.join('?' * len(row))})",
                [*row[:-1], list(row[-1])])


def write_reference_tables(con: duckdb.DuckDBPyConnection, ref: Reference) -> dict[str, int]:
    """Create or replace `reference.areas`, `.population`, `.targets`, `.measures` and
    `.quality_parameters` from `ref`, in one transaction of its own; return the rows written per table.

    `reference.measures.responsible_units` is the units joined by 、 (the first leads),
    `indicator_ids` the ids joined by commas, NULL when the extracts cannot show it."""
    rows = {**_policy_rows(ref), "population": ref.population.select(POPULATION_COLUMNS).rows()}
    _write(con, rows, ref)
    return {**{table: len(table_rows) for table, table_rows in rows.items()}, "quality_parameters": 1}


def write_prefecture_reference_tables(con: duckdb.DuckDBPyConnection, ref: PrefectureReference) -> dict[str, int]:
    """Create or replace `reference.areas`, `.targets`, `.measures` and `.ranked_indicators`
    (rollup.toml's `ranked`, in order) from a prefecture's reference (docs/rollup.md §5: no
    population, no quality parameters), in one transaction of its own; return the rows
    written per table."""
    rows = {**_policy_rows(ref), "ranked_indicators": list(enumerate(ref.ranked, start=1))}
    _write(con, rows, None)
    return {table: len(table_rows) for table, table_rows in rows.items()}


def _policy_rows(ref: Reference | PrefectureReference) -> dict[str, list[tuple]]:
    return {
        "areas": ref.areas.select(AREA_COLUMNS).rows(),
        "targets": [
            (t.indicator_id, t.value, t.comparison, t.deadline, t.clause, t.lead_unit, t.note, t.planned_max,
             t.applies_to)
            for t in ref.targets
        ],
        "measures": [
            (m.number, m.title_zh, m.lead_unit, "、".join(m.responsible_units),
             ",".join(m.indicator_ids) or None, m.coverage_note_zh)
            for m in ref.measures
        ],
    }


def _write(con: duckdb.DuckDBPyConnection, rows: dict[str, list[tuple]], county: Reference | None) -> None:
    """The tables of `rows` (and the quality parameters of a county), in one transaction."""
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists reference")
        for statement in _CREATE_TABLES:
            if any(f"reference.{table} (" in statement for table in rows):
                con.execute(statement)
        for table, insert in _INSERTS.items():
            if rows.get(table):
                con.executemany(insert, rows[table])
        if county is not None:
            write_quality_parameters(con, county.quality)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
