"""The warehouse's staging and audit tables: their DDL, in one place.

`docs/data-model.md` explains every column. Staging tables hold the rows of the current
version of each kind × month, as text (`*_raw`) and parsed; audit tables record every
file version seen and every rule a row failed.
"""

from __future__ import annotations

import duckdb

KINDS = ("institutions", "enrollment", "staffing")

_COMMON = """
    sha256 varchar not null,
    period_file varchar not null,
    row_number integer not null,
    source_row integer not null,
    period_raw varchar,
    period varchar,
    institution_id varchar,
    is_duplicate boolean not null default false
"""

STAGING_DDL = {
    "institutions": f"""
create table if not exists staging.institutions ({_COMMON},
    name varchar,
    credit_code varchar,
    credit_code_valid boolean,
    area_code varchar,
    institution_type varchar,
    affordable_raw varchar,
    affordable boolean,
    demonstration_raw varchar,
    demonstration boolean,
    demonstration_date_raw varchar,
    demonstration_date date,
    registration_date_raw varchar,
    registration_date date,
    filing_status varchar,
    filing_date_raw varchar,
    filing_date date,
    places_raw varchar,
    places bigint,
    cctv_full_coverage_raw varchar,
    cctv_full_coverage boolean,
    fire_safety_passed_raw varchar,
    fire_safety_passed boolean,
    operating_status varchar
)""",
    "enrollment": f"""
create table if not exists staging.enrollment ({_COMMON},
    child_pseudonym varchar,
    child_id_problem varchar,
    birth_date_raw varchar,
    birth_date date,
    birth_date_matches_id boolean,
    sex varchar,
    sex_matches_id boolean,
    class_type varchar,
    care_mode varchar,
    enrollment_date_raw varchar,
    enrollment_date date
)""",
    "staffing": f"""
create table if not exists staging.staffing ({_COMMON},
    staff_pseudonym varchar,
    staff_id_problem varchar,
    role varchar,
    certificate varchar,
    pre_service_training_raw varchar,
    pre_service_training boolean,
    criminal_record_check_raw varchar,
    criminal_record_check boolean,
    hire_date_raw varchar,
    hire_date date
)""",
}

_ROW_ISSUE_COLUMNS = """
    sha256 varchar not null,
    kind varchar not null,
    period varchar not null,
    row_number integer not null,
    source_row integer,
    institution_id varchar,
    rule_id varchar not null,
    severity varchar not null,
    message varchar not null,
    row_values json
"""

# The office's confirmations that a flagged value was checked and is genuine (docs/quality.md).
# flag_key is marts.quality_flags.flag_key: check, month, institution (or area), measure and
# value, so a confirmation survives re-runs and revisions of other months, and a revision
# that changes the flagged value opens the flag again. marts.quality_flags left-joins it.
QUALITY_CONFIRMATIONS_DDL = """
create table if not exists audit.quality_confirmations (
    flag_key varchar primary key,
    note varchar not null,
    confirmed_at timestamp not null
)"""

AUDIT_DDL = [
    """
create table if not exists audit.load_log (
    file_path varchar not null,
    kind varchar,
    period varchar,
    sha256 varchar,
    rows_read integer,
    rows_accepted integer,
    rows_rejected integer,
    rows_duplicate integer,
    status varchar not null,
    message varchar,
    loaded_at timestamp not null,
    size_bytes bigint,
    modified_at timestamp
)""",
    f"create table if not exists audit.rejected_rows ({_ROW_ISSUE_COLUMNS})",
    f"create table if not exists audit.row_warnings ({_ROW_ISSUE_COLUMNS})",
    QUALITY_CONFIRMATIONS_DDL,
    """
create or replace view audit.current_files as
select kind, period, sha256, file_path
from audit.load_log
where status = 'loaded'""",
]


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the staging and audit schemas and tables when they do not exist yet."""
    for schema in ("staging", "audit", "core", "marts", "reference"):
        con.execute(f"create schema if not exists {schema}")
    for ddl in STAGING_DDL.values():
        con.execute(ddl)
    for ddl in AUDIT_DDL:
        con.execute(ddl)
