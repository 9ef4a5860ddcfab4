"""A small county for the report tests, built through the pipeline's own models.

The report reads what the pipeline builds, so its tests build their warehouse the same way:
the county's rows are written into the staging tables as the ingest writes them (with the
load log's rows), the rows validation would reject into `audit.rejected_rows`, and from
there the real models of `sql/core` and `sql/marts` build everything the report reads.
The reference data go through the real loader: the `areas.csv` and `population.csv` below,
with the shipped county's targets and measures.

样板县 (379999), three 镇街, 2023-01 … 2024-03:

    379999001 城关街道  街道  城镇  62,859 residents
    379999101 河东镇    镇    乡村  30,000
    379999201 山前乡    乡    乡村   9,000   no operating institution

| id     | 镇街     | 机构类型       | 托位 | 普惠 | 示范 | operating           | planted                            |
| JG0001 | 城关街道 | 社会办托育机构 | 100  | 是   | 是   | 2023-01 …           |                                    |
| JG0002 | 城关街道 | 社会办托育机构 |  80  | 是   | 是   | 2023-07 …           |                                    |
| JG0003 | 城关街道 | 幼儿园托班     |  60  | 否   | 否   | 2023-01 …           | 未备案 until 2024-02               |
| JG0004 | 城关街道 | 用人单位办托   |  40  | 否   | 否   | 2024-02 …           | no caregiver: out of ratio         |
| JG0101 | 河东镇   | 社区托育点     |  40  | 否   | 否   | 2023-01 …           | no full CCTV                       |
| JG0201 | 山前乡   | 家庭托育点     |  10  | 否   | 否   | never (暂停运营)    | so 山前乡 has none                 |

What the report tests look for, in 2024-03 (the report month):
- 320 places, 180 of them affordable: 普惠托位占比 100 × 180 ÷ 320 = 56.25, printed 56.3
  (half up); 每千人口托位数 1000 × 320 ÷ 101,859 = 3.14159…, printed 3.14.
- 山前乡: its rates have no institution to divide by ("—"), its counts and places per
  1,000 are real zeros (0, 0.00).
- JG0003 is filed from 2024-03: 托育机构备案率 goes from 未达成 to 已达成 (deadline 2023-12).
Planted in the deliveries:
- staffing 2024-02 was not delivered: the staff indicators have no data that month;
- institutions 2024-02 was delivered twice: the second version is current (已修订);
- enrollment 2024-03: three rows rejected, one of them with a message that a spreadsheet
  would run as a formula.

`uv run --frozen python -m tests.report_warehouse OUT.duckdb` writes one, to look at
the report by eye (`TUOYU_WAREHOUSE=OUT.duckdb uv run --frozen tuoyu report`).
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from pipeline.marts.build import build_marts
from pipeline.period import months_between, shift_month
from pipeline.reference import load_reference, write_reference_tables
from pipeline.warehouse import sql_models as sqlmodels
from pipeline.warehouse.schema import create_tables
from tests.validate_fixtures import pseudonym

COUNTY = "379999"
TOWN, RIVER, HILL = "379999001", "379999101", "379999201"
PERIOD = "2024-03"
MONTHS = months_between("2023-01", PERIOD)

AREAS_CSV = f"""area_code,area_name,area_type,urban_rural,parent_code
{COUNTY},样板县,县,,
{TOWN},城关街道,街道,城镇,{COUNTY}
{RIVER},河东镇,镇,乡村,{COUNTY}
{HILL},山前乡,乡,乡村,{COUNTY}
"""
POPULATION_CSV = f"""year,area_code,resident_population,population_under3
2023,{TOWN},62859,1500
2023,{RIVER},30000,800
2023,{HILL},9000,250
"""

# (id, 镇街, 机构类型, places, affordable, demonstration, first month operating or None)
INSTITUTIONS = [
    ("JG0001", TOWN, "社会办托育机构", 100, True, True, "2023-01"),
    ("JG0002", TOWN, "社会办托育机构", 80, True, True, "2023-07"),
    ("JG0003", TOWN, "幼儿园托班", 60, False, False, "2023-01"),
    ("JG0004", TOWN, "用人单位办托", 40, False, False, "2024-02"),
    ("JG0101", RIVER, "社区托育点", 40, False, False, "2023-01"),
    ("JG0201", HILL, "家庭托育点", 10, False, False, None),
]
FILED_FROM = {"JG0003": "2024-03"}  # the others are 已备案 throughout
NO_CCTV = {"JG0101"}

# Children of each institution, the same every month it operates: (乳儿班, 托小班, 托大班).
# Caregivers required: ⌈乳儿班 ÷ 3⌉ + ⌈托小班 ÷ 5⌉ + ⌈托大班 ÷ 7⌉.
CLASSES = {"JG0001": (2, 4, 0), "JG0002": (0, 5, 0), "JG0003": (0, 0, 7), "JG0004": (0, 3, 0),
           "JG0101": (0, 4, 0)}
BIRTH = {"乳儿班": date(2023, 1, 10), "托小班": date(2022, 3, 15), "托大班": date(2021, 6, 1)}

# Staff of each institution: (岗位, 资格证书, 岗前培训, 无犯罪记录证明).
STAFF = {
    "JG0001": [("保育人员", "保育师", True, True), ("保育人员", "育婴员", True, True),
               ("负责人", "无", True, True)],
    "JG0002": [("保育人员", "无", True, True)],                 # not certified
    "JG0003": [("保育人员", "幼儿园教师资格证", True, True)],
    "JG0004": [("保健人员", "护士执业证", True, True)],         # no caregiver for 3 children
    "JG0101": [("保育人员", "保育师", False, True)],            # not trained
}

# (kind, month) not delivered; (kind, month) delivered twice.
MISSING = {("staffing", "2024-02")}
REVISED = {("institutions", "2024-02")}
# Enrollment rows of 2024-03 that validation rejects: (rule, message).
REJECTED = [
    ("ENR-CHILD-ID-CHECK", "幼儿身份证号校验位错误。"),
    ("ENR-CHILD-ID-CHECK", "幼儿身份证号校验位错误。"),
    ("ENR-SEX", '=HYPERLINK("x","性别不是男或女")'),  # a formula, should a spreadsheet run it
]


def operating(institution_id: str, period: str) -> bool:
    first = next(i[6] for i in INSTITUTIONS if i[0] == institution_id)
    return first is not None and period >= first


def institution_rows(period: str) -> list[dict[str, Any]]:
    rows = []
    for iid, area, kind, places, affordable, demonstration, first in INSTITUTIONS:
        if first is not None and period < first:
            continue  # not yet open: not on the month's list
        filed = period >= FILED_FROM.get(iid, "")
        rows.append(dict(
            institution_id=iid, name=f"{iid}托育园", area_code=area, institution_type=kind,
            affordable=affordable, demonstration=demonstration, registration_date=date(2022, 1, 10),
            filing_status="已备案" if filed else "未备案", places=places,
            cctv_full_coverage=iid not in NO_CCTV, fire_safety_passed=True,
            operating_status="正常运营" if first is not None else "暂停运营"))
    return rows


def enrollment_rows(period: str) -> list[dict[str, Any]]:
    rows = []
    for iid, counts in CLASSES.items():
        if not operating(iid, period):
            continue
        for class_type, count in zip(BIRTH, counts):
            for n in range(count):
                rows.append(dict(institution_id=iid, child_pseudonym=pseudonym(f"{iid}-{class_type}-{n}"),
                                 birth_date=BIRTH[class_type], sex="女", class_type=class_type,
                                 care_mode="全日托", enrollment_date=date(2023, 1, 1)))
    if period == PERIOD:
        rows += [dict(institution_id="JG0001", child_pseudonym=pseudonym(f"rejected-{n}"),
                      child_id_problem="check", birth_date=BIRTH["托小班"], sex="男",
                      class_type="托小班", care_mode="全日托", enrollment_date=date(2023, 1, 1))
                 for n in range(len(REJECTED))]
    return rows


def staffing_rows(period: str) -> list[dict[str, Any]]:
    return [dict(institution_id=iid, staff_pseudonym=pseudonym(f"{iid}-staff-{n}"), role=role,
                 certificate=certificate, pre_service_training=trained, criminal_record_check=checked,
                 hire_date=date(2022, 5, 1))
            for iid, staff in STAFF.items() if operating(iid, period)
            for n, (role, certificate, trained, checked) in enumerate(staff)]


ROWS = {"institutions": institution_rows, "enrollment": enrollment_rows, "staffing": staffing_rows}


def deliver(con: duckdb.DuckDBPyConnection, kind: str, period: str, rows: list[dict[str, Any]],
            version: int = 1, rejected: list[tuple[str, str]] = ()) -> None:
    """One file version as the ingest and validation leave it: its rows in staging (replacing
    those of an earlier version, which the load log then calls superseded), its load-log row,
    and its last `len(rejected)` rows in audit.rejected_rows."""
    sha = f"{kind}-{period}-v{version}"
    path = f"{period[:4]}/{kind}_{period}.csv"
    delivered = datetime.fromisoformat(f"{shift_month(period, 1)}-05 09:00") + timedelta(days=version - 1)
    con.execute(f"delete from staging.{kind} where period_file = ?", [period])
    con.execute("update audit.load_log set status = 'superseded' where kind = ? and period = ? and status = 'loaded'",
                [kind, period])
    for number, row in enumerate(rows, start=1):
        values = {"sha256": sha, "period_file": period, "row_number": number, "source_row": number + 1,
                  "period_raw": period, "period": period, "is_duplicate": False, **row}
        columns = ", ".join(sqlmodels.quote_ident(c) for c in values)
        con.execute(f"insert into staging.{kind} ({columns}) values ({', '.join('?' for _ in values)})",
                    list(values.values()))
    first_rejected = len(rows) - len(rejected) + 1
    for number, (rule, message) in enumerate(rejected, start=first_rejected):
        con.execute("insert into audit.rejected_rows values (?, ?, ?, ?, ?, ?, ?, 'R', ?, null)",
                    [sha, kind, period, number, number + 1, rows[number - 1]["institution_id"], rule, message])
    con.execute(
        """insert into audit.load_log (file_path, kind, period, sha256, rows_read, rows_accepted,
               rows_rejected, rows_duplicate, status, message, loaded_at, size_bytes, modified_at)
           values (?, ?, ?, ?, ?, ?, ?, 0, 'loaded', null, ?, 1000, ?)""",
        [path, kind, period, sha, len(rows), len(rows) - len(rejected), len(rejected), delivered, delivered])


def build(con: duckdb.DuckDBPyConnection) -> None:
    """What a run builds after validation: the core views and every model of sql/marts."""
    sqlmodels.run_models(con, "core")
    build_marts(con)


def build_report_warehouse(path: Path) -> Path:
    """The small county's warehouse at `path` (its reference folder beside it)."""
    reference = path.parent / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    (reference / "areas.csv").write_text(AREAS_CSV, encoding="utf-8")
    (reference / "population.csv").write_text(POPULATION_CSV, encoding="utf-8")
    con = duckdb.connect(str(path))
    try:
        create_tables(con)
        write_reference_tables(con, load_reference(reference))
        for period in MONTHS:
            for kind, rows_of in ROWS.items():
                if (kind, period) in MISSING:
                    continue
                rows = rows_of(period)
                if (kind, period) in REVISED:  # a first version, replaced by the second below
                    deliver(con, kind, period, rows[:-1])
                rejected = REJECTED if (kind, period) == ("enrollment", PERIOD) else []
                deliver(con, kind, period, rows, version=2 if (kind, period) in REVISED else 1,
                        rejected=rejected)
        build(con)
    finally:
        con.close()
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.unlink(missing_ok=True)
    print(build_report_warehouse(out))
