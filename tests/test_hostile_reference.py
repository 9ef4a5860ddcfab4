"""Reference values that pass the format checks but used to crash or hang the report
(issue 14, case 2), and the report's own bounds.

    deadline = "9999-12"          the trend charts' month axis ran to it: > 9 GB, > 9 min
    value = 1e9                   the chart's font rasteriser overflowed
    value = 1e308                 the report's rounding raised decimal.InvalidOperation
    population 99999999999999999999999   a polars i128 error naming no file or line
    10,000 towns                  the report took > 220 s and > 6 GB

Each now stops the run at the door with the file, the line and the range
(pipeline/reference/limits.toml); and whatever the reference holds within them, the
report bounds its own work: a deadline far beyond the data does not stretch the axis, and
1,000 镇街 (the most allowed) render with a capped number of bars and table rows.
"""

from __future__ import annotations

import shutil
import time

import duckdb
import pytest

from pipeline.commands import cli
from pipeline.reference import default_reference_folder, load_reference, write_reference_tables
from pipeline.reference.limits import reference_limits
from tests.test_reference import AREAS, POPULATION, TARGETS, assert_names, load_error, make_folder

pytestmark = pytest.mark.heavy(seconds=40)


# ---------------------------------------------------------------- the probe's values, at the door


def test_a_deadline_of_9999_is_refused_with_file_and_line(tmp_path):
    # Line 5 of TARGETS is the deadline; 9999-12 is the probe's value.
    error = load_error(make_folder(tmp_path, targets=TARGETS.replace('"2025-12"', '"9999-12"')))
    assert_names(error, "targets.toml", 5, "期限 deadline 9999-12 超出合理范围 2000-01 至 2100-12",
                 "deadline 9999-12 is outside 2000-01…2100-12")


def test_a_deadline_before_2000_is_refused(tmp_path):
    error = load_error(make_folder(tmp_path, targets=TARGETS.replace('"2025-12"', '"1999-12"')))
    assert_names(error, "targets.toml", 5, "超出合理范围 2000-01 至 2100-12", "is outside 2000-01…2100-12")


def test_the_edges_of_the_deadline_range_load(tmp_path):
    for deadline in ("2000-01", "2100-12"):
        (tmp_path / deadline).mkdir()
        folder = make_folder(tmp_path / deadline, targets=TARGETS.replace('"2025-12"', f'"{deadline}"'))
        assert load_reference(folder).targets[0].deadline == deadline


@pytest.mark.parametrize("value", ["1e9", "1e308", "1000.01", "-1"])
def test_a_target_value_beyond_its_kind_is_refused(tmp_path, value):
    # Line 3 of TARGETS is the value; places_per_1000 is a per-1,000 figure: 0–1,000.
    error = load_error(make_folder(tmp_path, targets=TARGETS.replace("value = 4.5", f"value = {value}")))
    assert_names(error, "targets.toml", 3, "超出每千人口指标的合理范围 0–1,000",
                 "is outside the range of a per_1000 indicator, 0–1,000")


def test_the_range_is_the_unit_of_the_indicator(tmp_path):
    """A percentage cannot pass 100; a count may reach a million but not more; 1,000 per
    1,000 and 100 % are allowed (the edges are inside)."""
    for sub in "abc":
        (tmp_path / sub).mkdir()
    percent = '[filing_rate]\nvalue = 100.5\ncomparison = "="\ndeadline = "2025-12"\nclause = "13"\n'
    assert_names(load_error(make_folder(tmp_path / "a", targets=percent)), "targets.toml", 2,
                 "超出百分比指标的合理范围 0–100", "percent indicator, 0–100")
    count = '[demo_institutions]\nvalue = 1000001\ncomparison = ">="\ndeadline = "2025-12"\nclause = "二"\n'
    assert_names(load_error(make_folder(tmp_path / "b", targets=count)), "targets.toml", 2,
                 "超出计数指标的合理范围 0–1,000,000", "count indicator, 0–1,000,000")
    edges = (percent.replace("100.5", "100") + count.replace("1000001", "1000000")
             + TARGETS.replace("value = 4.5", "value = 1000").replace("# line 1: a comment\n", ""))
    assert len(load_reference(make_folder(tmp_path / "c", targets=edges)).targets) == 3


