"""A tiny warehouse for the indicator tests (tests/test_indicators*.py).

The marts read `core.*`, `audit.*` and `reference.*`, which other stages build. Here
they are plain tables with the documented columns (docs/data-model.md), filled row by
row, so every expected value in a test can be worked out by hand from what it adds.

`Warehouse` starts with three 镇街 under one county and the handbook's default targets:

    990000 测试县 (county)
    990001 甲街道  城镇   population 2023: 10,000 residents, 300 under 3
    990002 乙镇    乡村   population 2023:  5,000 residents, 100 under 3
    990003 丙镇    乡村   population 2023:  5,000 residents, 100 under 3
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from pipeline.marts.build import build_marts, indicator_models

COUNTY = "990000"
TOWN_A = "990001"  # 甲街道, 城镇
TOWN_B = "990002"  # 乙镇, 乡村
TOWN_C = "990003"  # 丙镇, 乡村

AREAS = [
    (COUNTY, "测试县", "县", None, None),
    (TOWN_A, "甲街道", "街道", "城镇", COUNTY),
    (TOWN_B, "乙镇", "镇", "乡村", COUNTY),
    (TOWN_C, "丙镇", "镇", "乡村", COUNTY),
]

POPULATION = [
    (2023, TOWN_A, 10_000, 300),
    (2023, TOWN_B, 5_000, 100),
    (2023, TOWN_C, 5_000, 100),
]

# (indicator_id, target_value, comparison, deadline, clause, lead_unit, note, planned_max,
# applies_to): the handbook's default targets, applied as the shipped targets.toml does
# (counts and county-only indicators to the county, rates to the county and each 镇街).
DEFAULT_TARGETS = [
    ("demo_institutions", 1.0, ">=", "2023-12", "二", "市卫健局", "", 3.0, "county"),
    ("places_per_1000", 4.5, ">=", "2025-12", "二", "市卫健局", "", None, "county_and_towns"),
    ("town_coverage", 100.0, "=", "2025-12", "二", "市卫健局", "", None, "county"),
    ("rural_town_coverage", 100.0, "=", "2025-12", "4", "市发改局", "", None, "county"),
    ("filing_rate", 100.0, "=", "2023-12", "13", "市审批服务局", "", None, "county_and_towns"),
    ("cctv_coverage", 100.0, "=", "2023-12", "15", "市应急局", "", None, "county_and_towns"),
    ("fire_safety_rate", 100.0, "=", "2023-12", "15", "市应急局", "", None, "county_and_towns"),
    ("caregiver_certified_rate", 100.0, "=", "2025-12", "10", "市人社局", "", None, "county_and_towns"),
    ("staff_trained_rate", 100.0, "=", "2025-12", "10", "市人社局", "", None, "county_and_towns"),
    ("criminal_check_rate", 100.0, "=", "2023-12", "15", "市应急局", "", None, "county_and_towns"),
    ("ratio_compliance_rate", 100.0, "=", "2025-12", "14", "市卫健局", "", None, "county_and_towns"),
    ("mch_institution_count", 1.0, ">=", "2025-12", "8", "市卫健局", "", None, "county"),
    ("service_type_count", 4.0, ">=", "2025-12", "二", "市卫健局", "", None, "county"),
]

MEASURES = [
    (4, "推进社区婴幼儿照护服务设施规划建设", "市发改局", "市发改局、市住建局",
     "rural_town_coverage,town_coverage,places_per_1000", "部分反映"),
    (5, "推进公共场所相关设施建设", "市妇联", "市妇联、市总工会", None, "本数据无法反映"),
    (9, "支持社会力量举办托育机构", "市发改局", "市发改局、市卫健局", "affordable_place_share", "部分反映"),
]

_DDL = [
    "create schema if not exists audit",
    "create schema if not exists core",
    "create schema if not exists reference",
    """create table audit.load_log (
        file_path varchar, kind varchar, period varchar, sha256 varchar, status varchar)""",
    """create view audit.current_files as
        select kind, period, sha256, file_path from audit.load_log where status = 'loaded'""",
    """create table core.institutions (
        period varchar, sha256 varchar, row_number integer, institution_id varchar, name varchar,
        credit_code varchar, area_code varchar, institution_type varchar, affordable boolean,
        demonstration boolean, demonstration_date date, registration_date date,
        filing_status varchar, filing_date date, places bigint, cctv_full_coverage boolean,
        fire_safety_passed boolean, operating_status varchar)""",
    """create table core.enrollment (
        period varchar, sha256 varchar, row_number integer, institution_id varchar,
        child_pseudonym varchar, birth_date date, sex varchar, class_type varchar,
        care_mode varchar, enrollment_date date)""",
    """create table core.staffing (
        period varchar, sha256 varchar, row_number integer, institution_id varchar,
        staff_pseudonym varchar, role varchar, certificate varchar,
        pre_service_training boolean, criminal_record_check boolean, hire_date date)""",
    """create table reference.areas (
        area_code varchar, area_name varchar, area_type varchar, urban_rural varchar,
        parent_code varchar)""",
    """create table reference.population (
        year integer, area_code varchar, resident_population bigint, population_under3 bigint)""",
    """create table reference.targets (
        indicator_id varchar, target_value double, comparison varchar, deadline varchar,
        clause varchar, lead_unit varchar, note varchar, planned_max double, applies_to varchar)""",
    """create table reference.measures (
        measure_no integer, title_zh varchar, lead_unit varchar, responsible_units varchar,
        indicator_ids varchar, coverage_note_zh varchar)""",
]


class Warehouse:
    """One DuckDB file with the marts' inputs; add rows, then `build()` the marts."""

    def __init__(self, path: Path, *, targets: list[tuple] | None = None,
                 population: list[tuple] | None = None) -> None:
        self.path = path
        self.con = duckdb.connect(str(path))
        for ddl in _DDL:
            self.con.execute(ddl)
        self.con.executemany("insert into reference.areas values (?, ?, ?, ?, ?)", AREAS)
        self.con.executemany("insert into reference.population values (?, ?, ?, ?)",
                             POPULATION if population is None else population)
        self.con.executemany("insert into reference.targets values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             DEFAULT_TARGETS if targets is None else targets)
        self.con.executemany("insert into reference.measures values (?, ?, ?, ?, ?, ?)", MEASURES)
        self._row = 0

    def close(self) -> None:
        self.con.close()

    def file(self, kind: str, period: str, status: str = "loaded") -> None:
        """Record one extract file in the load log (status 'loaded' makes it current)."""
        stem = None if kind is None else f"{kind}_{period}.csv"
        self.con.execute(
            "insert into audit.load_log values (?, ?, ?, ?, ?)",
            [stem or "说明.txt", kind, period, f"sha-{kind}-{period}", status],
        )

    def files(self, period: str, *kinds: str) -> None:
        for kind in kinds:
            self.file(kind, period)

    def institution(self, period: str, institution_id: str, area_code: str, *,
                    institution_type: str = "社会办托育机构", places: int = 10,
                    affordable: bool = False, demonstration: bool = False,
                    filed: bool = True, cctv: bool = True, fire_safe: bool = True,
                    operating_status: str = "正常运营") -> None:
        self._row += 1
        self.con.execute(
            "insert into core.institutions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [period, f"sha-institutions-{period}", self._row, institution_id, f"{institution_id}托育园",
             None, area_code, institution_type, affordable, demonstration, None, date(2020, 1, 1),
             "已备案" if filed else "未备案", None, places, cctv, fire_safe, operating_status],
        )

    def child(self, period: str, institution_id: str, pseudonym: str, birth_date: date,
              class_type: str = "托小班") -> None:
        self._row += 1
        self.con.execute(
            "insert into core.enrollment values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [period, f"sha-enrollment-{period}", self._row, institution_id, pseudonym, birth_date,
             "女", class_type, "全日托", date(2023, 9, 1)],
        )

    def staff(self, period: str, institution_id: str, pseudonym: str, *, role: str = "保育人员",
              certificate: str = "保育师", trained: bool | None = True, checked: bool | None = True) -> None:
        self._row += 1
        self.con.execute(
            "insert into core.staffing values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [period, f"sha-staffing-{period}", self._row, institution_id, pseudonym, role,
             certificate, trained, checked, date(2023, 1, 1)],
        )

    def build(self) -> dict[str, int]:
        """Build the indicator models (sql/marts/data_quality, owned by validation, reads
        tables not made here)."""
        return build_marts(self.con, indicator_models())

    def row(self, indicator_id: str, period: str, area_code: str) -> dict[str, Any] | None:
        """One row of marts.indicator_values as a dict, or None when there is none."""
        cursor = self.con.execute(
            "select * from marts.indicator_values where indicator_id = ? and period = ? and area_code = ?",
            [indicator_id, period, area_code],
        )
        names = [d[0] for d in cursor.description]
        found = cursor.fetchall()
        assert len(found) <= 1, f"{len(found)} rows for {indicator_id} {period} {area_code}"
        return dict(zip(names, found[0])) if found else None

    def value(self, indicator_id: str, period: str, area_code: str = COUNTY) -> float | None:
        row = self.row(indicator_id, period, area_code)
        assert row is not None, f"no row for {indicator_id} {period} {area_code}"
        return row["value"]

    def status(self, indicator_id: str, period: str, area_code: str = COUNTY) -> str | None:
        row = self.row(indicator_id, period, area_code)
        assert row is not None, f"no row for {indicator_id} {period} {area_code}"
        return row["status"]

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()


