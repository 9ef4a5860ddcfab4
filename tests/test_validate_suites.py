"""Lint of the suites in expectations/: every contract rule has exactly one home, every
expectation says what it is, and every query returns row addresses only. No GX needed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.warehouse.sql_models import run_models
from pipeline.warehouse.schema import KINDS
from pipeline.validate.batch import batch_relation, create_batch_views
from pipeline.validate.suites import (
    GX_SEVERITY,
    RULE_META_KEYS,
    SUITES_DIR,
    SuiteError,
    load_suite,
    load_suites,
    rules_markdown,
)
from tests.validate_fixtures import new_warehouse

REPO = Path(__file__).resolve().parents[1]
PREFIX = {"institutions": "INS", "enrollment": "ENR", "staffing": "STF"}

# Every R and W rule of extract-format.md §2, as (contract line, severity, what it says) -> rule ids.
CONTRACT_RULES = [
    ("§2.1 统计月份", "R", "missing, unparseable, or not the file's month", ["INS-PERIOD"]),
    ("§2.1 机构编号", "R", "missing", ["INS-ID"]),
    ("§2.1 机构编号", "W", "identical duplicate rows: keep one", ["INS-DUPLICATE"]),
    ("§2.1 机构编号", "R", "same id with different content: every copy", ["INS-ID-CONFLICT"]),
    ("§2.1 机构名称", "R", "missing", ["INS-NAME"]),
    ("§2.1 统一社会信用代码", "W", "not 18 characters of the GB 32100 alphabet, or wrong check character",
     ["INS-CREDIT-CODE"]),
    ("§2.1 所在镇街代码", "R", "not an area of the reference areas", ["INS-AREA"]),
    ("§2.1 机构类型", "R", "not one of the six types", ["INS-TYPE"]),
    ("§2.1 是否普惠", "R", "unparseable", ["INS-AFFORDABLE"]),
    ("§2.1 是否示范", "R", "unparseable", ["INS-DEMONSTRATION"]),
    ("§2.1 示范认定日期", "W", "missing while 是否示范 = 是", ["INS-DEMO-DATE-MISSING"]),
    ("§2.1 示范认定日期", "R", "unparseable, or after month end", ["INS-DEMO-DATE"]),
    ("§2.1 登记日期", "R", "missing, unparseable, or after month end", ["INS-REG-DATE"]),
    ("§2.1 备案状态", "R", "not 已备案 or 未备案", ["INS-FILING-STATUS"]),
    ("§2.1 备案日期", "W", "missing while 已备案", ["INS-FILING-DATE-MISSING"]),
    ("§2.1 备案日期", "R", "unparseable, or after month end", ["INS-FILING-DATE"]),
    ("§2.1 核定托位数", "R", "missing, not an integer, or negative", ["INS-PLACES"]),
    ("§2.1 核定托位数", "W", "above 200", ["INS-PLACES-HIGH"]),
    ("§2.1 视频监控全覆盖", "R", "unparseable", ["INS-CCTV"]),
    ("§2.1 消防验收合格", "R", "unparseable", ["INS-FIRE"]),
    ("§2.1 运营状态", "R", "not 正常运营, 暂停运营 or 已注销", ["INS-STATUS"]),
    ("§2.2 统计月份", "R", "as in 2.1", ["ENR-PERIOD"]),
    ("§2.2 机构编号", "R", "no accepted institution row with this id in the same month", ["ENR-INSTITUTION"]),
    # one rule per id problem: each needs a different fix from the office
    ("§2.2 幼儿身份证号", "R", "missing, not 17 digits plus a digit or X, wrong check digit, scientific notation",
     ["ENR-CHILD-ID-MISSING", "ENR-CHILD-ID-FORMAT", "ENR-CHILD-ID-CHECK", "ENR-CHILD-ID-SCIENTIFIC"]),
    ("§2.2 出生日期", "R", "missing, unparseable, or after month end", ["ENR-BIRTH-DATE"]),
    ("§2.2 出生日期", "W", "differs from digits 7–14 of the id number", ["ENR-BIRTH-DATE-ID"]),
    ("§2.2 性别", "R", "not 男 or 女", ["ENR-SEX"]),
    ("§2.2 性别", "W", "disagrees with the id number", ["ENR-SEX-ID"]),
    ("§2.2 班型", "R", "not 乳儿班, 托小班 or 托大班", ["ENR-CLASS-TYPE"]),
    ("§2.2 托育形式", "R", "not 全日托, 半日托, 计时托 or 临时托", ["ENR-CARE-MODE"]),
    ("§2.2 入托日期", "R", "missing, unparseable, after month end, or before birth_date", ["ENR-ENROLL-DATE"]),
    ("§2.2 further warnings", "W", "36 months or older at month end", ["ENR-AGE-36"]),
    ("§2.2 further warnings", "W", "same child more than once in one month", ["ENR-CHILD-REPEAT"]),
    ("§2.3 统计月份", "R", "as in 2.1", ["STF-PERIOD"]),
    ("§2.3 机构编号", "R", "no accepted institution row with this id in the same month", ["STF-INSTITUTION"]),
    ("§2.3 身份证号", "R", "as for 幼儿身份证号",
     ["STF-STAFF-ID-MISSING", "STF-STAFF-ID-FORMAT", "STF-STAFF-ID-CHECK", "STF-STAFF-ID-SCIENTIFIC"]),
    ("§2.3 岗位", "R", "not one of the six roles", ["STF-ROLE"]),
    ("§2.3 资格证书", "R", "not one of the six certificates", ["STF-CERTIFICATE"]),
    ("§2.3 岗前培训", "R", "unparseable", ["STF-TRAINING"]),
    ("§2.3 无犯罪记录证明", "R", "unparseable", ["STF-CRIMINAL-CHECK"]),
    ("§2.3 入职日期", "R", "missing, unparseable, or after month end", ["STF-HIRE-DATE"]),
]

# Table-level checks that are not row rules of §2: a file-level warning per kind.
TABLE_LEVEL = {"INS-ROW-COUNT": "W", "ENR-ROW-COUNT": "W", "STF-ROW-COUNT": "W"}

PERSONAL_COLUMNS = {"child_name", "staff_name", "child_id_number", "staff_id_number"}


def _raw_suites() -> dict[str, dict]:
    return {kind: json.loads((SUITES_DIR / f"{kind}.json").read_text(encoding="utf-8")) for kind in KINDS}


def test_every_expectation_says_which_rule_it_is() -> None:
    for kind, suite in _raw_suites().items():
        assert suite["name"] == kind and suite["meta"]["kind"] == kind
        for expectation in suite["expectations"]:
            meta = expectation["meta"]
            assert expectation["type"] == "unexpected_rows_expectation", meta
            assert all(meta.get(key) for key in RULE_META_KEYS), meta
            assert meta["severity"] in ("R", "W") and meta["level"] in ("row", "file"), meta
            assert expectation["severity"] == GX_SEVERITY[meta["severity"]], meta["rule_id"]
            assert meta["contract"].startswith("§"), meta["rule_id"]
            assert meta["rule_id"].startswith(PREFIX[kind] + "-"), meta["rule_id"]
            assert "请" in meta["message_zh"], f"{meta['rule_id']}: the message must say what to do"
            assert expectation.get("description"), meta["rule_id"]


def test_every_rule_id_appears_exactly_once_across_the_suites() -> None:
    ids = [e["meta"]["rule_id"] for suite in _raw_suites().values() for e in suite["expectations"]]
    assert len(ids) == len(set(ids))


def test_every_contract_rule_maps_to_one_suite_rule_and_back() -> None:
    rules = {rule.rule_id: rule for suite in load_suites().values() for rule in suite.rules}
    mapped = [rule_id for *_, ids in CONTRACT_RULES for rule_id in ids]
    assert len(mapped) == len(set(mapped)), "a suite rule must implement one contract rule"
    for line, severity, what, ids in CONTRACT_RULES:
        for rule_id in ids:
            assert rule_id in rules, f"{line} {severity} ({what}) has no rule {rule_id}"
            assert rules[rule_id].severity == severity, rule_id
            assert rules[rule_id].contract.startswith(line), rule_id
            assert rules[rule_id].level == "row", rule_id
    for rule_id, severity in TABLE_LEVEL.items():
        assert rules[rule_id].severity == severity and rules[rule_id].level == "file"
    assert set(rules) == set(mapped) | set(TABLE_LEVEL)


def test_every_query_returns_row_addresses_only(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    suites = load_suites()
    create_batch_views(con, suites.values())
    run_models(con, "core")
    for kind, suite in suites.items():
        for rule in suite.rules:
            query = rule.query_for(batch_relation(kind))
            columns = [row[0] for row in con.execute(f"describe {query}").fetchall()]
            assert columns == ["sha256", "period_file", "row_number"], rule.rule_id  # file version, month, row
            assert con.execute(query).fetchall() == [], rule.rule_id


def test_row_values_are_staging_text_columns_without_personal_data(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    for kind, suite in load_suites().items():
        text_columns = {
            name for name, in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'staging' and table_name = ? and data_type = 'VARCHAR'", [kind]
            ).fetchall()
        }
        assert set(suite.row_values) <= text_columns, kind
        assert not set(suite.row_values) & PERSONAL_COLUMNS, kind


def test_docs_rule_table_is_the_suites() -> None:
    docs = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    assert rules_markdown(load_suites()) in docs, "regenerate with: uv run --frozen python -m pipeline.validate"


@pytest.mark.parametrize("key", ["rule_id", "severity", "contract", "message_zh"])
def test_a_rule_without_its_meta_is_refused(tmp_path, key: str) -> None:
    shutil.copytree(SUITES_DIR, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "staffing.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    del suite["expectations"][0]["meta"][key]
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(SuiteError, match=key):
        load_suite("staffing", tmp_path)


def test_importing_the_package_leaves_great_expectations_unloaded() -> None:
    code = "import sys, pipeline.validate; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"