def test_a_planned_maximum_beyond_the_range_is_refused(tmp_path):
    # Line 8: planned_max 1e9 for a per-1,000 figure (above the value, so only the range stops it).
    error = load_error(make_folder(tmp_path, targets=TARGETS + "planned_max = 1e9\n"))
    assert_names(error, "targets.toml", 8, "计划上限 planned_max = 1000000000.0 超出每千人口指标的合理范围",
                 "planned_max = 1000000000.0 is outside the range of a per_1000 indicator")


def test_a_population_of_23_digits_is_refused_with_file_and_line(tmp_path):
    # Line 3: 西镇's residents, the probe's value (no longer a polars i128 error).
    population = POPULATION.replace("800,18", "99999999999999999999999,18")
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 3, "resident_population = 99999999999999999999999 超出合理范围 "
                 "0–1,000,000,000", "resident_population = 99999999999999999999999 is outside 0–1,000,000,000")


def test_a_population_of_thousands_of_digits_is_refused_shortly(tmp_path):
    # Line 2: 5,001 digits (int() refuses strings of more than 4,300); the message shows 30 of them.
    population = POPULATION.replace("1000,25", "1" + "0" * 5000 + ",25")
    error = load_error(make_folder(tmp_path, population=population))
    assert_names(error, "population.csv", 2, "…（共 5001 位） 超出合理范围", "… (5001 digits) is outside 0–1,000,000,000")
    assert len(str(error)) < 400


def test_a_billion_people_is_the_most_allowed(tmp_path):
    population = POPULATION.replace("1000,25", "1000000000,25")
    assert load_reference(make_folder(tmp_path, population=population)).population["resident_population"].max() \
        == 1_000_000_000


def _towns(n: int) -> str:
    return "".join(f"3799012{i:05d},第{i}镇,镇,乡村,379901\n" for i in range(n))


def test_ten_thousand_towns_are_refused_at_the_first_beyond_the_limit(tmp_path):
    # 2 towns in AREAS, then 10,000 more: the 1,001st 镇街 is on line 1 + 1 + 1,001 = 1,003.
    error = load_error(make_folder(tmp_path, areas=AREAS + _towns(10_000)))
    assert_names(error, "areas.csv", 1003, "镇街超过 1,000 个", "more than 1,000 镇街")


