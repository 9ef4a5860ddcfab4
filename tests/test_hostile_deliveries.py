"""Deliveries that must never stop the office's run, nor any later run (issue 14).

Each case is run the way the office runs it (`tuoyu run`, a subprocess) with the inputs
of the probe that found it, then run again after the file is removed:

    case 0  June's institutions workbook copied as July's (`托育机构_2024年7月.xlsx`, its
            统计月份 cells still 2024-06): loaded, every row quarantined under INS-PERIOD,
            June untouched; the run after its removal completes too
    case 1  `托育机构_2024-05.csv`: a header and one row holding a single 50 MB cell:
            rejected at the door (cell limit) naming file, row, column and limit; the run
            after its removal completes too
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest.load import ingest_inbox
from pipeline.reference import default_reference_folder, load_reference, write_reference_tables
from tests.conftest import TEST_KEY
from tests.extract_fixtures import (ENROLLMENT_HEADER, INSTITUTION_HEADER, child_row, institution_row, make_id,
                                    write_csv, write_xlsx)
from tests.hostile_fixtures import run_tuoyu, tuoyu_env

pytestmark = pytest.mark.heavy(seconds=40)

JUNE_ROWS = 22


def _june_workbook(path: Path) -> Path:
    """22 institutions of 2024-06; JG04 has 250 places (a W finding, INS-PLACES-HIGH)."""
    rows = [institution_row(period="2024-06", iid=f"JG{i:02d}") for i in range(1, JUNE_ROWS + 1)]
    rows[3] = institution_row(period="2024-06", iid="JG04", places="250")
    return write_xlsx(path, INSTITUTION_HEADER, rows)


def _query(root: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(root / "out" / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _completes(root: Path, inbox: Path):
    result = run_tuoyu(tuoyu_env(inbox, root / "out", key=None), timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert "运行完成" in result.output, result.output[-3000:]
    return result


def test_a_month_copied_as_the_next_is_quarantined_and_later_runs_complete(tmp_path):
    """Case 0. The copy has the same bytes as June's file, so the same SHA-256: its rows and
    June's used to be matched to each other's audit rows (GX 22, audit 44 for INS-PERIOD)
    and validation stopped every run, also after the copy was deleted."""
    inbox = tmp_path / "inbox"
    june = _june_workbook(inbox / "托育机构_2024年6月.xlsx")
    _completes(tmp_path, inbox)

    shutil.copyfile(june, inbox / "托育机构_2024年7月.xlsx")
    _completes(tmp_path, inbox)
    by_month = dict(_query(tmp_path, "select period, count(*) from core.institutions group by period"))
    assert by_month == {"2024-06": JUNE_ROWS}  # June's rows are not taken for July's, nor rejected with them
    rejected = _query(tmp_path, "select period, rule_id, count(*) from audit.rejected_rows group by all")
    assert rejected == [("2024-07", "INS-PERIOD", JUNE_ROWS)]
    warnings = _query(tmp_path, "select period, rule_id, count(*) from audit.row_warnings group by all order by 1")
    assert warnings == [("2024-06", "INS-PLACES-HIGH", 1), ("2024-07", "INS-PLACES-HIGH", 1)]
    (message, rows_rejected), = _query(
        tmp_path, "select message, rows_rejected from audit.load_log where file_path = '托育机构_2024年7月.xlsx'")
    assert rows_rejected == JUNE_ROWS
    assert "托育机构_2024年6月.xlsx" in message and "复制" in message  # the clerk is told what it looks like

    (inbox / "托育机构_2024年7月.xlsx").unlink()
    _completes(tmp_path, inbox)


def test_byte_identical_files_of_two_months_validated_together_keep_apart(tmp_path):
    """Case 0 with both months in one validation batch (a first run over both files): the
    rules that compare rows with each other (INS-ID-CONFLICT, ENR-CHILD-REPEAT,
    INS-DUPLICATE) must compare rows of one month only, and GX and the audit agree."""
    from pipeline.validate import validate

    inbox = tmp_path / "inbox"
    june = _june_workbook(inbox / "托育机构_2024年6月.xlsx")
    shutil.copyfile(june, inbox / "托育机构_2024年7月.xlsx")
    children = [child_row(period="2024-06", birth="2023-03-15", start="2024-01-05",
                          number=make_id(birth="20230315", seq=f"{i:03d}")) for i in (11, 13)]
    enrollment = write_csv(inbox / "在托幼儿_2024-06.csv", ENROLLMENT_HEADER, children)
    shutil.copyfile(enrollment, inbox / "在托幼儿_2024-07.csv")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    write_reference_tables(con, load_reference(default_reference_folder()))
    ingest_inbox(con, inbox, tmp_path / "raw-archive", TEST_KEY)
    report = validate(con)  # raises GxError when GX and the audit rows disagree
    assert report.rules_for("institutions", "2024-06") == {"INS-PLACES-HIGH": 1}
    assert report.rules_for("institutions", "2024-07") == {"INS-PERIOD": JUNE_ROWS, "INS-PLACES-HIGH": 1}
    assert report.rules_for("enrollment", "2024-06") == {}
    assert report.rules_for("enrollment", "2024-07") == {"ENR-PERIOD": 2, "ENR-INSTITUTION": 2}
    accepted = dict(con.execute("select period, count(*) from core.enrollment group by period").fetchall())
    assert accepted == {"2024-06": 2}
    con.close()
