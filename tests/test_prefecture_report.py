"""The prefecture's report (docs/rollup.md §7): from simulated bundles of counties the project
has never seen, through the real `tuoyu run` on a prefecture folder, the PDF, card, charts and
XLSX are rendered; the matrix, the rankings, the counties behind pace and the bundle receipt
say what the bundles imply."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from contextlib import contextmanager, redirect_stdout

import duckdb
import polars as pl
import pytest

from pipeline.commands import cli
from pipeline.period import month_label, months_between
from pipeline.report.formatting import BEHIND_STATUSES
from pipeline.report.prefecture import (SHEETS, behind_rows, build_prefecture_document, load_prefecture_data,
                                        rank_counties, render_prefecture_report)
from pipeline.rollup.simulate import simulate_bundles

AREAS = """\
area_code,area_name,area_type,urban_rural,parent_code
770100,岚州市,地级市,,
770102,松溪区,区,,770100
770121,柏林县,县,,770100
770181,桐川市,县级市,,770100
770122,榆关县,县,,770100
"""
COUNTIES = [("770102", "松溪区"), ("770121", "柏林县"), ("770181", "桐川市"), ("770122", "榆关县")]
PERIODS = months_between("2024-01", "2025-02")       # 14 months
LATE = "770122"                                      # 榆关县: its bundle lacks 2025-02
pdftotext = shutil.which("pdftotext")


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    base = tmp_path_factory.mktemp("prefecture-report")
    reference = base / "reference"
    reference.mkdir()
    (reference / "areas.csv").write_text(AREAS, encoding="utf-8")
    inbox = base / "inbox"
    inbox.mkdir()
    bundles = simulate_bundles(inbox, COUNTIES[:3], PERIODS, seed=17)
    bundles += simulate_bundles(inbox, COUNTIES[3:], PERIODS[:-1], seed=18)
    env = {"TUOYU_REFERENCE": str(reference), "TUOYU_INBOX": str(inbox),
           "TUOYU_WAREHOUSE": str(base / "warehouse" / "warehouse.duckdb"), "TUOYU_REPORTS": str(base / "reports")}
    return base, env, bundles


@contextmanager
def _in_office(office):
    """In-process `tuoyu` in the prefecture's folder with its TUOYU_* settings only."""
    base, env, _bundles = office
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("TUOYU_")]:
            mp.delenv(name)
        mp.chdir(base)
        for k, v in env.items():
            mp.setenv(k, v)
        yield


@pytest.fixture(scope="module")
def ran(office):
    """`tuoyu run` on the prefecture folder: receive, build and render the report."""
    out = io.StringIO()
    with _in_office(office), redirect_stdout(out):
        assert cli.main(["run"]) == 0
    return out.getvalue()


def _con(office):
    base, _env, _bundles = office
    return duckdb.connect(str(base / "warehouse" / "warehouse.duckdb"), read_only=True)


def _county_rows(bundle, indicator_id: str, period: str) -> dict:
    """The county's own row of `indicator_id` in its bundle's Parquet (read from the zip)."""
    with zipfile.ZipFile(bundle) as z:
        name = next(n for n in z.namelist() if n.endswith("indicator_values.parquet"))
        frame = pl.read_parquet(io.BytesIO(z.read(name)))
    return frame.filter(pl.col("is_county") & (pl.col("indicator_id") == indicator_id)
                        & (pl.col("period") == period)).row(0, named=True)


