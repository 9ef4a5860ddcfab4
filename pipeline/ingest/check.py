"""`tuoyu check FILE…`: what loading these files would do, without loading anything.

The files are copied into a scratch inbox in a temporary folder and brought into an
in-memory DuckDB warehouse by the real ingest (`ingest_inbox`), with the county's
reference tables; the real validation (`validate`, the suites of expectations/) then runs
on them, and the findings are read back. The office's warehouse is never opened for
writing: the institutions of a month, when no institutions file of that month is given,
and the previous month's row counts (rule *-ROW-COUNT) are read from it read-only. The
pseudonym key is a random one of this check: nothing it makes outlives it, and the
temporary folder is removed at the end.

Several files of one kind and month (two versions of a file) are checked in turns, one
version per turn, each with the institutions of its month.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.ingest.extracts.files import recognise
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.ingest.load import ingest_inbox, pending_scope
from pipeline.period import month_label, shift_month
from pipeline.reference import load_reference, write_reference_tables
from pipeline.settings import DEFAULT_FIRST_MONTH, DEFAULT_MEMORY_LIMIT
from pipeline.zh import chinese_only
from pipeline.warehouse.schema import create_tables

log = logging.getLogger(__name__)

# Where a message says what to do: "…，请…" / "…；请…".
_ACTION = re.compile(r"[，；](?=请)")
SEVERITY_ZH = {"R": "剔除", "W": "提示"}
UNRECOGNISED = ("文件名不符合规定，程序不会读取。文件名应为 托育机构_2024-06.xlsx、在托幼儿_202406.csv、"
                "从业人员_2024年6月.xlsx 这类格式（也可用 institutions_/enrollment_/staffing_ 开头），请改名后重新报送。")


class CheckUsageError(Exception):
    """The command cannot run as asked (no file, a file not found): exit status 2."""


@dataclass(frozen=True)
class RowFinding:
    source_row: int | None  # the row the clerk sees in the file; None for a whole-file finding
    severity: str
    rule_id: str
    message: str

    @property
    def problem_and_action(self) -> tuple[str, str]:
        """The message split into what is wrong and what to do."""
        parts = _ACTION.split(self.message, maxsplit=1)
        return (parts[0], parts[1]) if len(parts) == 2 else (self.message, "")


@dataclass
class FileCheck:
    """What loading one file would do."""

    path: Path
    kind: str | None = None
    period: str | None = None
    status: str = "unrecognised"  # the load-log status the file would get: loaded, file_rejected, …
    message: str = ""
    rows_read: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_warned: int = 0
    findings: list[RowFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None

    @property
    def recognised(self) -> bool:
        return self.kind is not None

    @property
    def readable(self) -> bool:
        return self.status == "loaded"

    @property
    def would_load_cleanly(self) -> bool:
        return self.readable and self.rows_rejected == 0


@dataclass
class CheckReport:
    files: list[FileCheck]

    @property
    def exit_code(self) -> int:
        return 0 if self.files and all(f.would_load_cleanly for f in self.files) else 1


def _turns(paths: list[Path]) -> list[list[Path]]:
    """The files in turns, each turn with at most one file of a kind and month (the ingest
    would take only the newest of two, and both are to be checked)."""
    turns: list[dict[object, Path]] = []
    for path in paths:
        name = recognise(path.name)
        key = (name.kind, name.period) if name else path
        turn = next((t for t in turns if key not in t), None)
        if turn is None:
            turn = {}
            turns.append(turn)
        turn[key] = path
    return [list(turn.values()) for turn in turns]


def _attach(con: duckdb.DuckDBPyConnection, warehouse: Path | None) -> str | None:
    """Attach the office's warehouse read-only as `office`; why not, when it cannot be."""
    if warehouse is None or not Path(warehouse).is_file():
        return "数据仓库中还没有数据"
    try:
        con.execute("attach '" + str(warehouse).replace("'", "''") + "' as office (read_only)")
    except duckdb.Error as exc:
        log.info("check: warehouse not attached: %s", type(exc).__name__)
        return "数据仓库正被占用或无法读取"
    return None


def _office_institutions(con: duckdb.DuckDBPyConnection, period: str) -> bool:
    """Copy the loaded institutions of `period` (rows and load-log row) from the attached
    warehouse into the scratch one; whether there were any."""
    found = con.execute("select sha256, file_path from office.audit.load_log "
                        "where status = 'loaded' and kind = 'institutions' and period = ?", [period]).fetchone()
    if not found:
        return False
    con.execute("insert into staging.institutions by name select * from office.staging.institutions "
                "where sha256 = ? and period_file = ?", [found[0], period])
    con.execute("insert into audit.load_log by name select * from office.audit.load_log "
                "where status = 'loaded' and kind = 'institutions' and period = ?", [period])
    return True


