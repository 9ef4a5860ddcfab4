"""Time validate() on a synthetic warehouse the size of a scale-50 county month.

    uv run --frozen python bench/validate_bench.py [--months 3] [--institutions 5000]

Stages `--months` months of synthetic rows (per month ~5,000 institutions, 40 children and
12 staff per institution: ~200,000 enrollment and ~60,000 staff rows, about 2 % of rows
spoiled in some way) straight into staging.*, then validates the last month only, then
every month. The warehouse lives in a temporary folder and is deleted afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import duckdb

from pipeline.warehouse.schema import create_tables

_AREAS = """
create or replace table reference.areas as
select * from (values ('379902', '样例县', '县', null, null)) as t (area_code, area_name, area_type, urban_rural, parent_code)
union all
select '379902' || lpad(i::varchar, 3, '0'), '镇街' || i, '镇', '乡村', '379902' from range(1, 13) as r (i)"""

# One month of institutions: $n rows, a few spoiled (bad area, bad type, places > 200, a conflicting id).
_INSTITUTIONS = """
insert into staging.institutions by name
select $sha as sha256, $period as period_file, i as row_number, i + 1 as source_row,
       $period as period_raw, $period as period, false as is_duplicate,
       'JG' || lpad((case when i % 997 = 0 then i - 1 else i end)::varchar, 5, '0') as institution_id,
       '机构' || i as name, 'X' as credit_code, i % 53 <> 0 as credit_code_valid,
       case when i % 211 = 0 then '999' else '379902' || lpad((1 + i % 12)::varchar, 3, '0') end as area_code,
       case when i % 307 = 0 then '托儿所' else '社会办托育机构' end as institution_type,
       '是' as affordable_raw, true as affordable, '否' as demonstration_raw, false as demonstration,
       '2020-01-01' as registration_date_raw, date '2020-01-01' as registration_date,
       '已备案' as filing_status, '2021-01-01' as filing_date_raw, date '2021-01-01' as filing_date,
       (40 + i % 170)::varchar as places_raw,
       40 + i % 170 + case when i % 401 = 0 then 100 else 0 end as places,
       '是' as cctv_full_coverage_raw, true as cctv_full_coverage,
       '是' as fire_safety_passed_raw, true as fire_safety_passed, '正常运营' as operating_status
from range(1, $n + 1) as r (i)"""

_ENROLLMENT = """
insert into staging.enrollment by name
select $sha as sha256, $period as period_file, i as row_number, i + 1 as source_row,
       $period as period_raw, $period as period, false as is_duplicate,
       'JG' || lpad((1 + i % $n)::varchar, 5, '0') as institution_id,
       case when i % 331 = 0 then null
            else sha256('child' || (case when i % 509 = 0 then i - 1 else i end)) end as child_pseudonym,
       case when i % 331 = 0 then 'check_digit' end as child_id_problem,
       strftime(date '2020-06-01' + (i % 900)::integer, '%Y-%m-%d') as birth_date_raw,
       date '2020-06-01' + (i % 900)::integer as birth_date,
       i % 173 <> 0 as birth_date_matches_id,
       case when i % 2 = 0 then '男' else '女' end as sex, i % 181 <> 0 as sex_matches_id,
       '托小班' as class_type, case when i % 401 = 0 then '周末托' else '全日托' end as care_mode,
       '2023-01-01' as enrollment_date_raw, date '2023-01-01' as enrollment_date
from range(1, $rows + 1) as r (i)"""

_STAFFING = """
insert into staging.staffing by name
select $sha as sha256, $period as period_file, i as row_number, i + 1 as source_row,
       $period as period_raw, $period as period, false as is_duplicate,
       'JG' || lpad((1 + i % $n)::varchar, 5, '0') as institution_id,
       sha256('staff' || i) as staff_pseudonym,
       case when i % 293 = 0 then '教师' else '保育人员' end as role, '保育师' as certificate,
       '是' as pre_service_training_raw, true as pre_service_training,
       '是' as criminal_record_check_raw, true as criminal_record_check,
       '2022-01-01' as hire_date_raw, date '2022-01-01' as hire_date
from range(1, $rows + 1) as r (i)"""


def build(path: Path, months: list[str], institutions: int) -> None:
    con = duckdb.connect(str(path))
    create_tables(con)
    con.execute(_AREAS)
    for period in months:
        sizes = {"institutions": institutions, "enrollment": institutions * 40, "staffing": institutions * 12}
        for kind, sql in (("institutions", _INSTITUTIONS), ("enrollment", _ENROLLMENT), ("staffing", _STAFFING)):
            sha = f"{kind}-{period}"
            params = {"sha": sha, "period": period, "n": institutions}
            if kind != "institutions":
                params["rows"] = sizes[kind]
            con.execute(sql, params)
            con.execute(
                "insert into audit.load_log (file_path, kind, period, sha256, rows_read, rows_duplicate, status, loaded_at) "
                "values (?, ?, ?, ?, ?, 0, 'loaded', ?)",
                [f"{kind}_{period}.csv", kind, period, sha, sizes[kind], dt.datetime.now()],
            )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--institutions", type=int, default=5000)
    args = parser.parse_args()
    months = [f"2023-{m:02d}" for m in range(1, args.months + 1)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "warehouse.duckdb"
        started = time.perf_counter()
        build(path, months, args.institutions)
        print(f"staged {len(months)} month(s) in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        from pipeline.validate import validate  # noqa: PLC0415 (timed: GX is imported on first use)

        last = months[-1]
        report = validate(path, {kind: [last] for kind in ("institutions", "enrollment", "staffing")})
        print(f"validate one month ({last}), first call incl. GX import: {time.perf_counter() - started:.1f} s "
              f"(inside validate: {report.seconds:.1f} s)")
        for result in report.files:
            print(f"  {result.kind:<12} rows {result.rows_read:>7}  rejected {result.rows_rejected:>5}  "
                  f"warned {result.rows_warned:>5}  blocking {result.blocking}")
            print(f"    {report.rules_for(result.kind, result.period)}")
        started = time.perf_counter()
        report = validate(path, {kind: [last] for kind in ("institutions", "enrollment", "staffing")})
        print(f"validate the same month again: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        report = validate(path)
        print(f"validate all {len(months)} months: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