@pytest.mark.skipif(pdftotext is None, reason="pdftotext (poppler-utils) not installed")
def test_run_renders_the_report_with_the_prefecture_the_counties_and_a_value_from_the_bundles(office, ran):
    base, _env, bundles = office
    # The latest month with a prefecture value: 2025-02 lacks 榆关县, so the prefecture has
    # no value then (every county is required by default); the report is of 2025-01.
    pdf = base / "reports" / "2025-01" / "report_2025-01.pdf"
    assert f"地市汇总报告（2025-01）：{pdf}" in ran
    assert (base / "reports" / "2025-01" / "card_2025-01.png").stat().st_size > 10_000
    assert {p.name for p in (base / "reports" / "2025-01" / "charts").glob("*.png")} == {
        "trend_places_per_1000.png", "counties_places_per_1000.png"}
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "岚州市" in text and "【地市汇总】" in text and "2025年1月" in text
    for _code, name in COUNTIES:
        assert name in text
    # By hand from the four bundles: places per 1,000 = 1000 × Σ places ÷ Σ population of the
    # counties' own rows of 2025-01 (numerator = places, denominator = resident population).
    rows = [_county_rows(b, "places_per_1000", "2025-01") for b in bundles]
    places = sum(r["numerator"] for r in rows)
    population = sum(r["denominator"] for r in rows)
    expected = f"{1000 * places / population:.2f}"
    assert 1 < float(expected) < 20
    assert expected in text
    # a county's own figure in the matrix: 1000 × its places ÷ its population
    assert f"{1000 * rows[1]['numerator'] / rows[1]['denominator']:.2f}" in text
    assert "同一幼儿在两个县入托的计为两人" in text


def test_the_workbook_has_every_table(office, ran):
    from openpyxl import load_workbook

    base, _env, _bundles = office
    book = load_workbook(base / "reports" / "2025-01" / "tables_2025-01.xlsx", read_only=True)
    names = book.sheetnames
    assert names[0] == "说明"
    for sheet in ("全市目标指标", "其他指标", "各县目标矩阵", "各县目标状态", "排名-每千人口托位数", "排名-普惠托位占比",
                  "排名-托育机构备案率", "排名-3岁以下婴幼儿入托率", "进度落后的县", "汇总包接收", "拒收汇总包",
                  "各县数据质量", "数值修订", "各县全部指标", "全市月度数值"):
        assert sheet in names, sheet
    rows = list(book["各县目标矩阵"].values)
    assert [r[0] for r in rows[3:8]] == ["松溪区", "柏林县", "榆关县", "桐川市", "岚州市（全市）"]
    book.close()
    assert len(SHEETS) == 12


def test_ranking_best_first_ties_share_a_place():
    # printed to 2 decimals: 3.14, 2.00, 3.14, —, 2.00 (2.004 rounds to 2.00), 5.00
    values = [("甲县", 3.14), ("乙县", 2.0), ("丙区", 3.144), ("丁县", None), ("戊市", 2.004), ("己县", 5.0)]
    assert rank_counties(values, 2) == [
        (1, "己县", 5.0), (2, "甲县", 3.14), (2, "丙区", 3.144), (4, "乙县", 2.0), (4, "戊市", 2.004),
        (None, "丁县", None)]
    # a target of the form "at most": the lowest first
    assert [(p, n) for p, n, _v in rank_counties(values, 2, higher_is_better=False)] == [
        (1, "乙县"), (1, "戊市"), (3, "甲县"), (3, "丙区"), (5, "己县"), (None, "丁县")]
    # 1 decimal: 3.14 and 3.144 and 3.1 tie
    assert [p for p, _n, _v in rank_counties([("a", 3.14), ("b", 3.1), ("c", 3.144)], 1)] == [1, 1, 1]


def test_ranking_tables_follow_the_warehouse(office, ran):
    con = _con(office)
    try:
        data = load_prefecture_data(con, "2025-01")
        doc = build_prefecture_document(data, "统计局", None)
        table = next(t for t in doc.tables["rankings"] if "每千人口托位数" in t.title)
        expected = con.execute("""
            select a.area_name from marts.indicator_values v join reference.areas a using (area_code)
            where v.indicator_id = 'places_per_1000' and v.period = '2025-01' and a.parent_code is not null
            order by round(v.value, 2) desc, a.area_code""").fetchall()
    finally:
        con.close()
    assert [row[1] for row in table.rows] == [n for (n,) in expected]
    assert table.rows[0][0] == "1"


def test_counties_behind_pace_are_exactly_those_with_those_statuses(office, ran):
    con = _con(office)
    try:
        data = load_prefecture_data(con, "2025-01")
        listed = {(ind.indicator_id, status, name) for ind, status, names in behind_rows(data) for name, _v in names}
        expected = set(con.execute(f"""
            select v.indicator_id, v.status, a.area_name
            from marts.indicator_values v
            join reference.areas a using (area_code)
            join reference.targets t using (indicator_id)
            where v.period = '2025-01' and a.parent_code is not null and t.applies_to = 'county_and_towns'
              and v.status in {tuple(BEHIND_STATUSES)}""").fetchall())
        doc = build_prefecture_document(data, "统计局", None)
    finally:
        con.close()
    assert listed == expected
    assert len(expected) > 0  # the simulated counties are behind on something
    # the table names each of them, under its indicator and status
    text = "\n".join(str(c.get("text") if isinstance(c, dict) else c) for row in doc.tables["behind"].rows
                     for c in row)
    for _ind, _status, name in expected:
        assert name in text


