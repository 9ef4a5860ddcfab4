"""Every query of sql/examples runs on a published copy and answers its question.

The published copy is made by `pipeline.analysts.publish.publish` from a fake warehouse: the
inputs the marts read (staging, audit, reference) are filled by hand, and the marts
themselves are built by the project's own SQL models, so the examples meet the real
marts schemas. The fake county (样板县) and what is planted in it:

    990001 城关街道 (城镇)  A1 阳光托育园  社会办托育机构  40 places (60 in 2024-03)
                            A2 小星星托育点 社区托育点      20 places, 未备案, no CCTV (fixed in 2024-03)
    990002 东湖镇 (乡村)    B1 东湖幼儿园托班 幼儿园托班   30 places, fire inspection failed,
                                                          loses CCTV in 2024-03, 8 children and
                                                          1 caregiver (needs 3): out of ratio
    990003 西山镇 (乡村)    C1 西山家庭托育点 暂停运营: not operating, so 西山镇 is uncovered

    2024-01 all three extracts; 2024-02 the staffing file was rejected (so no staffing
    data) and one enrollment row of A2 rejected; 2024-03 institutions revised (two
    versions), one staffing row of B1 rejected; one unrecognised file.

Set TUOYU_EXAMPLES_WAREHOUSE to a real warehouse file to run the examples on its
published copy instead (opened read-only, published into the test's tmp_path):

    TUOYU_EXAMPLES_WAREHOUSE=data/warehouse.duckdb uv run --frozen pytest tests/test_sql_examples.py
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline.warehouse import sql_models as sqlmodels
from pipeline.marts.build import build_marts
from pipeline.analysts.publish import publish
from pipeline.analysts.examples import EXAMPLES_DIR, list_examples
from pipeline.analysts.query import run_sql
from pipeline.warehouse.schema import create_tables
from pipeline.reference import default_reference_folder
from pipeline.reference.quality import parse_quality
from pipeline.reference.tables import write_quality_parameters
from pipeline.commands.status import record_run

REAL_WAREHOUSE = os.environ.get("TUOYU_EXAMPLES_WAREHOUSE")

COUNTY, TOWN_A, TOWN_B, TOWN_C = "990000", "990001", "990002", "990003"

AREAS = [
    (COUNTY, "样板县", "县", None, None),
    (TOWN_A, "城关街道", "街道", "城镇", COUNTY),
    (TOWN_B, "东湖镇", "镇", "乡村", COUNTY),
    (TOWN_C, "西山镇", "镇", "乡村", COUNTY),
]
POPULATION = [(2024, TOWN_A, 20_000, 400), (2024, TOWN_B, 10_000, 200), (2024, TOWN_C, 10_000, 200)]
TARGETS = [
    ("places_per_1000", 4.5, ">=", "2025-12", "二", "市卫健局", "", None, "county_and_towns"),
    ("town_coverage", 100.0, "=", "2025-12", "二", "市卫健局", "", None, "county"),
    ("cctv_coverage", 100.0, "=", "2023-12", "15", "市应急局", "", None, "county_and_towns"),
    ("filing_rate", 100.0, "=", "2023-12", "13", "市审批服务局", "", None, "county_and_towns"),
    ("ratio_compliance_rate", 100.0, "=", "2025-12", "14", "市卫健局", "", None, "county_and_towns"),
    ("demo_institutions", 1.0, ">=", "2023-12", "二", "市卫健局", "", 3.0, "county"),
]
MEASURES = [
    (9, "支持社会力量举办托育机构", "市发改局", "市发改局、市卫健局", "places_per_1000", "部分反映"),
    (15, "加强公共安全监管", "市应急局", "市应急局、市公安局", "cctv_coverage", "部分反映"),
]

_REFERENCE_DDL = [
    "create schema if not exists reference",
    """create table reference.areas (area_code varchar primary key, area_name varchar not null,
        area_type varchar not null, urban_rural varchar, parent_code varchar)""",
    """create table reference.population (year integer not null, area_code varchar not null,
        resident_population bigint not null, population_under3 bigint not null)""",
    """create table reference.targets (indicator_id varchar primary key, target_value double not null,
        comparison varchar not null, deadline varchar not null, clause varchar not null,
        lead_unit varchar not null, note varchar not null, planned_max double,
        applies_to varchar not null)""",
    """create table reference.measures (measure_no integer primary key, title_zh varchar not null,
        lead_unit varchar not null, responsible_units varchar not null, indicator_ids varchar,
        coverage_note_zh varchar not null)""",
]

# (file_path, kind, period, sha256, rows_read, rows_accepted, rows_rejected, status, message, day received)
LOAD_LOG = [
    ("institutions_2024-01.csv", "institutions", "2024-01", "ins-01", 4, 4, 0, "loaded", None, 5),
    ("enrollment_2024-01.csv", "enrollment", "2024-01", "enr-01", 15, 15, 0, "loaded", None, 5),
    ("staffing_2024-01.csv", "staffing", "2024-01", "stf-01", 6, 6, 0, "loaded", None, 5),
    ("institutions_2024-02.csv", "institutions", "2024-02", "ins-02", 4, 4, 0, "loaded", None, 35),
    ("enrollment_2024-02.csv", "enrollment", "2024-02", "enr-02", 16, 15, 1, "loaded", None, 35),
    # planted: the month's staffing file could not be read at all
    ("staffing_2024-02.xlsx", "staffing", "2024-02", "stf-02", None, None, None, "file_rejected",
     "缺少表头：岗位。", 35),
    # planted: a revision; the first version is superseded
    ("institutions_2024-03.csv", "institutions", "2024-03", "ins-03a", 4, 4, 0, "superseded", None, 64),
    ("institutions_2024-03.csv", "institutions", "2024-03", "ins-03b", 4, 4, 0, "loaded", None, 66),
    ("enrollment_2024-03.csv", "enrollment", "2024-03", "enr-03", 15, 15, 0, "loaded", None, 64),
    ("staffing_2024-03.csv", "staffing", "2024-03", "stf-03", 7, 6, 1, "loaded", None, 64),
    ("说明.txt", None, None, None, None, None, None, "unrecognised", "文件名不符合规定。", 64),
]
CURRENT_SHA = {("institutions", "2024-01"): "ins-01", ("enrollment", "2024-01"): "enr-01",
               ("staffing", "2024-01"): "stf-01", ("institutions", "2024-02"): "ins-02",
               ("enrollment", "2024-02"): "enr-02", ("institutions", "2024-03"): "ins-03b",
               ("enrollment", "2024-03"): "enr-03", ("staffing", "2024-03"): "stf-03"}
MONTHS = ("2024-01", "2024-02", "2024-03")


def _institutions(period: str) -> list[dict]:
    march = period == "2024-03"
    base = dict(filing_status="已备案", affordable=True, demonstration=False, cctv_full_coverage=True,
                fire_safety_passed=True, operating_status="正常运营", registration_date=date(2020, 1, 1))
    return [
        {**base, "institution_id": "A1", "name": "阳光托育园", "area_code": TOWN_A,
         "institution_type": "社会办托育机构", "places": 60 if march else 40, "demonstration": True},
        {**base, "institution_id": "A2", "name": "小星星托育点", "area_code": TOWN_A,
         "institution_type": "社区托育点", "places": 20, "affordable": False,
         "filing_status": "未备案", "cctv_full_coverage": march},  # planted: not filed; no CCTV until March
        {**base, "institution_id": "B1", "name": "东湖幼儿园托班", "area_code": TOWN_B,
         "institution_type": "幼儿园托班", "places": 30, "fire_safety_passed": False,  # planted
         "cctv_full_coverage": not march},  # planted: loses CCTV in March
        {**base, "institution_id": "C1", "name": "西山家庭托育点", "area_code": TOWN_C,
         "institution_type": "家庭托育点", "places": 10, "operating_status": "暂停运营"},  # planted
    ]


def _enrollment(period: str) -> list[dict]:
    classes = [("A1", "乳儿班")] * 3 + [("A1", "托小班")] * 2 + [("A2", "托小班")] * 2 \
        + [("B1", "托小班")] * 6 + [("B1", "托大班")] * 2
    rows = [{"institution_id": inst, "child_pseudonym": f"child-{i}", "birth_date": date(2022, 6, 1),
             "sex": "女", "class_type": cls, "care_mode": "全日托", "enrollment_date": date(2023, 9, 1)}
            for i, (inst, cls) in enumerate(classes, start=1)]
    if period == "2024-02":  # planted: a malformed id number, rejected (see _rejected)
        rows.append({"institution_id": "A2", "child_pseudonym": "child-bad", "child_id_problem": "format",
                     "birth_date": date(2022, 6, 1), "sex": "男", "class_type": "托小班",
                     "care_mode": "全日托", "enrollment_date": date(2023, 9, 1)})
    return rows


def _staffing(period: str) -> list[dict]:
    staff = [("A1", "保育人员", "保育师"), ("A1", "保育人员", "育婴员"), ("A1", "负责人", "无"),
             ("A2", "保育人员", "育婴员"), ("B1", "保育人员", "保育师"), ("B1", "保健人员", "无")]
    if period == "2024-03":  # planted: B1's second caregiver is rejected (see _rejected)
        staff.append(("B1", "保育人员", "其他证书"))
    return [{"institution_id": inst, "staff_pseudonym": f"staff-{i}", "role": role, "certificate": cert,
             "pre_service_training": True, "criminal_record_check": True, "hire_date": date(2023, 1, 1)}
            for i, (inst, role, cert) in enumerate(staff, start=1)]


def _rejected() -> list[tuple]:
    # (sha256, kind, period, row_number, source_row, institution_id, rule_id, severity, message, row_values)
    return [
        ("enr-02", "enrollment", "2024-02", 16, 17, "A2", "ENR-CHILD-ID-FORMAT", "R",
         "身份证号格式不正确。", '{"机构编号": "A2", "班型": "托小班"}'),
        ("stf-03", "staffing", "2024-03", 7, 8, "B1", "STF-CERTIFICATE", "R",
         "资格证书不在规定取值内。", '{"机构编号": "B1", "岗位": "保育人员"}'),
    ]


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    columns = ", ".join(sqlmodels.quote_ident(c) for c in row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))


def build_fake_warehouse(path: Path) -> Path:
    """The fake county's warehouse at `path`: inputs by hand, marts by the real models."""
    con = duckdb.connect(str(path))
    try:
        create_tables(con)
        con.execute("create table audit.pending_validation (kind varchar not null, period varchar not null)")
        for ddl in _REFERENCE_DDL:
            con.execute(ddl)
        con.executemany("insert into reference.areas values (?, ?, ?, ?, ?)", AREAS)
        con.executemany("insert into reference.population values (?, ?, ?, ?)", POPULATION)
        con.executemany("insert into reference.targets values (?, ?, ?, ?, ?, ?, ?, ?, ?)", TARGETS)
        con.executemany("insert into reference.measures values (?, ?, ?, ?, ?, ?)", MEASURES)
        write_quality_parameters(con, parse_quality(default_reference_folder() / "quality.toml"))
        for file_path, kind, period, sha, read, accepted, rejected, status, message, day in LOAD_LOG:
            loaded_at = datetime(2024, 1, 31, 9, 0) + timedelta(days=day)
            con.execute(
                """insert into audit.load_log (file_path, kind, period, sha256, rows_read, rows_accepted,
                   rows_rejected, rows_duplicate, status, message, loaded_at, size_bytes, modified_at)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1000, ?)""",
                [file_path, kind, period, sha, read, accepted, rejected, 0 if read is not None else None,
                 status, message, loaded_at, loaded_at],
            )
        for (kind, period), sha in CURRENT_SHA.items():
            rows = {"institutions": _institutions, "enrollment": _enrollment, "staffing": _staffing}[kind](period)
            for n, row in enumerate(rows, start=1):
                _insert(con, f"staging.{kind}", {"sha256": sha, "period_file": period, "row_number": n,
                                                 "source_row": n + 1, "period_raw": period, "period": period,
                                                 "is_duplicate": False, **row})
        con.executemany("insert into audit.rejected_rows values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _rejected())
        sqlmodels.run_models(con, "core")
        build_marts(con)
        sqlmodels.run_model(con, sqlmodels.load_model(sqlmodels.SQL_DIR / "marts" / "data_quality.sql"))
        record_run(con, "run-1", datetime(2024, 4, 5, 8, 0), datetime(2024, 4, 5, 8, 3), True, "运行完成。")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """The published copy the examples run on: of the fake county, or of TUOYU_EXAMPLES_WAREHOUSE."""
    base = tmp_path_factory.mktemp("examples")
    warehouse = Path(REAL_WAREHOUSE) if REAL_WAREHOUSE else build_fake_warehouse(base / "warehouse.duckdb")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return publish(con, warehouse, folder=base / "published")
    finally:
        con.close()


def _probe_params(published: Path) -> dict[str, str]:
    """Parameter values that exist in the published copy (for a real warehouse)."""
    period = run_sql(published, "select max(period) as p from marts.month_calendar where has_institutions")["p"][0]
    inst = run_sql(published, "select institution_id from audit.institution_finding_counts where severity = 'R' "
                              "group by 1 order by count(*) desc limit 1")
    if inst.is_empty():
        inst = run_sql(published, "select institution_id from marts.operating_institutions limit 1")
    return {"period": period, "institution_id": inst["institution_id"][0] if inst.height else "",
            "indicator_id": "places_per_1000"}


_TABLE_REFERENCE = re.compile(r"\b(marts|audit|reference|core|staging)\.([A-Za-z_][A-Za-z0-9_]*)\b")

FAKE_PARAMS = {"period": "2024-03", "institution_id": "A2", "indicator_id": "places_per_1000"}

EXAMPLES = list_examples()


def test_there_is_a_dozen_examples():
    assert len(EXAMPLES) >= 12, [e.name for e in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example_is_documented(example, published):
    assert any("\u4e00" <= ch <= "\u9fff" for ch in example.question_zh), f"{example.path}: no question_zh"
    assert re.search(r"[A-Za-z]{3}", example.question_en), f"{example.path}: no question_en"
    body = "\n".join(line for line in example.sql.splitlines() if not line.lstrip().startswith("--"))
    read = {f"{schema}.{name}" for schema, name in _TABLE_REFERENCE.findall(body)}
    assert set(example.reads) == read, f"{example.name}: '-- reads:' says {example.reads}, the query reads {read}"
    tables = set(run_sql(published, "select table_schema || '.' || table_name as t "
                                    "from information_schema.tables")["t"])
    assert read <= tables, f"{example.name} reads tables that are not published: {read - tables}"
    used = set(duckdb.connect().extract_statements(example.sql)[0].named_parameters)
    assert used == set(example.params), f"{example.name}: parameters used {used}, documented {set(example.params)}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example_runs(example, published):
    params = _probe_params(published) if REAL_WAREHOUSE else FAKE_PARAMS
    df = run_sql(published, example.sql, {k: params[k] for k in example.params})
    assert df.width > 0
    if not REAL_WAREHOUSE:
        assert df.height > 0, f"{example.name} returns nothing on the fake county"


# ---- what the examples answer on the fake county (hand-checked against the planted rows)

pytestmark_fake = pytest.mark.skipif(bool(REAL_WAREHOUSE), reason="expected answers are for the fake county")


def _run(published: Path, name: str, **params) -> list[dict]:
    sql = (EXAMPLES_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return run_sql(published, sql, params).to_dicts()


@pytestmark_fake
def test_institutions_without_cctv(published):
    assert [r["机构编号"] for r in _run(published, "institutions_without_cctv", period="2024-01")] == ["A2"]
    assert [r["机构编号"] for r in _run(published, "institutions_without_cctv", period="2024-03")] == ["B1"]


@pytestmark_fake
def test_institutions_out_of_ratio(published):
    rows = _run(published, "institutions_out_of_ratio", period="2024-03")
    assert [(r["机构编号"], r["应配保育人员"], r["实有保育人员"], r["缺口"]) for r in rows] == [("B1", 3, 1, 2)]
    assert _run(published, "institutions_out_of_ratio", period="2024-02") == []  # no staffing data


@pytestmark_fake
def test_institutions_not_filed_or_unsafe(published):
    rows = _run(published, "institutions_not_filed_or_unsafe", period="2024-03")
    assert {(r["机构编号"], r["备案状态"], r["消防验收合格"]) for r in rows} == {
        ("A2", "未备案", "是"), ("B1", "已备案", "否")}


@pytestmark_fake
def test_places_per_1000_by_town(published):
    rows = {(r["月份"], r["区划代码"]): r for r in _run(published, "places_per_1000_by_town")}
    assert rows[("2024-01", COUNTY)]["每千人口托位数"] == pytest.approx(2.25)  # 90 places / 40,000
    assert rows[("2024-03", COUNTY)]["每千人口托位数"] == pytest.approx(2.75)  # 110 / 40,000
    assert rows[("2024-01", TOWN_A)]["托位数"] == 60 and rows[("2024-01", TOWN_C)]["每千人口托位数"] == 0


@pytestmark_fake
def test_towns_without_institutions(published):
    assert [r["镇街"] for r in _run(published, "towns_without_institutions", period="2024-03")] == ["西山镇"]


@pytestmark_fake
def test_rejected_rows_of_institution(published):
    rows = _run(published, "rejected_rows_of_institution", institution_id="A2")
    # one child's row: a count of children below the 镇街, so 1 reads <5
    assert [(r["月份"], r["规则"], r["剔除行数"], r["文件"]) for r in rows] == [
        ("2024-02", "ENR-CHILD-ID-FORMAT", "<5", "enrollment_2024-02.csv")]
    rows = _run(published, "rejected_rows_of_institution", institution_id="B1")
    assert [(r["月份"], r["规则"], r["剔除行数"]) for r in rows] == [("2024-03", "STF-CERTIFICATE", "1")]  # staff: exact


@pytestmark_fake
def test_no_row_of_a_child_or_staff_member_is_published(published):
    # The planted findings carry row_values ({"班型": "托小班"} …): none of it is published.
    columns = run_sql(published, "select table_schema || '.' || table_name as t, column_name as c "
                                 "from information_schema.columns")
    assert "row_values" not in columns["c"].to_list()
    tables = set(columns["t"])
    assert not {"audit.rejected_rows", "audit.row_warnings"} & tables
    assert {"audit.finding_counts", "audit.institution_finding_counts"} <= tables
    counts = run_sql(published, "select kind, rule_id, rows, institutions from audit.finding_counts order by all")
    assert counts.rows() == [("enrollment", "ENR-CHILD-ID-FORMAT", 1, 1), ("staffing", "STF-CERTIFICATE", 1, 1)]


@pytestmark_fake
def test_class_counts_of_an_institution_read_less_than_five(published):
    # The fake county's classes (see _enrollment): A1 3 乳儿班 + 2 托小班, A2 2 托小班,
    # B1 6 托小班 + 2 托大班 — every class count but B1's 6 is 1–4.
    rows = {r["institution_id"]: r for r in run_sql(
        published, "select * from marts.institution_enrollment where period = '2024-03'").to_dicts()}
    classes = ("infant_class_rows", "younger_toddler_class_rows", "older_toddler_class_rows")
    assert {i: tuple(rows[i][c] for c in classes) for i in rows} == {
        "A1": ("<5", "<5", "0"), "A2": ("0", "<5", "0"), "B1": ("0", "6", "<5")}
    assert rows["B1"]["children"] == 8 and rows["B1"]["required_caregivers"] == 3  # totals stay numbers


@pytestmark_fake
def test_files_received_by_month(published):
    rows = {(r["月份"], r["报表"]): r for r in _run(published, "files_received_by_month")}
    assert len(rows) == 9
    assert rows[("2024-03", "托育机构")]["版本数"] == 2 and rows[("2024-03", "托育机构")]["有修订"]
    assert rows[("2024-02", "从业人员")]["被拒收文件数"] == 1 and rows[("2024-02", "从业人员")]["在用文件"] is None


@pytestmark_fake
def test_rejections_by_rule(published):
    rows = _run(published, "rejections_by_rule")
    assert [(r["月份"], r["规则"], r["剔除行数"]) for r in rows] == [
        ("2024-03", "STF-CERTIFICATE", 1), ("2024-02", "ENR-CHILD-ID-FORMAT", 1)]


@pytestmark_fake
def test_targets_not_attained(published):
    rows = {r["指标"]: r for r in _run(published, "targets_not_attained")}
    assert rows["places_per_1000"]["判定"] == "尚未到期"  # deadline 2025-12 after the data
    assert rows["cctv_coverage"]["判定"] == "到期月份无数据"  # deadline 2023-12 before the data


@pytestmark_fake
def test_county_month_over_month(published):
    rows = {r["指标"]: r for r in _run(published, "county_month_over_month", period="2024-03")}
    assert rows["places_per_1000"]["环比变化"] == pytest.approx(0.5)  # 2.25 → 2.75


@pytestmark_fake
def test_indicator_trend(published):
    rows = _run(published, "indicator_trend", indicator_id="places_per_1000")
    assert [r["月份"] for r in rows] == list(MONTHS)
    assert rows[0]["与目标差距"] == pytest.approx(2.25 - 4.5)


@pytestmark_fake
def test_towns_below_target(published):
    rows = _run(published, "towns_below_target", period="2024-03")
    places = {r["镇街"] for r in rows if r["指标名称"] == "每千人口托位数"}
    assert places == {"城关街道", "东湖镇", "西山镇"}  # 4.0, 3.0 and 0 per 1,000, all below 4.5


@pytestmark_fake
def test_incomplete_months(published):
    rows = _run(published, "incomplete_months")
    assert [(r["月份"], r["报表"], r["问题"]) for r in rows] == [("2024-02", "从业人员", "文件被拒收")]


@pytestmark_fake
def test_enrollment_over_places(published):
    rows = {r["机构编号"]: r for r in _run(published, "enrollment_over_places", period="2024-03")}
    assert set(rows) == {"A1", "A2", "B1"}  # C1 is not operating
    assert rows["B1"]["在托人数"] == 8 and rows["B1"]["使用率（%）"] == pytest.approx(26.7)
    assert not any(r["超出托位"] for r in rows.values())


def test_quality_flags_of_month(published):
    # 2024-03: 城关街道's places are A1's 60 (raised from 40) + A2's 20 = 80, against the
    # mean of 2024-01 and 02, (60 + 60) ÷ 2 = 60: +20 (≥ 10) and 80 ÷ 60 − 1 = +33.3 % (> 33 %):
    # one AREA-JUMP flag, range 60 ∓ max(10, 0.33 × 60 = 19.8) = 40.2–79.8. Not confirmed.
    rows = _run(published, "quality_flags_of_month", period="2024-03")
    assert [(r["核查"], r["镇街"], r["机构编号"], r["数字"], r["数值"], r["正常范围下限"], r["正常范围上限"],
             r["分数"], r["已核实"], r["提示键"]) for r in rows] == [
        ("区域合计突变", "城关街道", None, "核定托位数", 80, 40.2, 79.8, 0.33, False, "AREA-JUMP/2024-03/990001/places/80")]
    assert _run(published, "quality_flags_of_month", period="2024-02") == []


def test_reporting_rates(published):
    # Staffing: 2024-02's file was rejected whole (not a delivery): over the 3 months to 2024-03,
    # 2 of 3 received, both by day 10 of the next month (loaded 02-05 and 04-04): on time 2 ÷ 3.
    # The windows reach back only to 2024-01, the first month: the 12-month window counts 3.
    rows = {(r["报表"], r["统计月数"]): r for r in _run(published, "reporting_rates", period="2024-03")}
    staffing = rows[("从业人员", 3)]
    assert (staffing["月份范围"], staffing["应报"], staffing["已收到"], staffing["按时"], staffing["缺报"],
            staffing["报送率（%）"], staffing["及时率（%）"]) == ("2024-01至2024-03", 3, 2, 2, 1, 66.7, 66.7)
    assert rows[("从业人员", 12)]["应报"] == 3
    assert rows[("托育机构", 1)]["报送率（%）"] == 100 and len(rows) == 9


def test_analysts_guide_lists_every_example():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "analysts.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z0-9_]+)` \|", guide, re.MULTILINE))  # table names have a dot
    assert listed == {e.name for e in EXAMPLES}
