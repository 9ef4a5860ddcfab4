"""rows_to_fix(): the findings of one institution, for the office to correct and resubmit; and
what `tuoyu fix` shows of them: Chinese headers, whole messages, no personal field."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl

from pipeline.ingest.extracts.spec import COLUMNS, KIND_LABEL_ZH
from pipeline.warehouse.schema import KINDS

ROWS_TO_FIX_SQL = Path(__file__).with_name("rows_to_fix.sql")
INSTITUTIONS_TO_FIX_SQL = Path(__file__).with_name("institutions_to_fix.sql")

SEVERITY_ZH = {"R": "剔除", "W": "提示"}
# What a `*_id_problem` value says, in the office's words.
ID_PROBLEM_ZH = {"missing": "未填写", "scientific": "被 Excel 改成了科学计数法", "format": "位数或字符不对",
                 "check_digit": "校验位不对"}
HIDDEN = "（不显示）"
# The columns of `tuoyu fix`, as shown and exported.
OFFICE_COLUMNS = ["月份", "报表", "源文件", "源文件行号", "级别", "规则", "说明", "行内容"]


def rows_to_fix(con: duckdb.DuckDBPyConnection, institution_id: str, period: str | None = None) -> pl.DataFrame:
    """Rejected and warned rows of one institution in the current files (optionally one month);
    the id is matched without regard to case or surrounding spaces.

    Columns: period, kind, file_path (from the load log), row_number, source_row (the line or
    sheet row the office sees), severity, rule_id, message (Chinese), row_values (JSON text,
    id numbers as pseudonyms).
    """
    query = ROWS_TO_FIX_SQL.read_text(encoding="utf-8")
    return con.execute(query, {"institution_id": institution_id, "period": period}).pl()


def institutions_to_fix(con: duckdb.DuckDBPyConnection, period: str | None = None) -> pl.DataFrame:
    """The institutions with rows to fix: 机构编码, 机构名称, 剔除行数, 提示行数, 涉及月份."""
    query = INSTITUTIONS_TO_FIX_SQL.read_text(encoding="utf-8")
    rows = con.execute(query, {"period": period}).pl()
    months = [first if first == last else f"{first} 至 {last}"
              for first, last in zip(rows["first_period"], rows["last_period"], strict=True)]
    return pl.DataFrame({"机构编码": rows["institution_id"], "机构名称": rows["name"],
                         "剔除行数": rows["rejected"], "提示行数": rows["warned"], "涉及月份": months},
                        schema={"机构编码": pl.String, "机构名称": pl.String, "剔除行数": pl.Int64,
                                "提示行数": pl.Int64, "涉及月份": pl.String})


def institution_known(con: duckdb.DuckDBPyConnection, institution_id: str) -> bool:
    """Whether any delivered row (of any kind, any month) names this institution."""
    union = " union all ".join(
        f"select 1 from staging.{kind} where upper(trim(institution_id)) = upper(trim($id))" for kind in KINDS)
    return con.execute(f"select exists ({union})", {"id": institution_id}).fetchone()[0]


def _headers() -> dict[str, str]:
    """{staging column: the header the office wrote}, `_raw` columns under their value's header."""
    headers = {}
    for columns in COLUMNS.values():
        for column in columns:
            headers[column.name] = headers[f"{column.name}_raw"] = column.header
    return headers


def row_text(row_values: str | None, kind: str) -> str:
    """A finding's row as `表头=值；…`: the cells as written, except the id number, shown only as
    hidden (with what is wrong with it, if anything); names were never kept."""
    if not row_values:
        return ""
    values = json.loads(row_values) if isinstance(row_values, str) else row_values
    headers = _headers()
    id_header = next((c.header for c in COLUMNS.get(kind, ()) if c.type == "id"), "身份证号")
    cells = []
    for name, value in values.items():
        if name.endswith("_pseudonym"):
            continue  # shown with the id problem below, as hidden
        if name.endswith("_id_problem"):
            problem = ID_PROBLEM_ZH.get(value, value) if value else None
            cells.append(f"{id_header}={HIDDEN}" + (f"（{problem}）" if problem else ""))
            continue
        cells.append(f"{headers.get(name, name)}={'' if value is None else value}")
    return "；".join(cells)


def for_the_office(rows: pl.DataFrame) -> pl.DataFrame:
    """`rows_to_fix` as the office reads it: Chinese headers and values, no pseudonym."""
    return pl.DataFrame({
        "月份": rows["period"],
        "报表": [KIND_LABEL_ZH.get(k, k) for k in rows["kind"]],
        "源文件": rows["file_path"],
        "源文件行号": rows["source_row"],
        "级别": [SEVERITY_ZH.get(s, s) for s in rows["severity"]],
        "规则": rows["rule_id"],
        "说明": rows["message"],
        "行内容": [row_text(v, k) for v, k in zip(rows["row_values"], rows["kind"], strict=True)],
    }, schema={"月份": pl.String, "报表": pl.String, "源文件": pl.String, "源文件行号": pl.Int64, "级别": pl.String,
               "规则": pl.String, "说明": pl.String, "行内容": pl.String})


def format_rows_to_fix(institution_id: str, rows: pl.DataFrame) -> str:
    """The office's rows (`for_the_office`) as text: one block per row, nothing cut."""
    rejected = rows.filter(pl.col("级别") == "剔除").height
    lines = [f"机构 {institution_id} 需要更正的数据行：共 {rows.height} 行（剔除 {rejected} 行，提示 {rows.height - rejected} 行）。",
             "“剔除”的行未计入统计，请在报送文件中改正后重新报送整月文件；“提示”的行已计入，请核实。", ""]
    for number, row in enumerate(rows.iter_rows(named=True), 1):
        lines.append(f"{number}. 月份 {row['月份']}  报表 {row['报表']}  源文件 {row['源文件']}  "
                     f"源文件行号 {row['源文件行号']}  级别 {row['级别']}  规则 {row['规则']}")
        lines.append(f"   说明：{row['说明']}")
        if row["行内容"]:
            lines.append(f"   行内容：{row['行内容']}")
    return "\n".join(lines)
