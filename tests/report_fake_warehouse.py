"""Fake warehouses for the report tests and for previewing the report by eye.

The report reads tables that other parts of the pipeline build. These builders create
them with the same schemas (docs/data-model.md, contract indicator-handbook.md), so that the
report can be developed and tested alone:

- `build_small_warehouse(path)`: a tiny county (样板县, 3 镇街, 2023-01 … 2024-03) with
  hand-chosen county values for the months the tests look at; every planted defect is
  commented where it is planted.
- `build_conformance_warehouse(path, conformance_dir)`: the shared conformance county
  (样例县, 6 镇街, 18 months) with the expected indicator values of
  `tests/conformance/expected.csv`, for previews and timing on realistic data.

Run `uv run --frozen python tests/report_fake_warehouse.py OUT.duckdb [CONFORMANCE_DIR]`
to write one (small when no conformance folder is given).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import duckdb

# ---------------------------------------------------------------------------
# Schemas (as documented; the report reads only these columns)
# ---------------------------------------------------------------------------

SCHEMA_SQL = """
create schema if not exists reference;
create schema if not exists marts;
create schema if not exists audit;
create schema if not exists core;
create table reference.areas (area_code varchar, area_name varchar, area_type varchar,
    urban_rural varchar, parent_code varchar);
create table reference.population (year integer, area_code varchar,
    resident_population bigint, population_under3 bigint);
create table marts.indicator_catalog (indicator_id varchar, name_zh varchar, unit_zh varchar,
    levels varchar, kind varchar, decimals integer, definition_zh varchar, clause varchar,
    lead_unit varchar, target_value double, comparison varchar, target_deadline varchar,
    sort_order integer);
create table marts.indicator_values (indicator_id varchar, period varchar, area_code varchar,
    value double, numerator double, denominator double, target_value double,
    target_deadline varchar, status varchar);
create table marts.target_verdicts (indicator_id varchar, deadline varchar,
    value_at_deadline double, target_value double, comparison varchar, attained boolean,
    gap double, beyond_planned boolean, status varchar);
create table marts.policy_measures (measure_no integer, title_zh varchar, lead_unit varchar,
    responsible_units varchar, indicator_ids varchar, coverage_note_zh varchar);
create table marts.data_quality (period varchar, kind varchar, file_present boolean,
    file_path varchar, sha256 varchar, status varchar, versions_received integer,
    revised boolean, rows_read bigint, rows_accepted bigint, rows_rejected bigint,
    rows_duplicate bigint, rows_warned bigint, top_rules varchar);
create table audit.current_files (kind varchar, period varchar, sha256 varchar,
    file_path varchar);
create table audit.rejected_rows (sha256 varchar, kind varchar, period varchar,
    row_number integer, rule_id varchar, severity varchar, message varchar);
create table core.institutions (period varchar, institution_id varchar, area_code varchar,
    institution_type varchar, affordable boolean, places bigint, operating_status varchar);