def test_a_county_without_the_month_shows_as_missing_in_the_receipt_table(office, ran, capsys):
    base, env, _bundles = office
    # `tuoyu report --period 2025-02` on the prefecture folder renders that month: 榆关县's
    # bundle lacks it.
    with _in_office(office):
        assert cli.main(["report", "--period", "2025-02"]) == 0
        assert cli.main(["report", "--period", "2023-01"]) == 2
    out = capsys.readouterr()
    assert "地市汇总报告已生成：" in out.out and "report_2025-02.pdf" in out.out
    assert "2023-01 不在任何县的汇总包中" in out.err
    assert (base / "reports" / "2025-02" / "report_2025-02.pdf").is_file()

    con = _con(office)
    try:
        doc = build_prefecture_document(load_prefecture_data(con, "2025-02"), "统计局", None)
    finally:
        con.close()
    table = doc.tables["receipts"]
    assert table.header[-2] == "2月" and table.groups[-2] == ("2025年", 2)
    last = {row[0]: row[-2] for row in table.rows}
    assert last["榆关县"] == {"text": "缺", "tone": "bad"}
    assert [last[n] for n in ("松溪区", "柏林县", "桐川市")] == ["有", "有", "有"]
    # January: every county has it
    assert {row[-3] for row in table.rows} == {"有"}
    assert "榆关县缺本月数据" in doc.summary.sentences[1]


def test_no_prefecture_value_no_report(tmp_path):
    con = duckdb.connect()
    con.execute("create schema reference; create table reference.areas as "
                "select '1' as area_code, '某市' as area_name, null::varchar as parent_code")
    with pytest.raises(ValueError, match="还没有任何全市指标数值"):
        render_prefecture_report(con, None, tmp_path)


def test_a_year_over_one_month_fits_its_column(office, ran):
    con = _con(office)
    try:
        doc = build_prefecture_document(load_prefecture_data(con, "2025-01"), "统计局", None)
    finally:
        con.close()
    # 2024-02 … 2025-01: 2025 spans one narrow month column, where "2025年" would wrap
    assert doc.tables["receipts"].groups[-2] == ("2025", 1)
    assert doc.tables["receipts"].groups[1] == ("2024年", 11)


def test_a_rejection_reason_does_not_repeat_the_bundle_name():
    from types import SimpleNamespace

    from pipeline.report.prefecture import rejected_bundles_table

    receipt = {"county_name": None, "bundle": "各县/空文件.zip", "received_at": None,
               "message_zh": "汇总包 空文件.zip 无法使用：是空文件（0 字节，可能没有传完）。请该县重新生成。",
               "status": "rejected"}
    table = rejected_bundles_table(SimpleNamespace(receipts=[receipt]), 12)
    assert table.rows[0][1] == "各县/空文件.zip"
    assert table.rows[0][3] == "是空文件（0 字节，可能没有传完）。请该县重新生成。"


def _sheet_rows(xlsx, sheet: str) -> list[tuple]:
    from openpyxl import load_workbook

    book = load_workbook(xlsx, read_only=True)
    try:
        return [tuple(r) for r in book[sheet].values]
    finally:
        book.close()


