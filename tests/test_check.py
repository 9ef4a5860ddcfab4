"""`tuoyu check`: the whole validation of the given files, nothing loaded, the warehouse untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pytest

from pipeline.commands.cli import main
from pipeline.ingest.check import check_files
from pipeline.ingest.load import ingest_inbox
from pipeline.reference import default_reference_folder, load_reference, write_reference_tables
from pipeline.validate import validate
from pipeline.warehouse.connection import connect
from tests.conftest import TEST_KEY
from tests.extract_fixtures import (ENROLLMENT_HEADER, INSTITUTION_HEADER, STAFFING_HEADER, child_row, institution_row,
                                    make_id, staff_row, write_csv, write_xlsx)

MONTH = "2024-06"


def _child(seq: str, **kw) -> list[str]:
    """A clean child row of 2024-06 at JG01; `seq` makes the id number (odd: a boy)."""
    return child_row(MONTH, number=make_id(birth="20220315", seq=seq), **kw)


VALID = make_id(birth="20220315", seq="015")
WRONG_CHECK_DIGIT = VALID[:17] + ("1" if VALID[17] != "1" else "2")

# Rows 2–8 of the file (row 1 is the header). The planted defects, each with the rule it breaks:
PLANTED = [
    _child("011"),                                              # row 2: clean
    _child("013", cls="大班"),                                   # row 3: not a 班型 -> ENR-CLASS-TYPE
    child_row(MONTH, number=WRONG_CHECK_DIGIT),                 # row 4: wrong check digit -> ENR-CHILD-ID-CHECK
    _child("019", iid="JG09"),                                  # row 5: no such institution -> ENR-INSTITUTION
    _child("021", start="2024-07-02"),                          # row 6: after month end -> ENR-ENROLL-DATE
    _child("023"),                                              # row 7: clean
    _child("025", sex="女"),                                     # row 8: 女, odd 17th digit -> ENR-SEX-ID (W)
]
EXPECTED = {(3, "ENR-CLASS-TYPE"), (4, "ENR-CHILD-ID-CHECK"), (5, "ENR-INSTITUTION"), (6, "ENR-ENROLL-DATE"),
            (8, "ENR-SEX-ID")}


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file below `folder` (the warehouse, its write-ahead log, the raw archive) by SHA-256."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def office(tmp_path, monkeypatch) -> Path:
    """A warehouse with the institutions of 2024-06 loaded (JG01 and JG02), as a run leaves it."""
    inbox = tmp_path / "inbox"
    write_csv(inbox / f"托育机构_{MONTH}.csv", INSTITUTION_HEADER,
              [institution_row(MONTH, "JG01"), institution_row(MONTH, "JG02")])
    warehouse = tmp_path / "office" / "warehouse.duckdb"
    con = connect(warehouse)
    write_reference_tables(con, load_reference(default_reference_folder()))
    ingest_inbox(con, inbox, tmp_path / "office" / "raw-archive", TEST_KEY)
    validate(con)
    con.close()
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("TUOYU_INBOX", str(inbox))
    return warehouse


def test_planted_defects_listed_exactly_warehouse_untouched(office, tmp_path, capsys) -> None:
    delivered = write_csv(tmp_path / "received" / f"在托幼儿_{MONTH}.csv", ENROLLMENT_HEADER, PLANTED)
    before = _fingerprint(office.parent)
    out = tmp_path / "退回修改清单.xlsx"

    code = main(["check", str(delivered), "--xlsx", str(out)])

    assert code == 1
    assert _fingerprint(office.parent) == before  # byte for byte, nothing added
    text = capsys.readouterr().out
    for row, rule in EXPECTED:
        assert f"第 {row} 行  {rule}" in text
    assert text.count("  第 ") == len(EXPECTED)  # those rows and no other
    assert "读取 7 行：将被剔除 4 行，有提示 1 行" in text
    assert "数据仓库中已载入的2024年6月托育机构表" in text  # JG01 resolved from the warehouse
    for row in PLANTED:  # neither names nor id numbers printed
        assert row[2] not in text and row[3] not in text

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["说明", f"在托幼儿_{MONTH}"]
    rows = list(wb[f"在托幼儿_{MONTH}"].iter_rows(values_only=True))
    assert rows[0][:4] == ("源文件行号", "处理", "规则", "原因") and rows[0][4:] == tuple(ENROLLMENT_HEADER)
    assert [(r[0], r[1]) for r in rows[1:]] == [(3, "须更正后重新报送"), (4, "须更正后重新报送"),
                                                (5, "须更正后重新报送"), (6, "须更正后重新报送"), (8, "请核实")]
    # the sender's own rows as delivered (the id number as text, in full)
    assert [list(r[4:]) for r in rows[1:]] == [PLANTED[n - 2] for n in (3, 4, 5, 6, 8)]
    assert "只发回原报送单位" in str(list(wb["说明"].iter_rows(values_only=True)))


def test_the_institutions_given_resolve_the_cross_file_rule(tmp_path) -> None:
    folder = tmp_path / "received"
    # JG05 exists only in the given file, JG06 is rejected there (not a 机构类型)
    institutions = write_csv(folder / f"institutions_{MONTH}.csv", INSTITUTION_HEADER,
                             [institution_row(MONTH, "JG05"), institution_row(MONTH, "JG06", 机构类型="托儿所")])
    staff = write_csv(folder / f"从业人员_{MONTH}.csv", STAFFING_HEADER,
                      [staff_row(MONTH, "JG05"), staff_row(MONTH, "JG06", number=make_id(birth="19910101"))])
    report = check_files([staff, institutions], default_reference_folder(), tmp_path / "none.duckdb")
    staffing, inst = report.files
    assert [(f.source_row, f.rule_id) for f in inst.findings] == [(3, "INS-TYPE")]
    assert [(f.source_row, f.rule_id) for f in staffing.findings] == [(3, "STF-INSTITUTION")]
    assert report.exit_code == 1
    assert not (tmp_path / "none.duckdb").exists()


def test_a_clean_file_exits_0_and_two_versions_are_both_checked(office, tmp_path, capsys) -> None:
    first = write_xlsx(tmp_path / "a" / f"在托幼儿_{MONTH}.xlsx", ENROLLMENT_HEADER, [_child("011")], title="在托幼儿")
    assert main(["check", str(first)]) == 0
    assert "结论：所有文件都可以载入" in capsys.readouterr().out
    second = write_csv(tmp_path / "b" / f"在托幼儿_{MONTH}.csv", ENROLLMENT_HEADER, [_child("013", mode="周末托")])
    report = check_files([first, second], default_reference_folder(), office)
    assert [[f.rule_id for f in c.findings] for c in report.files] == [[], ["ENR-CARE-MODE"]]


def test_files_that_cannot_load_are_said_so(office, tmp_path, capsys) -> None:
    # no 出生日期 column: the whole file is rejected; a name that is no extract's
    broken = write_csv(tmp_path / f"在托幼儿_{MONTH}.csv", [h for h in ENROLLMENT_HEADER if h != "出生日期"],
                       [[c for i, c in enumerate(_child("011")) if i != 4]])
    stranger = write_csv(tmp_path / "名单.csv", ENROLLMENT_HEADER, [_child("011")])
    assert main(["check", str(broken), str(stranger)]) == 1
    text = capsys.readouterr().out
    assert "不能载入（整个文件）" in text and "出生日期" in text
    assert "未识别：文件名不符合规定" in text


def test_usage_errors_exit_2_and_nothing_is_overwritten(office, tmp_path, capsys) -> None:
    assert main(["check", str(tmp_path / "no-such-file.csv")]) == 2
    assert "找不到文件" in capsys.readouterr().err
    delivered = write_csv(tmp_path / f"在托幼儿_{MONTH}.csv", ENROLLMENT_HEADER, [_child("011")])
    existing = tmp_path / "old.xlsx"
    existing.write_bytes(b"keep")
    assert main(["check", str(delivered), "--xlsx", str(existing)]) == 2
    assert existing.read_bytes() == b"keep"
    with pytest.raises(SystemExit) as exc:
        main(["check"])  # no file: argparse's usage error
    assert exc.value.code == 2
