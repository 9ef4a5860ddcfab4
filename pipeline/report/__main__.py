"""Render one month's report from a warehouse file (for office staff and previews).

    uv run --frozen python -m pipeline.report --warehouse data/warehouse.duckdb \
        [--period 2024-06] [--out reports] [--compiler 统计局] [--date 2024-07-10]
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

import duckdb

from pipeline.report.render import render_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report",
                                     description="Render the monthly report (PDF, PNG, XLSX).")
    parser.add_argument("--warehouse", type=Path,
                        default=Path(os.environ.get("TUOYU_WAREHOUSE", "data/warehouse.duckdb")))
    parser.add_argument("--period", help="YYYY-MM; default: the latest month with an "
                                         "institutions extract")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("TUOYU_REPORTS", "reports")))
    parser.add_argument("--compiler", default="统计局", help="编制单位 printed on the report")
    parser.add_argument("--date", type=date.fromisoformat, default=None,
                        help="编制日期 (YYYY-MM-DD); default: none printed, PDF dated the month end")
    args = parser.parse_args(argv)
    if not args.warehouse.exists():
        print(f"找不到数据仓库文件：{args.warehouse}", file=sys.stderr)
        return 2
    with duckdb.connect(str(args.warehouse)) as con:
        result = render_report(con, args.period, args.out, compiler=args.compiler,
                               generated_on=args.date)
    print(f"report {result.period}: {result.pdf}")
    print(f"card: {result.card}")
    print(f"workbook: {result.xlsx}")
    print(f"charts: {len(result.charts)} PNG in {result.charts[0].parent if result.charts else '-'}")
    print(f"revised values since the previous report: {result.revised_values}")
    print(f"{result.seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
