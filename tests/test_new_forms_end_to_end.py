"""Files the project has never seen, end to end (issue 15's "done when"): the first four
months of the conformance county delivered as .xls and .ods, with the data behind an
instructions sheet, in the county's own wording (headers, values and 镇街 names, declared
in its mapping.toml). Every indicator value must equal what the contract implies
(tests/conformance/expected.csv) and every load count must reconcile as for the original
files (expected_load.csv)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.commands.run import run_pipeline
from pipeline.settings import Settings
from tests.conftest import CONFORMANCE
from tests.conformance_checks import load_count_differences, read_expected, value_mismatches
from tests.workbook_fixtures import INSTRUCTIONS, WRITERS

pytestmark = pytest.mark.heavy(seconds=12)

MONTHS = ("2023-01", "2023-02", "2023-03", "2023-04")

MAPPING = """\
# 样例县的用语对照
[institutions.headers]
"托育机构名称" = "机构名称"
"核定托位" = "核定托位数"

[institutions.values."运营状态"]
"营业中" = "正常运营"
"暂停营业" = "暂停运营"

[institutions.values."视频监控全覆盖"]
"有" = "是"
"无" = "否"

[enrollment.headers]
"身份证号码" = "幼儿身份证号"

[enrollment.values."班型"]
"乳儿班(6-12个月)" = "乳儿班"

[staffing.headers]
"入职时间" = "入职日期"
"""

# The county's wording written into the files: the contract's header or value → as written.
HEADERS = {"机构名称": "托育机构名称", "核定托位数": "核定托位", "幼儿身份证号": "身份证号码", "入职日期": "入职时间"}
VALUES = {
    "运营状态": {"正常运营": "营业中", "暂停运营": "暂停营业"},
    "视频监控全覆盖": {"是": "有", "Y": "有", "y": "有", "1": "有", "否": "无", "N": "无", "n": "无", "0": "无"},
    "班型": {"乳儿班": "乳儿班（6-12个月）"},  # full-width brackets: matched after NFKC
}
# How each original is delivered: (form, data behind an instructions sheet); None: as it is.
DELIVERY = {
    "institutions_2023-01.csv": ("xls", True),
    "enrollment_2023-01.csv": ("ods", False),
    "staffing_2023-01.csv": ("xlsx", True),
    "托育机构_202302.csv": ("ods", True),
    "在托幼儿_202302.csv": ("xls", True),
    "从业人员_202302.csv": ("xls", False),
    "institutions_2023年3月.xlsx": ("xlsx", True),
    "enrollment_2023年3月.xlsx": ("ods", True),
    "staffing_2023年3月.xlsx": ("xls", False),
}


def _rows(path: Path) -> list[list[object]]:
    if path.suffix == ".csv":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        return [list(row) for row in csv.reader(text.splitlines())]
    import openpyxl

    book = openpyxl.load_workbook(path)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def _in_county_wording(rows: list[list[object]], towns: dict[str, str]) -> list[list[object]]:
    """The same cells in the county's words: the header row renamed, values rewritten."""
    at = next(i for i, row in enumerate(rows) if "统计月份" in row)
    header = rows[at]
    columns = {j: VALUES.get(h, {}) | (towns if h == "所在镇街代码" else {}) for j, h in enumerate(header)}
    out = [list(row) for row in rows[:at]] + [[HEADERS.get(h, h) for h in header]]
    for row in rows[at + 1:]:
        out.append([columns.get(j, {}).get(v, v) if isinstance(v, str) else v for j, v in enumerate(row)])
    return [[None if v == "" else v for v in row] for row in out]


def _month_files() -> list[Path]:
    return [p for p in sorted((CONFORMANCE / "inbox").rglob("*")) if p.is_file()
            and any(m in p.name or m.replace("-", "") in p.name or f"{m[:4]}年{int(m[5:])}月" in p.name for m in MONTHS)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    base = tmp_path_factory.mktemp("new-forms")
    reference = shutil.copytree(CONFORMANCE / "reference", base / "reference")
    (reference / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    with open(reference / "areas.csv", encoding="utf-8") as f:
        towns = {r["area_code"]: r["area_name"] for r in csv.DictReader(f) if r["parent_code"]}
    inbox = base / "inbox"
    inbox.mkdir()
    files = _month_files()
    assert len(files) == 12
    for path in files:
        if path.name not in DELIVERY:
            shutil.copy(path, inbox / path.name)
            continue
        form, behind = DELIVERY[path.name]
        sheets = [("数据", _in_county_wording(_rows(path), towns))]
        WRITERS[form](inbox / f"{path.stem}.{form}", [INSTRUCTIONS] + sheets if behind else sheets)
    settings = Settings(inbox=inbox, reference=reference, warehouse=base / "warehouse.duckdb",
                        reports=base / "reports", pseudonym_key=None, demo=True, lock_wait=0)
    outcome = run_pipeline(settings)
    assert outcome.success, outcome.text()
    connection = duckdb.connect(str(base / "warehouse.duckdb"), read_only=True)
    yield connection
    connection.close()


def test_the_deliveries_are_the_new_forms(warehouse):
    paths = [p for (p,) in warehouse.execute("select file_path from audit.load_log where status = 'loaded'").fetchall()]
    assert len(paths) == 12
    assert sum(p.endswith(".xls") for p in paths) == 4 and sum(p.endswith(".ods") for p in paths) == 3


def test_load_counts_reconcile_as_for_the_originals(warehouse):
    got, expected = load_count_differences(warehouse, MONTHS)
    assert got == expected
    assert warehouse.execute("""select count(*) from audit.load_log where status = 'loaded'
                                and rows_read <> rows_accepted + rows_rejected + rows_duplicate""").fetchone()[0] == 0


def test_every_expected_value_is_reproduced(warehouse):
    expected = read_expected("expected.csv", MONTHS)
    assert len(expected) == len(MONTHS) * (3 + 16 * 7)
    assert value_mismatches(warehouse, expected) == []


def test_the_load_log_names_the_sheet_and_the_mappings_used(warehouse):
    log = dict(warehouse.execute("select file_path, message from audit.load_log where status = 'loaded'").fetchall())
    assert "数据取自第 2 个工作表“数据”" in log["institutions_2023-01.xls"]
    assert "工作表" not in log["enrollment_2023-01.ods"]
    institutions = log["institutions_2023-01.xls"]
    assert "表头“托育机构名称”→“机构名称”" in institutions and "表头“核定托位”→“核定托位数”" in institutions
    assert "运营状态“营业中”→“正常运营”" in institutions and "所在镇街代码“新华街道”→“379902001”" in institutions
    assert "班型“乳儿班(6-12个月)”→“乳儿班”" in log["enrollment_2023-01.ods"]
    assert "用语对照" not in log["托育机构_2023-04.csv"]  # delivered in the contract's words
