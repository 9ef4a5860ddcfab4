"""`tuoyu status` on a prefecture's reference folder: each county's current bundle, its months
and the months it lacks (rollup.county_periods), then the last run (audit.runs). Read-only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import polars as pl

from pipeline.rollup.export import month_ranges_zh


def prefecture_status(con) -> str:
    """The counties' bundles as a table in Chinese, and the last run's summary."""
    from pipeline.analysts.export import format_table
    from pipeline.commands.status import last_run
    from pipeline.warehouse.connection import table_exists

    lines = []
    if not table_exists(con, "rollup", "county_periods"):
        lines.append("地市数据仓库还没有各县汇总包的数据：请把各县汇总包放入收件箱并运行 tuoyu run。")
    else:
        rows = con.execute("""
            select county_code, any_value(county_name), any_value(bundle), any_value(bundle_made_at),
                   list(period order by period) filter (where in_bundle),
                   list(period order by period) filter (where not in_bundle)
            from rollup.county_periods group by county_code order by county_code
        """).fetchall()
        table = pl.DataFrame([{
            "县（市、区）": name, "代码": code,
            "启用的汇总包": bundle or "未收到",
            "生成时间": made_at.astimezone().strftime("%Y-%m-%d %H:%M") if made_at else "",
            "月份": month_ranges_zh(have or []) if bundle else "",
            "缺少的月份": (f"{len(lack)} 个月：{month_ranges_zh(lack)}" if lack else "无") if bundle else "全部",
        } for code, name, bundle, made_at, have, lack in rows], schema={c: pl.Utf8 for c in (
            "县（市、区）", "代码", "启用的汇总包", "生成时间", "月份", "缺少的月份")})
        lines.append("各县汇总包（地市汇总）")
        lines.append(format_table(table, max_rows=1000))
    lines.append("")
    run = last_run(con)
    if run is None:
        lines.append("最近一次运行：无记录。")
    else:
        outcome = {True: "成功", False: "失败", None: "未结束（正在运行或中途停止）"}[run.success]
        lines.append(f"最近一次运行：{run.started_at:%Y-%m-%d %H:%M} 开始，"
                     f"{run.finished_at:%Y-%m-%d %H:%M} 结束，{outcome}。" if run.finished_at else
                     f"最近一次运行：{run.started_at:%Y-%m-%d %H:%M} 开始，{outcome}。")
        if run.summary:
            lines.append(run.summary)
    return "\n".join(lines)


def prefecture_status_command(warehouse: Path, *, memory_limit: str, out: IO[str] | None = None) -> int:
    from pipeline.warehouse.connection import WarehouseLocked, connect

    out = out or sys.stdout
    try:
        con = connect(Path(warehouse), read_only=True, memory_limit=memory_limit)
    except WarehouseLocked:
        print("地市数据仓库正被占用（可能正在运行 tuoyu run）：请稍后再试。", file=sys.stderr)
        return 1
    try:
        text = prefecture_status(con)
    finally:
        con.close()
    print(text, file=out)
    return 0