def test_tuoyu_run_stops_on_such_a_reference_with_one_message(tmp_path, monkeypatch, capsys):
    """`tuoyu run` (in-process): exit 2, the file-and-line message, no traceback, nothing written."""
    monkeypatch.chdir(tmp_path)
    reference = tmp_path / "reference"
    shutil.copytree(default_reference_folder(), reference)
    targets = reference / "targets.toml"
    targets.write_text(targets.read_text(encoding="utf-8").replace('deadline = "2025-12"', 'deadline = "9999-12"', 1),
                       encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    for name, value in {"TUOYU_REFERENCE": reference, "TUOYU_INBOX": tmp_path / "inbox",
                        "TUOYU_WAREHOUSE": tmp_path / "wh" / "warehouse.duckdb",
                        "TUOYU_REPORTS": tmp_path / "reports", "TUOYU_DEMO": "1"}.items():
        monkeypatch.setenv(name, str(value))
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "targets.toml 第" in err and "9999-12 超出合理范围" in err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


# ---------------------------------------------------------------- the report bounds its own work


def test_a_deadline_in_2100_does_not_stretch_the_axis():
    """Within range but 76 years after the data: the axis ends at the data's last month and
    the deadline is named in the corner; a deadline 36 months on is drawn on the axis."""
    from pipeline.period import months_between
    from pipeline.report.charts import DEADLINE_AXIS_MONTHS, trend_chart

    months = months_between("2023-01", "2024-06")
    values = [1.0 + i / 10 for i in range(len(months))]
    far = trend_chart("每千人口托位数", months, values, kind="per_1000", decimals=2, target=4.5,
                      comparison=">=", deadline="2100-12")
    ax = far.axes[0]
    assert ax.get_xlim()[1] < len(months)  # the axis ends at the last month of data (index 17)
    assert any("2100年12月" in t.get_text() and "图示范围之外" in t.get_text() for t in ax.texts)
    near_deadline = "2027-06"  # 36 months after 2024-06
    assert DEADLINE_AXIS_MONTHS == 36
    near = trend_chart("每千人口托位数", months, values, kind="per_1000", decimals=2, target=4.5,
                       comparison=">=", deadline=near_deadline)
    assert near.axes[0].get_xlim()[1] > len(months) + 35  # runs on to the deadline
    assert not any("图示范围之外" in t.get_text() for t in near.axes[0].texts)


def test_an_area_chart_of_a_thousand_towns_draws_a_capped_number_of_bars():
    from pipeline.report.charts import MAX_AREA_BARS, area_bar_chart

    names = [f"第{i}镇" for i in range(1000)]
    values = [float(i % 97) for i in range(1000)]
    fig = area_bar_chart("每千人口托位数", names, values, [v >= 4.5 for v in values], decimals=2, target=4.5,
                         comparison=">=")
    ax = fig.axes[0]
    assert len(ax.patches) == MAX_AREA_BARS == 40
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert len(shown) == 40
    assert values[names.index(shown[0])] == 96.0 and values[names.index(shown[-1])] == 0.0  # both ends
    assert "其余960个见XLSX工作簿" in ax.get_xlabel()


def test_a_thousand_towns_render_with_capped_tables_and_charts(tmp_path, record_property):
    """The small county's warehouse with 997 more 镇街 (1,000 in all, the most allowed),
    rebuilt through the real models and rendered for real: the PDF's tables by 镇街 show
    50 镇街 and the county's total, the bar chart 40 bars; the XLSX holds all 1,000."""
    import openpyxl

    from pipeline.report import render_report
    from pipeline.report.tables import MAX_AREA_ROWS
    from tests.report_pdf_text import pdf_runs
    from tests.report_warehouse import AREAS_CSV, COUNTY, PERIOD, POPULATION_CSV, build, build_report_warehouse

    path = build_report_warehouse(tmp_path / "wh" / "warehouse.duckdb")
    extra = 997
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "areas.csv").write_text(AREAS_CSV + "".join(
        f"{COUNTY}9{i:04d},远{i}镇,镇,乡村,{COUNTY}\n" for i in range(extra)), encoding="utf-8")
    (reference / "population.csv").write_text(POPULATION_CSV + "".join(
        f"2023,{COUNTY}9{i:04d},5000,100\n" for i in range(extra)), encoding="utf-8")
    ref = load_reference(reference)
    assert len(ref.towns) == 1000 == reference_limits().max_towns
    with duckdb.connect(str(path)) as con:
        write_reference_tables(con, ref)
        build(con)
        started = time.perf_counter()
        result = render_report(con, PERIOD, tmp_path / "out")
        record_property("render_seconds_1000_towns", round(time.perf_counter() - started, 1))

    text = "".join(run.text for page in pdf_runs(result.pdf.read_bytes()) for run in page)
    assert "共1000个镇街，此处按代码顺序列出前50个和全县合计" in text
    shown = [i for i in range(extra) if f"远{i}镇" in text]
    # 3 real 镇街 first in code order, then 远0镇 … 远46镇 in the tables (50 in all); the
    # bar chart is an image of its own (not PDF text).
    assert shown == list(range(MAX_AREA_ROWS - 3))
    assert "样板县（全县）" in text  # the county's row is kept below the cut
    book = openpyxl.load_workbook(result.xlsx, read_only=True)
    sheet = book["镇街比较1"]
    names = [row[0] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert sum(1 for n in names if n and str(n).startswith("远")) == extra  # the XLSX holds all
    book.close()