def add_month_like_january(w: Warehouse, period: str, *, i2_filed: bool = False) -> None:
    """The institutions of the main fixture (the same every month but for I2's filing).

    | id | 镇街   | 机构类型          | 普惠 | 示范 | 备案   | 托位 | 监控 | 消防 | 运营状态 |
    | I1 | 甲街道 | 社会办托育机构    | 是   | 是   | 已备案 | 30   | 是   | 是   | 正常运营 |
    | I2 | 甲街道 | 幼儿园托班        | 否   | 否   | 未备案 | 20   | 否   | 是   | 正常运营 |
    | I3 | 乙镇   | 妇幼保健机构办托  | 是   | 否   | 已备案 | 10   | 是   | 否   | 正常运营 |
    | I4 | 乙镇   | 用人单位办托      | 否   | 否   | 已备案 | 40   | 是   | 是   | 正常运营 |
    | I5 | 甲街道 | 社区托育点        | 是   | 是   | 已备案 | 100  | 是   | 是   | 暂停运营 |  not in O(M)
    | I6 | 丙镇   | 家庭托育点        | 是   | 否   | 已备案 | 5    | 是   | 是   | 已注销   |  not in O(M)

    O(M) = I1, I2 (甲街道), I3, I4 (乙镇); 丙镇 has no operating institution.
    """
    w.institution(period, "I1", TOWN_A, institution_type="社会办托育机构", places=30,
                  affordable=True, demonstration=True)
    w.institution(period, "I2", TOWN_A, institution_type="幼儿园托班", places=20,
                  filed=i2_filed, cctv=i2_filed)
    w.institution(period, "I3", TOWN_B, institution_type="妇幼保健机构办托", places=10,
                  affordable=True, fire_safe=False)
    w.institution(period, "I4", TOWN_B, institution_type="用人单位办托", places=40)
    w.institution(period, "I5", TOWN_A, institution_type="社区托育点", places=100,
                  affordable=True, demonstration=True, operating_status="暂停运营")
    w.institution(period, "I6", TOWN_C, institution_type="家庭托育点", places=5,
                  affordable=True, operating_status="已注销")