def _office_previous_months(con: duckdb.DuckDBPyConnection, months: set[tuple[str, str]]) -> None:
    """The load-log rows of the previous months' loaded files (rule *-ROW-COUNT compares with them)."""
    for kind, period in sorted(months):
        con.execute("insert into audit.load_log by name select * from office.audit.load_log as o "
                    "where o.status = 'loaded' and o.kind = $kind and o.period = $period and not exists ("
                    "select 1 from audit.load_log as l where l.status = 'loaded' and l.kind = $kind "
                    "and l.period = $period)", {"kind": kind, "period": shift_month(period, -1)})


def _read_back(con: duckdb.DuckDBPyConnection, check: FileCheck, rel_path: str) -> None:
    """Fill `check` from the scratch warehouse's load log and audit rows."""
    row = con.execute("select kind, period, status, coalesce(message, ''), coalesce(rows_read, 0), "
                      "coalesce(rows_rejected, 0), coalesce(rows_duplicate, 0), sha256 from audit.load_log "
                      "where file_path = ? order by loaded_at desc limit 1", [rel_path]).fetchone()
    if row is None:
        return
    (check.kind, check.period, check.status, check.message, check.rows_read, check.rows_rejected,
     check.rows_duplicate, check.sha256) = row
    if check.status == "unrecognised" and check.message.startswith("文件名不符合规定"):
        check.message = UNRECOGNISED
    if check.status != "loaded":
        return
    check.message = check.message.rstrip("。")
    findings = con.execute(
        "select nullif(source_row, 0), severity, rule_id, message, row_number from ("
        "select * from audit.rejected_rows union all by name select * from audit.row_warnings) "
        "where kind = ? and period = ? and sha256 = ? "
        "order by row_number, severity, rule_id", [check.kind, check.period, check.sha256]).fetchall()
    check.findings = [RowFinding(source, severity, rule, message) for source, severity, rule, message, _ in findings]
    rejected = {n for _, severity, _, _, n in findings if severity == "R"}
    check.rows_warned = len({n for _, severity, _, _, n in findings if severity == "W" and n and n not in rejected})


def check_files(paths: list[Path], reference_folder: Path, warehouse: Path | None = None, *,
                first_month: str = DEFAULT_FIRST_MONTH, this_month: str | None = None,
                memory_limit: str = DEFAULT_MEMORY_LIMIT) -> CheckReport:
    """Check `paths` as the ingest and validation would take them; the warehouse untouched."""
    if not paths:
        raise CheckUsageError("请至少给出一个要检查的文件。Give at least one file to check.")
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise CheckUsageError(f"找不到文件（或不是普通文件）：{'、'.join(missing)}。Not found or not a file: {missing}")
    reference = load_reference(reference_folder)
    paths = [Path(p) for p in paths]
    checks = {path: FileCheck(path) for path in paths}
    given_institutions = {(n.period): p for p in paths if (n := recognise(p.name)) and n.kind == "institutions"}
    with tempfile.TemporaryDirectory(prefix="tuoyu-check-") as scratch:
        for number, turn in enumerate(_turns(paths)):
            _check_turn(Path(scratch) / f"turn-{number}", turn, checks, given_institutions, reference, warehouse,
                        first_month, this_month, memory_limit)
    return CheckReport([checks[p] for p in paths])


