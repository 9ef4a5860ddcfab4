"""The 退回修改清单 of `tuoyu check --xlsx OUT`: what the clerk sends back to the sender.

Sheet `说明`: every file checked, what became of it and why. Then one sheet per file with
rows to correct or verify: the file's own rows as the sender delivered them (read again from
the file given, never from the warehouse: names and id numbers included, which is why the
list goes back to its sender only), each with what to do, the rules and the reasons. Written
like every export (pipeline/analysts/destination.py): never over an existing file, never into
the warehouse, archive, published copy or inbox folders.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipeline.analysts.export import to_xlsx_sheets
from pipeline.ingest.check import SEVERITY_ZH, CheckReport, FileCheck
from pipeline.ingest.extracts.delivered import delivered_rows
from pipeline.ingest.extracts.files import read_regular, recognise
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.ingest.extracts.table import FileRejected
from pipeline.period import month_label

NOTICE = ("本清单含报送单位自己填报的数据（可能有姓名、身份证号），只发回原报送单位，不要转发他人；"
          "发送后请删除本地副本。")
_SHEET_CHARS = 31


def _outcome(check: FileCheck) -> tuple[str, str]:
    if not check.recognised:
        return "未识别", check.message
    if not check.readable:
        return "整个文件不能载入", check.message
    if check.rows_rejected:
        return "有行将被剔除", f"读取 {check.rows_read} 行，将被剔除 {check.rows_rejected} 行，有提示 {check.rows_warned} 行"
    if check.findings:
        return "可以载入（有提示）", f"读取 {check.rows_read} 行，有提示 {check.rows_warned} 行"
    return "可以载入", f"读取 {check.rows_read} 行"


def _summary(report: CheckReport) -> pl.DataFrame:
    rows = []
    for check in report.files:
        result, detail = _outcome(check)
        whole = [f"{f.rule_id}：{f.message}" for f in check.findings if f.source_row is None]
        rows.append({
            "文件": check.path.name,
            "报表": KIND_LABEL_ZH.get(check.kind or "", ""),
            "月份": month_label(check.period) if check.period else "",
            "结果": result,
            "说明": "；".join([detail, *whole, *check.notes]),
        })
    rows.append({"文件": NOTICE, "报表": "", "月份": "", "结果": "", "说明": ""})
    return pl.DataFrame(rows, schema={c: pl.String for c in ("文件", "报表", "月份", "结果", "说明")})


def _rows_to_return(check: FileCheck) -> pl.DataFrame:
    """The sender's rows with a finding, as delivered, after what to do and why."""
    reasons: dict[int, list] = {}
    for finding in check.findings:
        if finding.source_row is not None:
            reasons.setdefault(finding.source_row, []).append(finding)
    name = recognise(check.path.name)
    delivered = delivered_rows(read_regular(check.path), check.kind, name.ext, check.path.name)
    why = pl.DataFrame({
        "源文件行号": list(reasons),
        "处理": ["须更正后重新报送" if any(f.severity == "R" for f in fs) else "请核实" for fs in reasons.values()],
        "规则": ["、".join(f"{f.rule_id}（{SEVERITY_ZH[f.severity]}）" for f in fs) for fs in reasons.values()],
        "原因": ["；".join(f.message for f in fs) for fs in reasons.values()],
    }, schema={"源文件行号": pl.Int64, "处理": pl.String, "规则": pl.String, "原因": pl.String})
    return why.join(delivered, on="源文件行号", how="left").sort("源文件行号")


def _sheet_name(check: FileCheck, used: set[str]) -> str:
    base = f"{KIND_LABEL_ZH[check.kind]}_{check.period}"[:_SHEET_CHARS - 3]
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}({n})"
    used.add(name)
    return name


def write_return_list(report: CheckReport, target: Path) -> int:
    """Write the list at `target` (checked by the caller with check_destination); the number
    of rows to return."""
    sheets = {"说明": _summary(report)}
    used = set(sheets)
    count = 0
    for check in report.files:
        if not check.readable or not any(f.source_row is not None for f in check.findings):
            continue
        try:
            rows = _rows_to_return(check)
        except (FileRejected, OSError):  # changed or gone since it was checked: the summary still says why
            continue
        sheets[_sheet_name(check, used)] = rows
        count += rows.height
    to_xlsx_sheets(sheets, target)
    return count