"""

# (id, name, unit, levels, kind, definition, clause, lead unit, target, comparison, deadline)
CATALOG = [
    ("demo_institutions", "示范性托育机构数", "家", "C,A", "count",
     "正常运营且被认定为示范的托育机构数", "二", "市卫健局", 1.0, ">=", "2023-12"),
    ("places_per_1000", "每千人口托位数", "个", "C,A", "per_1000",
     "正常运营机构核定托位数之和÷常住人口×1000", "二", "市卫健局", 4.5, ">=", "2025-12"),
    ("affordable_place_share", "普惠托位占比", "%", "C,A", "percent",
     "普惠机构核定托位数÷全部核定托位数×100", "9", "市发改局", None, None, None),
    ("town_coverage", "镇街托育服务覆盖率", "%", "C", "percent",
     "有正常运营机构的镇街数÷全部镇街数×100", "二", "市卫健局", 100.0, "=", "2025-12"),
    ("rural_town_coverage", "乡村镇街覆盖率", "%", "C", "percent",
     "有正常运营机构的乡村镇街数÷乡村镇街数×100", "二、4", "市发改局", 100.0, "=", "2025-12"),
    ("filing_rate", "托育机构备案率", "%", "C,A", "percent",
     "已备案机构数÷正常运营机构数×100", "13", "市审批服务局", 100.0, "=", "2023-12"),
    ("cctv_coverage", "视频监控全覆盖率", "%", "C,A", "percent",
     "视频监控全覆盖的机构数÷正常运营机构数×100", "15", "市应急局", 100.0, "=", "2023-12"),
    ("fire_safety_rate", "消防验收合格率", "%", "C,A", "percent",
     "消防验收合格的机构数÷正常运营机构数×100", "15", "市应急局", 100.0, "=", "2023-12"),
    ("enrolled_children", "在托婴幼儿数", "人", "C,A", "count",
     "正常运营机构在托婴幼儿人数（按身份证号去重）", "—", "市卫健局", None, None, None),
    ("enrollment_rate", "3岁以下婴幼儿入托率", "%", "C,A", "percent",
     "在托3岁以下婴幼儿数÷3岁以下人口×100", "—", "市卫健局", None, None, None),
    ("place_utilization", "托位使用率", "%", "C,A", "percent",
     "在托登记行数÷核定托位数×100", "—", "市卫健局", None, None, None),
    ("caregiver_certified_rate", "保育人员持证率", "%", "C,A", "percent",
     "持保育师、育婴员或幼儿园教师资格证的保育人员÷保育人员×100", "10", "市人社局",
     100.0, "=", "2025-12"),
    ("staff_trained_rate", "从业人员岗前培训率", "%", "C,A", "percent",
     "接受岗前培训的从业人员÷从业人员×100", "10", "市人社局", 100.0, "=", "2025-12"),
    ("criminal_check_rate", "无犯罪记录查询率", "%", "C,A", "percent",
     "有无犯罪记录证明的从业人员÷从业人员×100", "15", "市应急局", 100.0, "=", "2023-12"),
    ("ratio_compliance_rate", "保育人员配比达标率", "%", "C,A", "percent",
     "保育人员数达到班型配比要求的机构÷有在托幼儿的机构×100", "设置标准第二十条",
     "市卫健局", 100.0, "=", "2025-12"),
    ("kindergarten_nursery_count", "幼儿园托班数", "个", "C,A", "count",
     "机构类型为幼儿园托班的正常运营机构数", "6", "市教体局", None, None, None),
    ("employer_institution_count", "用人单位办托机构数", "家", "C,A", "count",
     "机构类型为用人单位办托的正常运营机构数", "7", "市总工会", None, None, None),
    ("mch_institution_count", "妇幼保健机构办托数", "家", "C,A", "count",
     "机构类型为妇幼保健机构办托的正常运营机构数", "8", "市卫健局", 1.0, ">=", "2025-12"),
    ("service_type_count", "托育服务形式数", "种", "C", "count",
     "正常运营机构的机构类型种数", "二", "市卫健局", 4.0, ">=", "2025-12"),
]
DECIMALS = {"count": 0, "per_1000": 2, "percent": 1}

MEASURES = [
    (1, "保障家庭权益", "市人社局", "市人社局、市医保局、市总工会、市妇联、市计生协会", None,
     "报表不含相关数据，本报告不监测"),
    (2, "提高家庭婴幼儿照护能力和早期发展指导能力", "市妇联", "市妇联、市卫健局、市计生协会、市教体局",
     None, "报表不含相关数据，本报告不监测"),
    (3, "加强婴幼儿健康管理服务", "市卫健局", "市卫健局、市残联、市妇联、市计生协会", None,
     "报表不含相关数据，本报告不监测"),
    (4, "推进社区婴幼儿照护服务设施规划建设", "市发改局", "市发改局、市自然资源和规划局、市住建局等",
     "rural_town_coverage", "以乡村镇街覆盖率间接反映"),
    (5, "推进公共场所相关设施建设", "市妇联", "市妇联、市总工会、市卫健局等", None,
     "报表不含相关数据，本报告不监测"),
    (6, "鼓励有条件的幼儿园兴办托育机构或开设托班", "市教体局", "市教体局、市发改局、市卫健局",
     "kindergarten_nursery_count", "监测幼儿园托班数"),
    (7, "支持用人单位提供婴幼儿照护服务", "市总工会", "市总工会、市卫健局、市民政局",
     "employer_institution_count", "监测用人单位办托机构数"),
    (8, "依托妇幼保健机构开展延伸服务", "市卫健局", "市卫健局、市计生协会", "mch_institution_count",
     "监测妇幼保健机构办托数"),
    (9, "支持社会力量举办托育机构", "市发改局", "市发改局、市卫健局、市自然资源和规划局等",
     "affordable_place_share,places_per_1000", "监测普惠托位占比和每千人口托位数"),
    (10, "加强专业人才培养和职业技能培训", "市人社局", "市人社局、市教体局",
     "caregiver_certified_rate,staff_trained_rate", "监测保育人员持证率和岗前培训率"),
    (11, "推进专业人员融合发展", "市卫健局", "市卫健局、市人社局、市教体局", None,
     "报表不含相关数据，本报告不监测"),
    (12, "建立志愿者队伍", "市文明办", "市文明办、市民政局、团市委、市卫健局、市教体局", None,
     "报表不含相关数据，本报告不监测"),
    (13, "规范登记和备案", "市审批服务局", "市审批服务局、市市场监管局、市民政局、市卫健局",
     "filing_rate", "监测托育机构备案率"),
    (14, "依法加强综合监督管理", "市卫健局", "市卫健局、市发改局、市编办等", None,
     "报表不含相关数据，本报告不监测"),
    (15, "加强公共安全监管", "市应急局", "市应急局、市公安局、市卫健局、市教体局、市总工会、市妇联",
     "cctv_coverage,fire_safety_rate,criminal_check_rate", "监测视频监控、消防验收和无犯罪记录查询"),
    (16, "加强卫生保健监管", "市卫健局", "市卫健局、市总工会、市妇联", None,
     "报表不含相关数据，本报告不监测"),
    (17, "加强饮食用药监管", "市市场监管局", "市市场监管局", None, "报表不含相关数据，本报告不监测"),
]

KINDS = ("institutions", "enrollment", "staffing")
STAFF_INDICATORS = {"caregiver_certified_rate", "staff_trained_rate", "criminal_check_rate",
                    "ratio_compliance_rate"}


def months_between(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_index(p: str) -> int:
    return int(p[:4]) * 12 + int(p[5:]) - 1


def target_status(series: dict[str, float | None], period: str, target: float,
                  comparison: str, deadline: str) -> str:
    """The handbook's target status (indicator-handbook.md, 'Target status'), for fake data."""
    def meets(v: float) -> bool:
        return v >= target if comparison == ">=" else abs(v - target) < 1e-9

    v = series.get(period)
    if v is None:
        return "no_data"
    if period >= deadline:
        return "attained" if meets(v) else "not_attained"
    if meets(v):
        return "attained"
    valued = sorted(p for p, x in series.items() if x is not None and p <= period)
    m = month_index(period)
    earliest = max(valued[0], f"{(m - 12) // 12:04d}-{(m - 12) % 12 + 1:02d}")
    base = next(p for p in valued if p >= earliest)
    if len(valued) < 2 or base == period:
        return "insufficient_data"
    vb = series[base]
    observed = (v - vb) / (m - month_index(base))
    required = (target - vb) / (month_index(deadline) - month_index(base))
    if required == 0:
        return "attained"
    r = observed / required
    if r >= 0.95:
        return "on_track"
    if r >= 0.6:
        return "needs_acceleration"
    if r >= 0:
        return "limited_progress"
    return "regressing"


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"insert into {table} values ({marks})", rows)