def add_children_like_january(w: Warehouse, period: str) -> None:
    """Enrolled children of the main fixture (ages at 2024-01-31).

    | child | 机构 | 班型   | 出生日期   | 月龄                       |
    | c1    | I1   | 乳儿班 | 2023-05-10 | 8                          |
    | c2    | I1   | 乳儿班 | 2023-03-01 | 10                         |
    | c3    | I1   | 托小班 | 2022-10-20 | 15                         |
    | c4    | I1   | 托大班 | 2021-01-31 | 36: enrolled, not under 3  |
    | c5    | I2   | 托大班 | 2021-02-01 | 35                         |
    | c7    | I2   | 托小班 | 2022-05-05 | 20  (甲街道)               |
    | c7    | I3   | 托小班 | 2022-05-05 | 20  (乙镇: same child)     |
    | c8    | I3   | 托小班 | 2022-09-09 | 16                         |
    | c9    | I5   | 托小班 | 2022-01-01 | I5 is 暂停运营: not counted |
    I4 has no children.
    """
    w.child(period, "I1", "c1", date(2023, 5, 10), "乳儿班")
    w.child(period, "I1", "c2", date(2023, 3, 1), "乳儿班")
    w.child(period, "I1", "c3", date(2022, 10, 20), "托小班")
    w.child(period, "I1", "c4", date(2021, 1, 31), "托大班")
    w.child(period, "I2", "c5", date(2021, 2, 1), "托大班")
    w.child(period, "I2", "c7", date(2022, 5, 5), "托小班")
    w.child(period, "I3", "c7", date(2022, 5, 5), "托小班")
    w.child(period, "I3", "c8", date(2022, 9, 9), "托小班")
    w.child(period, "I5", "c9", date(2022, 1, 1), "托小班")