def test_a_revised_bundle_is_listed_as_revisions_in_the_next_report(office, ran, tmp_path):
    """In a copy of the prefecture's folder: the report of 2024-12, then that of 2025-01 (no
    revision: the months both print are the same); then 松溪区 sends a new bundle (other
    figures for every month, made later), `tuoyu run` rebuilds and renders 2025-01 again, and
    lists the prefecture's figures of 2024-01 … 2024-12 that changed since the 2024-12 report."""
    from datetime import datetime, timedelta, timezone

    base, env, _bundles = office
    copy = tmp_path / "office"
    shutil.copytree(base, copy, symlinks=True)
    env = {k: v.replace(str(base), str(copy)) for k, v in env.items()}
    warehouse = copy / "warehouse" / "warehouse.duckdb"

    def render(period):
        con = duckdb.connect(str(warehouse))
        try:
            return render_prefecture_report(con, period, copy / "reports")
        finally:
            con.close()

    render("2024-12")
    same = render("2025-01")
    assert same.revised_values == 0
    assert ("上期报告发布的数值均未变动", "", "", "", "") in _sheet_rows(same.xlsx, "数值修订")

    with duckdb.connect(str(warehouse), read_only=True) as con:
        (old_text,), = con.execute(
            "select value_text from marts.published_values where report_period = '2024-12' "
            "and indicator_id = 'places_per_1000' and period = '2024-06' and area_code = '770100'").fetchall()
    later = datetime(2026, 2, 5, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    (revised,) = simulate_bundles(copy / "inbox", COUNTIES[:1], PERIODS, seed=99, made_at=later)
    out = io.StringIO()
    with _in_office((copy, env, None)), redirect_stdout(out):
        assert cli.main(["run"]) == 0
    assert "地市汇总报告（2025-01）" in out.getvalue()

    # By hand: places per 1,000 of 2024-06 = 1000 × Σ places ÷ Σ population over the four
    # counties' own rows, 松溪区's from its new bundle.
    rows = [_county_rows(b, "places_per_1000", "2024-06") for b in [revised, *_bundles[1:]]]
    new_text = f"{1000 * sum(r['numerator'] for r in rows) / sum(r['denominator'] for r in rows):.2f}"
    assert new_text != old_text
    xlsx = copy / "reports" / "2025-01" / "tables_2025-01.xlsx"
    sheet = _sheet_rows(xlsx, "数值修订")
    assert ("每千人口托位数（个）", "2024年6月", "岚州市（全市）", old_text, new_text) in sheet
    changed = [r for r in sheet if r[1] and str(r[1]).endswith("月") and r[3] != r[4]]
    earlier = {month_label(m) for m in PERIODS if m <= "2024-12"}  # the months both reports print
    assert changed and all(r[2] == "岚州市（全市）" and r[1] in earlier for r in changed)
    summary = _sheet_rows(xlsx, "说明")
    assert any(c and f"上期报告已发布的{len(changed)}个数值有变动" in str(c) for r in summary for c in r)
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the 2025-01 report's figures, recorded
        assert con.execute("select count(*) from marts.published_values where report_period = '2025-01' "
                           "and value_text = ?", [new_text]).fetchone()[0] >= 1


@pytest.mark.skipif(pdftotext is None, reason="pdftotext (poppler-utils) not installed")
def test_the_ranked_indicators_are_rollup_tomls(office, ran, tmp_path):
    """rollup.toml's `ranked` chooses the ranking tables and their order; an empty list, none
    (the PDF says so). A changed list alone makes the next run rebuild and render."""
    base, env, _bundles = office
    copy = tmp_path / "office"
    shutil.copytree(base, copy, symlinks=True)
    env = {k: v.replace(str(base), str(copy)) for k, v in env.items()}
    rollup = copy / "reference" / "rollup.toml"
    xlsx = copy / "reports" / "2025-01" / "tables_2025-01.xlsx"

    rollup.write_text('ranked = ["filing_rate", "places_per_1000"]\n', encoding="utf-8")
    with _in_office((copy, env, None)), redirect_stdout(io.StringIO()):
        assert cli.main(["run"]) == 0
    from openpyxl import load_workbook

    book = load_workbook(xlsx, read_only=True)
    assert [n for n in book.sheetnames if n.startswith("排名-")] == ["排名-托育机构备案率", "排名-每千人口托位数"]
    book.close()

    rollup.write_text("ranked = []\n", encoding="utf-8")
    with _in_office((copy, env, None)), redirect_stdout(io.StringIO()):
        assert cli.main(["run"]) == 0
    book = load_workbook(xlsx, read_only=True)
    assert not [n for n in book.sheetnames if n.startswith("排名-")]
    book.close()
    text = subprocess.run([pdftotext, str(xlsx.with_name("report_2025-01.pdf")), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "未列出要排名的指标" in text