def _write_common(con, areas, population) -> None:
    con.execute(SCHEMA_SQL)
    _insert(con, "reference.areas", areas)
    _insert(con, "reference.population", population)
    _insert(con, "marts.indicator_catalog", [
        (i, n, u, lv, k, DECIMALS[k], d, c, lu, t, cmp, dl, order)
        for order, (i, n, u, lv, k, d, c, lu, t, cmp, dl) in enumerate(CATALOG, start=1)
    ])
    _insert(con, "marts.policy_measures", MEASURES)


def _write_values(con, county_code: str, values: dict[tuple[str, str, str], float | None]) -> None:
    """indicator_values and target_verdicts from {(indicator, period, area): value}."""
    catalog = {row[0]: row for row in CATALOG}
    rows = []
    for (ind, period, area), value in sorted(values.items()):
        *_, target, comparison, deadline = catalog[ind]
        status = None
        if target is not None:
            series = {p: v for (i, p, a), v in values.items() if i == ind and a == area}
            status = target_status(series, period, target, comparison, deadline)
        rows.append((ind, period, area, value, value, None, target, deadline, status))
    _insert(con, "marts.indicator_values", rows)
    last = max(p for _, p, _ in values)
    verdicts = []
    for ind, *_, target, comparison, deadline in CATALOG:
        if target is None:
            continue
        v = values.get((ind, deadline, county_code)) if deadline <= last else None
        attained = None if v is None else (v >= target if comparison == ">=" else v == target)
        gap = None if v is None else max(target - v, 0.0)
        beyond = bool(ind == "demo_institutions" and v is not None and v > 3)
        status = ("not_due" if deadline > last else "no_data" if v is None
                  else "attained" if attained else "not_attained")
        verdicts.append((ind, deadline, v, target, comparison, attained, gap, beyond, status))
    _insert(con, "marts.target_verdicts", verdicts)


