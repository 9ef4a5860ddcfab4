"""Copying a loaded reference into the warehouse's `reference` schema."""

from __future__ import annotations

import duckdb

from pipeline.reference.areas import AREA_COLUMNS, POPULATION_COLUMNS
from pipeline.reference.load import Reference


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
    """create or replace table reference.measures (
        measure_no integer primary key,
        title_zh varchar not null,
        lead_unit varchar not null,
        responsible_units varchar not null,
        indicator_ids varchar,
        coverage_note_zh varchar not null
    )""",
)

_INSERTS = {
    "areas": "insert into reference.areas values (?, ?, ?, ?, ?)",
    "population": "insert into reference.population values (?, ?, ?, ?)",
    "targets": "insert into reference.targets values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "measures": "insert into reference.measures values (?, ?, ?, ?, ?, ?)",
}


def write_reference_tables(con: duckdb.DuckDBPyConnection, ref: Reference) -> dict[str, int]:
    """Create or replace `reference.areas`, `.population`, `.targets` and `.measures`
    from `ref`, in one transaction of its own; return the rows written per table.

    `reference.measures.responsible_units` is the units joined by 、 (the first leads),
    `indicator_ids` the ids joined by commas, NULL when the extracts cannot show it."""
    rows = {
        "areas": ref.areas.select(AREA_COLUMNS).rows(),
        "population": ref.population.select(POPULATION_COLUMNS).rows(),
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
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists reference")
        for statement in _CREATE_TABLES:
            con.execute(statement)
        for table, insert in _INSERTS.items():
            if rows[table]:
                con.executemany(insert, rows[table])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return {table: len(table_rows) for table, table_rows in rows.items()}