def _check_turn(folder: Path, turn: list[Path], checks: dict[Path, FileCheck], given_institutions: dict[str, Path],
                reference, warehouse: Path | None, first_month: str, this_month: str | None,
                memory_limit: str) -> None:
    inbox = folder / "inbox"
    rel: dict[Path, str] = {}
    names = {p: recognise(p.name) for p in turn}
    months = {n.period for n in names.values() if n and n.kind != "institutions"}
    here = {n.period for n in names.values() if n and n.kind == "institutions"}
    helpers = {m: given_institutions[m] for m in months - here if m in given_institutions}
    for position, path in enumerate(list(turn) + list(helpers.values())):
        target = inbox / str(position) / path.name  # one folder each: names may repeat
        target.parent.mkdir(parents=True)
        shutil.copyfile(path, target)
        if position < len(turn):
            rel[path] = f"{position}/{path.name}"
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"set memory_limit = '{memory_limit}'")  # checked by the settings (digits and a unit)
        con.execute("set temp_directory = ?", [str(folder / "spill")])
        create_tables(con)
        write_reference_tables(con, reference)
        attach_problem = _attach(con, warehouse)
        ingest_inbox(con, inbox, folder / "raw-archive", secrets.token_bytes(32), first_month=first_month,
                     this_month=this_month)
        scope = pending_scope(con)
        from_office: set[str] = set()
        for month in sorted(months - here - set(helpers)):
            if attach_problem is None and _office_institutions(con, month):
                from_office.add(month)
                scope.setdefault("institutions", []).append(month)
        if attach_problem is None:
            _office_previous_months(con, {(k, p) for k, ps in scope.items() for p in ps})
            con.execute("detach office")
        if scope:
            from pipeline.validate import validate

            validate(con, {k: sorted(set(v)) for k, v in scope.items()}, strict=False)
        for path in turn:
            check = checks[path]
            _read_back(con, check, rel[path])
            name = names[path]
            if name is None or name.kind == "institutions" or check.status != "loaded" or name.period in here:
                continue
            if name.period in helpers:
                check.notes.append(f"机构编号按同时检查的 {helpers[name.period].name} 核对。")
            elif name.period in from_office:
                check.notes.append(f"机构编号按数据仓库中已载入的{month_label(name.period)}托育机构表核对。")
            else:
                why = attach_problem or "数据仓库中也没有该月的托育机构表"
                check.notes.append(f"未提供{month_label(name.period)}的托育机构表，{why}：机构编号无法核对，"
                                   "各行都会因“机构编号在本月托育机构表中不存在”被剔除。请连同该月托育机构表一起检查。")
    finally:
        con.close()


def report_text(report: CheckReport, *, max_rows: int = 200) -> str:
    """What the clerk reads: per file, then the conclusion. No value of a row is shown."""
    lines: list[str] = []
    for number, check in enumerate(report.files, start=1):
        lines.append(f"文件 {number}/{len(report.files)}：{check.path.name}")
        if not check.recognised:
            lines.append(f"  未识别：{chinese_only(check.message) or '文件名不符合规定'}")
            continue
        lines.append(f"  识别为：{KIND_LABEL_ZH[check.kind]}，{month_label(check.period)}")
        if not check.readable:
            lines.append(f"  不能载入（整个文件）：{chinese_only(check.message)}")
            continue
        lines.append(f"  可以读取（{chinese_only(check.message)}）")
        accepted = check.rows_read - check.rows_rejected - check.rows_duplicate
        lines.append(f"  读取 {check.rows_read} 行：将被剔除 {check.rows_rejected} 行，有提示 {check.rows_warned} 行，"
                     f"重复行 {check.rows_duplicate} 行，可采用 {accepted} 行")
        lines += [f"  注意：{note}" for note in check.notes]
        for finding in check.findings[:max_rows]:
            problem, action = finding.problem_and_action
            where = f"第 {finding.source_row} 行" if finding.source_row else "整个文件"
            lines.append(f"  {where}  {finding.rule_id}（{SEVERITY_ZH[finding.severity]}）  {problem}"
                         + (f"  → {action}" if action else ""))
        if len(check.findings) > max_rows:
            lines.append(f"  ……另有 {len(check.findings) - max_rows} 条，请用 --xlsx 导出退回修改清单查看全部。")
    bad = [c for c in report.files if not c.would_load_cleanly]
    if not bad:
        lines.append("结论：所有文件都可以载入，没有会被剔除的行。")
    else:
        lines.append(f"结论：{len(bad)} 个文件不能全部载入（整份不能载入或有行会被剔除）。"
                     "请把问题告知报送单位（可用 --xlsx 生成退回修改清单），更正后重新报送。")
    return "\n".join(lines)



def check_command(files: list[str], settings, *, xlsx: str | None, protected: list[Path]) -> int:
    """`tuoyu check`: the report on stdout, the 退回修改清单 with `xlsx`; exit status 0 when
    every file would load with no rejected row, 1 otherwise, 2 when it cannot run as asked."""
    import sys

    from pipeline.analysts.destination import ExportRefused, check_destination
    from pipeline.ingest.return_list import write_return_list

    try:
        target = check_destination(Path(xlsx), protected) if xlsx else None
        report = check_files([Path(f) for f in files], settings.reference, settings.warehouse,
                             first_month=settings.first_month, memory_limit=settings.memory_limit)
    except (CheckUsageError, ExportRefused) as exc:
        print(f"错误：{chinese_only(str(exc))}", file=sys.stderr)
        return 2
    print(report_text(report))
    if target is not None:
        rows = write_return_list(report, target)
        print(f"退回修改清单已写入 {target}（{rows} 行；含报送单位自己的数据，只发回原报送单位）。")
    return report.exit_code