# ---------------------------------------------------------------------------
# The small hand-made county
# ---------------------------------------------------------------------------

SMALL_COUNTY = "379999"
SMALL_AREAS = [
    ("379999", "样板县", "县", None, None),
    ("379999001", "城关街道", "街道", "城镇", "379999"),
    ("379999101", "河东镇", "镇", "乡村", "379999"),
    ("379999201", "山前乡", "乡", "乡村", "379999"),
]
SMALL_MONTHS = months_between("2023-01", "2024-03")

# County values at the three months the tests look at: the report month 2024-03, the
# month before (2024-02) and the same month a year before (2023-03). Every other month
# is a straight line between 2023-01 and 2024-03. Chosen to give one indicator of each
# status in 2024-03 and values that need rounding.
SMALL_COUNTY_VALUES = {
    #                            2023-01  2023-03  2024-02   2024-03
    "demo_institutions":          (0,      1,       2,        2),        # attained (2023-12)
    "places_per_1000":            (1.9,    2.1,     3.1,      3.14159),  # rounding → 3.14
    "affordable_place_share":     (40.0,   42.0,    55.55,    56.25),    # 56.25 → 56.3 (half up)
    "town_coverage":              (33.3333333, 33.3333333, 66.6666667, 66.6666667),
    "rural_town_coverage":        (0.0,    0.0,     50.0,     50.0),
    "filing_rate":                (80.0,   82.0,    95.0,     100.0),    # attained this month
    "cctv_coverage":              (90.0,   91.0,    94.0,     92.0),     # 2023-12 passed: not_attained
    "fire_safety_rate":           (100.0,  100.0,   100.0,    100.0),    # attained
    "enrolled_children":          (210,    230,     318,      331),
    "enrollment_rate":            (3.3,    3.6,     4.9,      5.12),
    "place_utilization":          (61.0,   62.5,    70.04,    70.05),
    "caregiver_certified_rate":   (70.0,   72.0,    None,     79.0),     # staffing missing 2024-02
    "staff_trained_rate":         (85.0,   87.0,    None,     98.0),
    "criminal_check_rate":        (96.0,   97.0,    None,     99.0),
    "ratio_compliance_rate":      (60.0,   66.0,    None,     55.0),     # worse than a year ago
    "kindergarten_nursery_count": (1,      1,       2,        2),
    "employer_institution_count": (0,      0,       1,        1),
    "mch_institution_count":      (0,      0,       0,        0),        # real zeros, not NULL
    "service_type_count":         (2,      2,       3,        3),
}
SMALL_ANCHORS = ("2023-01", "2023-03", "2024-02", "2024-03")

# 镇街 values in 2024-03 (level-A indicators). 山前乡 has no operating institution:
# its rates have a zero denominator (NULL, shown "—") but its counts and places per
# 1,000 are real zeros (shown 0 / 0.00).
SMALL_AREA_VALUES = {
    "379999001": {"demo_institutions": 2, "places_per_1000": 5.128, "affordable_place_share": 60.0,
                  "filing_rate": 100.0, "cctv_coverage": 90.0, "fire_safety_rate": 100.0,
                  "enrolled_children": 280, "enrollment_rate": 7.0, "place_utilization": 72.0,
                  "caregiver_certified_rate": 75.0, "staff_trained_rate": 97.5,
                  "criminal_check_rate": 98.8, "ratio_compliance_rate": 50.0,
                  "kindergarten_nursery_count": 2, "employer_institution_count": 1,
                  "mch_institution_count": 0},
    "379999101": {"demo_institutions": 0, "places_per_1000": 1.5, "affordable_place_share": 40.0,
                  "filing_rate": 100.0, "cctv_coverage": 100.0, "fire_safety_rate": 100.0,
                  "enrolled_children": 51, "enrollment_rate": 2.4, "place_utilization": 61.0,
                  "caregiver_certified_rate": 66.7, "staff_trained_rate": 100.0,
                  "criminal_check_rate": 100.0, "ratio_compliance_rate": 100.0,
                  "kindergarten_nursery_count": 0, "employer_institution_count": 0,
                  "mch_institution_count": 0},
    "379999201": {"demo_institutions": 0, "places_per_1000": 0.0, "affordable_place_share": None,
                  "filing_rate": None, "cctv_coverage": None, "fire_safety_rate": None,
                  "enrolled_children": 0, "enrollment_rate": 0.0, "place_utilization": None,
                  "caregiver_certified_rate": None, "staff_trained_rate": None,
                  "criminal_check_rate": None, "ratio_compliance_rate": None,
                  "kindergarten_nursery_count": 0, "employer_institution_count": 0,
                  "mch_institution_count": 0},
}