def add_staff_like_january(w: Warehouse, period: str) -> None:
    """Staff of the main fixture.

    | staff | 机构 | 岗位     | 资格证书          | 岗前培训 | 无犯罪记录 |
    | s1    | I1   | 保育人员 | 保育师            | 是       | 是         |
    | s2    | I1   | 保育人员 | 育婴员            | 是       | 否         |
    | s3    | I1   | 保育人员 | 无                | 否       | 是         |
    | s4    | I1   | 管理人员 | 无                | 是       | 是         |
    | s5    | I2   | 保育人员 | 幼儿园教师资格证  | 是       | 是         |
    | s6    | I2   | 保健人员 | 护士执业证        | 否       | 是         |
    | s7    | I3   | 保育人员 | 保育师            | 是       | 是         |
    | s1    | I3   | 保育人员 | 保育师            | 是       | 是         |  same person, second job
    | s8    | I4   | 保育人员 | 护士执业证        | 否       | 否         |
    | s9    | I5   | 保育人员 | 无                | 否       | 否         |  I5 暂停运营: not counted
    """
    w.staff(period, "I1", "s1", certificate="保育师")
    w.staff(period, "I1", "s2", certificate="育婴员", checked=False)
    w.staff(period, "I1", "s3", certificate="无", trained=False)
    w.staff(period, "I1", "s4", role="管理人员", certificate="无")
    w.staff(period, "I2", "s5", certificate="幼儿园教师资格证")
    w.staff(period, "I2", "s6", role="保健人员", certificate="护士执业证", trained=False)
    w.staff(period, "I3", "s7", certificate="保育师")
    w.staff(period, "I3", "s1", certificate="保育师")
    w.staff(period, "I4", "s8", certificate="护士执业证", trained=False, checked=False)
    w.staff(period, "I5", "s9", certificate="无", trained=False, checked=False)


def main_warehouse(path: Path, *, targets: list[tuple] | None = None) -> Warehouse:
    """The main fixture: four months, built.

    2024-01  institutions, enrollment, staffing       everything computable
    2024-02  institutions, staffing (no enrollment)   I2 now 已备案 with full CCTV
    2024-03  institutions, enrollment (no staffing)   as January
    2024-04  only a rejected institutions file         every indicator NULL
    plus an unrecognised file, which has no month.
    """
    w = Warehouse(path, targets=targets)
    w.files("2024-01", "institutions", "enrollment", "staffing")
    add_month_like_january(w, "2024-01")
    add_children_like_january(w, "2024-01")
    add_staff_like_january(w, "2024-01")

    w.files("2024-02", "institutions", "staffing")
    add_month_like_january(w, "2024-02", i2_filed=True)
    add_staff_like_january(w, "2024-02")

    w.files("2024-03", "institutions", "enrollment")
    add_month_like_january(w, "2024-03")
    add_children_like_january(w, "2024-03")

    w.file("institutions", "2024-04", status="file_rejected")
    w.file(None, None, status="unrecognised")
    w.build()
    return w