def _small_series(ind: str) -> dict[str, float | None]:
    anchors = dict(zip(SMALL_ANCHORS, SMALL_COUNTY_VALUES[ind]))
    first, last = anchors["2023-01"], anchors["2024-03"]
    kind = next(r[4] for r in CATALOG if r[0] == ind)
    out: dict[str, float | None] = {}
    n = len(SMALL_MONTHS) - 1
    for i, p in enumerate(SMALL_MONTHS):
        if p in anchors:
            out[p] = anchors[p]
            continue
        v = first + (last - first) * i / n
        out[p] = float(round(v)) if kind == "count" else v
    if ind in STAFF_INDICATORS:
        out["2024-02"] = None
    return out


def build_small_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        _write_common(con, SMALL_AREAS, [
            (2023, "379999001", 61000, 1500), (2023, "379999101", 30000, 800),
            (2023, "379999201", 9000, 250),
        ])
        values: dict[tuple[str, str, str], float | None] = {}
        for ind, *_ in CATALOG:
            for p, v in _small_series(ind).items():
                values[(ind, p, SMALL_COUNTY)] = None if v is None else float(v)
        for area, by_ind in SMALL_AREA_VALUES.items():
            for ind, v in by_ind.items():
                for p in SMALL_MONTHS:
                    # Earlier months of a 镇街: the 2024-03 value scaled down a little.
                    scale = 1.0 if p == "2024-03" else 0.9
                    vv = None if v is None else (v if p == "2024-03" else v * scale)
                    if ind in STAFF_INDICATORS and p == "2024-02":
                        vv = None
                    values[(ind, p, area)] = vv
        _write_values(con, SMALL_COUNTY, values)

        files, quality, rejected = [], [], []
        for p in SMALL_MONTHS:
            for kind in KINDS:
                present = not (kind == "staffing" and p == "2024-02")  # planted: missing file
                sha = f"{kind[:3]}{p}".ljust(64, "0")
                if present:
                    files.append((kind, p, sha, f"{p[:4]}/{kind}_{p}.csv"))
                read = {"institutions": 12, "enrollment": 340, "staffing": 90}[kind]
                rej = 0
                if kind == "enrollment" and p == "2024-03":
                    rej = 3
                    rejected += [(sha, kind, p, 17, "ENR-CHILD-ID", "R", "幼儿身份证号校验位错误"),
                                 (sha, kind, p, 45, "ENR-CHILD-ID", "R", "幼儿身份证号校验位错误"),
                                 # planted: a message that a spreadsheet would run as a formula
                                 (sha, kind, p, 88, "ENR-SEX", "R", "=HYPERLINK(\"x\",\"性别不是男或女\")")]
                revised = kind == "institutions" and p == "2024-02"  # planted: a revision
                quality.append((p, kind, present, f"{p[:4]}/{kind}_{p}.csv" if present else None,
                                sha if present else None, "loaded" if present else "missing",
                                (2 if revised else 1) if present else 0, revised,
                                read if present else None, read - rej if present else None,
                                rej if present else None, 0 if present else None,
                                1 if present else None,
                                "ENR-CHILD-ID×2; ENR-SEX×1" if rej else None))
        _insert(con, "audit.current_files", files)
        _insert(con, "marts.data_quality", quality)
        _insert(con, "audit.rejected_rows", rejected)

        inst = []
        for p in SMALL_MONTHS:
            i = SMALL_MONTHS.index(p)
            types = ["社会办托育机构"] * (5 + i // 3) + ["幼儿园托班"] * (1 + (i >= 13))
            types += ["用人单位办托"] * (i >= 13) + ["社区托育点"] * (i >= 6)
            for n, t in enumerate(types):
                inst.append((p, f"JG{n:04d}", "379999001" if n % 3 else "379999101", t,
                             n % 2 == 0, 40 + 10 * (n % 4), "正常运营"))
            inst.append((p, "JG9999", "379999101", "家庭托育点", False, 10, "暂停运营"))
        _insert(con, "core.institutions", inst)
    finally:
        con.close()
    return path


# ---------------------------------------------------------------------------
# The conformance county, with its expected values
# ---------------------------------------------------------------------------

def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def build_conformance_warehouse(path: Path, conformance_dir: Path) -> Path:
    ref = conformance_dir / "reference"
    areas = [(r["area_code"], r["area_name"], r["area_type"], r["urban_rural"] or None,
              r["parent_code"] or None) for r in _read_csv(ref / "areas.csv")]
    population = [(int(r["year"]), r["area_code"], int(r["resident_population"]),
                   int(r["population_under3"])) for r in _read_csv(ref / "population.csv")]
    county = next(a[0] for a in areas if a[4] is None)
    con = duckdb.connect(str(path))
    try:
        _write_common(con, areas, population)
        values = {(r["indicator_id"], r["period"], r["area_code"]):
                  (float(r["value"]) if r["value"] != "" else None)
                  for r in _read_csv(conformance_dir / "expected.csv")}
        _write_values(con, county, values)
        files, quality = [], []
        for r in _read_csv(conformance_dir / "expected_load.csv"):
            sha = f"{r['kind'][:3]}{r['period']}".ljust(64, "0")
            read, rej, dup = int(r["rows_read"]), int(r["rows_rejected"]), int(r["rows_duplicate"])
            files.append((r["kind"], r["period"], sha, f"{r['kind']}_{r['period']}.csv"))
            quality.append((r["period"], r["kind"], True, f"{r['kind']}_{r['period']}.csv", sha,
                            "loaded", 1, False, read, read - rej - dup, rej, dup, 0, None))
        present = {(f[0], f[1]) for f in files}
        for p in sorted({p for _, p, _ in values}):
            for kind in KINDS:
                if (kind, p) not in present:
                    quality.append((p, kind, False, None, None, "missing", 0, False,
                                    None, None, None, None, None, None))
        _insert(con, "audit.current_files", files)
        _insert(con, "marts.data_quality", quality)
        rejected = []
        for f in files:
            n = next(int(r["rows_rejected"]) for r in _read_csv(conformance_dir / "expected_load.csv")
                     if r["kind"] == f[0] and r["period"] == f[1])
            rule = {"institutions": "INS-AREA", "enrollment": "ENR-CHILD-ID",
                    "staffing": "STF-ROLE"}[f[0]]
            rejected += [(f[2], f[0], f[1], k + 1, rule, "R", "示例拒收说明") for k in range(n)]
        _insert(con, "audit.rejected_rows", rejected)
        _insert(con, "core.institutions", _conformance_institutions(conformance_dir / "inbox"))
    finally:
        con.close()
    return path


def _conformance_institutions(inbox: Path) -> list[tuple]:
    """Institution rows of the conformance inbox, roughly as core.institutions holds them.

    For previews only: no row rules are applied beyond skipping rows without a type.
    """
    import re
    import unicodedata

    import openpyxl

    out = []
    for path in sorted(inbox.rglob("*")):
        match = re.match(r"^(institutions_|托育机构_)(\d{4})[-年]?(\d{1,2})月?$", path.stem)
        if not match or path.suffix not in (".csv", ".xlsx"):
            continue
        period = f"{match.group(2)}-{int(match.group(3)):02d}"
        if path.suffix == ".csv":
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030")
            rows = list(csv.reader(text.splitlines()))
        else:
            sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
            rows = [["" if c is None else str(c) for c in r] for r in sheet.iter_rows(values_only=True)]
        rows = [[unicodedata.normalize("NFKC", c).strip() for c in r] for r in rows]
        head = next(k for k, r in enumerate(rows) if "机构类型" in r)
        col = {name: rows[head].index(name) for name in rows[head]}
        for r in rows[head + 1:]:
            if not any(r) or not r[col["机构类型"]]:
                continue
            places = r[col["核定托位数"]].replace(",", "")
            out.append((period, r[col["机构编号"]], r[col["所在镇街代码"]], r[col["机构类型"]],
                        r[col["是否普惠"]] in ("是", "Y", "y", "1", "true"),
                        int(float(places)) if re.fullmatch(r"\d+(\.0+)?", places) else None,
                        r[col["运营状态"]]))
    return out


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.unlink(missing_ok=True)
    if len(sys.argv) > 2:
        build_conformance_warehouse(out, Path(sys.argv[2]))
    else:
        build_small_warehouse(out)
    print(out)
