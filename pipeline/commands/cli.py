"""`tuoyu`: the office's command line. A thin layer over the modules and the one Dagster
`Definitions`; messages for the office are in Chinese, with English after them. The Settings
are built once, from the environment and the arguments, and handed to each command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pipeline.commands.console import ChineseArgumentParser, period_argument, require_warehouse
from pipeline.period import last_full_month, month_count
from pipeline.settings import DEMO_DIR, ConfigError, Settings

log = logging.getLogger("tuoyu")


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings of the environment (and `.env`), with what the arguments say over them."""
    settings = Settings.from_env()
    if args.verbose:
        settings = settings.with_(log_level="INFO")
    if getattr(args, "demo", False):
        settings = settings.with_(demo=True)
    if getattr(args, "demo_folder", False):
        settings = demo_settings(settings, DEMO_DIR)
    return settings


def demo_settings(settings: Settings, base: Path) -> Settings:
    """The demo's own folders under `base` (the Dagster instance too), the published demo key
    and the shipped county: what `tuoyu demo` writes and `tuoyu --demo <command>` reads."""
    from pipeline.reference import default_reference_folder

    base = Path(base).resolve()
    return settings.with_(demo=True, pseudonym_key=None, inbox=base / "inbox", warehouse=base / "warehouse.duckdb",
                          reports=base / "reports", reference=default_reference_folder(), dagster_home=None)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(settings: Settings) -> int:
    """The whole pipeline once, with progress on stderr; the outcome on stdout (stderr when
    the run did not complete)."""
    from pipeline.commands.progress import Progress
    from pipeline.commands.run import run_pipeline

    progress = Progress(0)
    with progress.keep_lines_apart():
        outcome = run_pipeline(settings, progress=progress, on_wait=_to_stderr)
    progress.close()
    print(outcome.text(), file=sys.stdout if outcome.success else sys.stderr, flush=True)
    return outcome.code


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "demo_folder", False):
        refuse_foreign_files(settings.inbox)
    return _run(settings)


def refuse_foreign_files(inbox: Path) -> None:
    """Stop the demo before anything is written when its inbox holds a file the sample did not write."""
    from pipeline.commands.demo import check_demo_inbox

    check_demo_inbox(inbox)


def cmd_where(args: argparse.Namespace, settings: Settings) -> int:
    """The folders and the county in use, and where each setting comes from; nothing is created."""
    from pipeline.commands.where import DEMO_SOURCE, where_command
    from pipeline.settings import setting_sources

    sources = setting_sources()
    if getattr(args, "demo_folder", False):
        sources.update(dict.fromkeys(("inbox", "warehouse", "reports", "reference", "pseudonym_key", "demo"),
                                     DEMO_SOURCE))
    return where_command(settings, sources)


def _write_sample(out: Path, reference: Path, *, scale: int, seed: int, start: str, end: str):
    """`generate_sample` with a progress bar (or a line per month) on stderr."""
    from pipeline.commands.progress import Progress
    from pipeline.sample import generate_sample

    try:
        months = month_count(start, end)
    except ValueError:  # generate_sample explains a malformed month
        months = 0
    progress = Progress(months)

    def month_written(message: str) -> None:  # called once per month, after it is written
        progress.advance()
        progress.step(message)

    with progress.keep_lines_apart():
        manifest = generate_sample(out, reference, scale=scale, seed=seed, start=start, end=end,
                                   progress=month_written)
    progress.close()
    return manifest


def cmd_sample(args: argparse.Namespace, settings: Settings) -> int:
    reference = Path(args.reference) if args.reference else settings.reference
    manifest = _write_sample(Path(args.out), reference, scale=args.scale, seed=args.seed,
                             start=args.start, end=args.end or last_full_month())
    print(f"样例数据已写入 {args.out}（{len(manifest.files)} 个文件）。")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Write the sample inbox, run the whole pipeline with the published demo key. Everything
    lives in the demo folder (the Dagster instance too); the shipped county is the reference."""
    settings = demo_settings(settings, Path(args.dir))
    if settings.inbox.exists():
        refuse_foreign_files(settings.inbox)
    else:
        print(f"正在生成样例收件箱 {settings.inbox} …", flush=True)
        _write_sample(settings.inbox, settings.reference, scale=1, seed=7, start="2021-09", end=last_full_month())
    code = _run(settings)
    print(f"数据仓库：{settings.warehouse}")
    print(f"报告：    {settings.reports}")
    if Path(args.dir).resolve() == DEMO_DIR.resolve():
        print("查看演示数据：在任何命令前加 --demo，如 tuoyu --demo status、tuoyu --demo sql --examples、"
              "tuoyu --demo fix。")
    else:
        print(f"查看演示数据：TUOYU_DEMO=1 TUOYU_INBOX={settings.inbox} TUOYU_WAREHOUSE={settings.warehouse} "
              f"TUOYU_REPORTS={settings.reports} tuoyu status")
    return code


def _export_protected(settings: Settings) -> list[Path]:
    """The folders no export may be written into (pipeline/analysts/destination.py)."""
    from pipeline.analysts.destination import protected_folders
    from pipeline.analysts.publish import published_folder

    return protected_folders(settings.warehouse, settings.archive, published_folder(settings.warehouse),
                             settings.inbox)


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.analysts.publish import published_database
    from pipeline.analysts.query import QueryLimits, sql_command

    if not args.examples:
        require_warehouse(settings.warehouse)
    if args.example:
        from pipeline.rollup.run import is_prefecture_folder

        if is_prefecture_folder(settings.reference):
            raise ConfigError(
                "示例查询（--example）是县的数据表上的查询，地市汇总没有这些表。地市汇总请直接查询，如 "
                "tuoyu sql \"select * from marts.indicator_values_zh limit 20\"（全市和各县的指标）、"
                "tuoyu sql \"select * from rollup.bundle_receipts\"（汇总包接收记录）。")
    fmt, output = "table", None
    for name in ("csv", "json", "xlsx"):
        value = getattr(args, name)
        if value is not None:
            fmt, output = name, (Path(value) if value not in ("", "-") else None)
    return sql_command(published_database(settings.warehouse), query=args.query, example=args.example,
                       params=args.param, fmt=fmt, output=output, force=args.force,
                       protected=_export_protected(settings),
                       limits=QueryLimits(settings.sql_timeout, settings.sql_memory_limit),
                       list_only=args.examples)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.analysts.publish import published_database
    from pipeline.commands.status import status_command

    from pipeline.rollup.run import is_prefecture_folder

    require_warehouse(settings.warehouse)
    if is_prefecture_folder(settings.reference):  # the counties' bundles, not a county's extracts
        from pipeline.rollup.status import prefecture_status_command

        return prefecture_status_command(settings.warehouse, memory_limit=settings.memory_limit)
    return status_command(settings.warehouse, published_database(settings.warehouse),
                          through=args.through or last_full_month(), first=args.first,
                          memory_limit=settings.memory_limit, inbox=settings.inbox)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Regenerate one month's report from the warehouse as it is (no new data is loaded)."""
    from pipeline.report.render import render_report
    from pipeline.rollup.run import is_prefecture_folder
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.lock import run_lock

    require_warehouse(settings.warehouse)
    if is_prefecture_folder(settings.reference):  # the prefecture's report over its counties: docs/rollup.md §7
        return _prefecture_report(args, settings)
    with run_lock(settings.warehouse, settings.lock_wait, on_wait=_to_stderr):
        con = connect(settings.warehouse, memory_limit=settings.memory_limit)
        try:
            _require_month(report_months(con), args.period,
                           none="还没有载入任何托育机构报表，无法生成报告：请先把报表放入收件箱并运行 tuoyu run。",
                           missing="没有已载入的托育机构报表，无法生成该月报告")
            result = render_report(con, args.period, settings.reports, compiler=settings.compiler,
                                   demo=settings.demo_key_in_use)
        finally:
            con.close()
    print(f"报告已生成：{result.pdf}")
    print(f"手机摘要：{result.card}")
    return 0


def _require_month(months: list[str], period: str | None, *, none: str, missing: str) -> None:
    """`tuoyu report`: months with data, and the one asked for among them (None: the latest)."""
    if not months:
        raise ConfigError(none)
    if period is not None and period not in months:
        raise ConfigError(f"{period} {missing}。有数据的月份：{months[0]} 至 {months[-1]}。")


def _prefecture_report(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.report.prefecture import prefecture_months, render_prefecture_report
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.lock import run_lock

    with run_lock(settings.warehouse, settings.lock_wait, on_wait=_to_stderr):
        con = connect(settings.warehouse, memory_limit=settings.memory_limit)  # the report records what it printed
        try:
            _require_month(prefecture_months(con), args.period,
                           none="地市数据仓库还没有任何县的汇总包数据，无法生成报告：请先把各县汇总包放入收件箱并运行 tuoyu run。",
                           missing="不在任何县的汇总包中，无法生成该月报告")
            result = render_prefecture_report(con, args.period, settings.reports, compiler=settings.compiler)
        finally:
            con.close()
    print(f"地市汇总报告已生成：{result.pdf}")
    print(f"手机摘要：{result.card}")
    return 0


def report_months(con) -> list[str]:
    """The months a report can be rendered for: those with an institutions extract in use."""
    return [p for (p,) in con.execute(
        "select distinct period from audit.load_log where status = 'loaded' and kind = 'institutions' order by 1"
    ).fetchall()]


def cmd_fix(args: argparse.Namespace, settings: Settings) -> int:
    """The rows of one institution that were rejected or warned, to fix in the office's file;
    without an institution, the institutions that have such rows."""
    from pipeline.analysts.destination import ExportRefused, check_destination
    from pipeline.analysts.export import format_table, to_csv
    from pipeline.validate.fix import (for_the_office, format_rows_to_fix, institution_known, institutions_to_fix,
                                       rows_to_fix)
    from pipeline.warehouse.connection import connect

    require_warehouse(settings.warehouse)
    institution = args.institution_id.strip().upper() if args.institution_id else None
    month = f"{args.period} " if args.period else ""
    try:
        target = check_destination(Path(args.csv), _export_protected(settings), force=args.force) if args.csv else None
        con = connect(settings.warehouse, read_only=True, memory_limit=settings.memory_limit)
        try:
            if institution is None:
                table = institutions_to_fix(con, args.period)
            elif institution_known(con, institution):
                table = for_the_office(rows_to_fix(con, institution, args.period))
            else:
                table = None
        finally:
            con.close()
        if table is None:
            print(f"机构编码 {institution} 不在任何已载入的报表中：请核对编码（如 JG0001）。"
                  "不写机构编码运行 tuoyu fix，可列出有待更正数据的机构。", file=sys.stderr)
            return 1
        if target is not None:
            to_csv(table, target, replace=args.force)
    except ExportRefused as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    if target is not None:
        print(f"已写入 {target}（{table.height} 行）")
    elif table.is_empty():
        print(f"机构 {institution} {month}没有需要更正的数据行。" if institution else f"{month}没有需要更正的数据行。")
    elif institution is None:
        print(f"{month}有需要更正的数据行的机构 {table.height} 个：")
        print(format_table(table, max_rows=1000))
        print("查看某机构的数据行：tuoyu fix <机构编码>（可加 --period 2024-06，或 --csv 待更正.csv 导出）。")
    else:
        print(format_rows_to_fix(institution, table))
    return 0


def cmd_template(args: argparse.Namespace, settings: Settings) -> int:
    """The three extracts' blank templates for the units that send them."""
    from pipeline.analysts.destination import ExportRefused
    from pipeline.templates import write_templates

    try:
        written = write_templates(Path(args.out), settings.reference, args.month, _export_protected(settings))
    except (ExportRefused, ValueError) as exc:
        _error(exc)
        return 2
    for path in written:
        print(f"模板已写入：{path}")
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """What loading the given files would do, without loading anything."""
    from pipeline.ingest.check import check_command

    return check_command(args.files, settings, xlsx=args.xlsx, protected=_export_protected(settings))


def cmd_withdraw(args: argparse.Namespace, settings: Settings) -> int:
    """Withdraw a delivered file version (kept in the raw archive), then run, so that its
    month is recomputed."""
    from pipeline.ingest.withdraw import withdraw_command

    if getattr(args, "demo_folder", False):
        refuse_foreign_files(settings.inbox)
    code = withdraw_command(settings, args.target, args.month, on_wait=_to_stderr)
    return code or _run(settings)


def _no_warehouse(settings: Settings) -> bool:
    if settings.warehouse.is_file():
        return False
    print(f"数据仓库 {settings.warehouse} 还不存在：请先运行 tuoyu run。", file=sys.stderr)
    return True


def cmd_quality_list(args: argparse.Namespace, settings: Settings) -> int:
    """The data-quality flags (marts.quality_flags): open ones, or all with --all."""
    from pipeline.marts.quality import format_flags, read_flags
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.lock import run_lock

    if _no_warehouse(settings):
        return 1
    with run_lock(settings.warehouse, settings.lock_wait, on_wait=_to_stderr):
        con = connect(settings.warehouse, read_only=True, memory_limit=settings.memory_limit)
        try:
            flags = read_flags(con, args.period, include_confirmed=args.all)
        finally:
            con.close()
    print(format_flags(flags, args.period, args.all))
    return 0


def cmd_quality_confirm(args: argparse.Namespace, settings: Settings) -> int:
    """Record that a flagged value was checked and is genuine (audit.quality_confirmations)."""
    from pipeline.marts.quality import CONFIRMED_ZH, UnknownFlag, confirm_flag, who_zh
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.lock import run_lock

    if _no_warehouse(settings):
        return 1
    with run_lock(settings.warehouse, settings.lock_wait, on_wait=_to_stderr):
        con = connect(settings.warehouse, memory_limit=settings.memory_limit)
        try:
            flag, before = confirm_flag(con, args.flag_key, args.note)
        except (UnknownFlag, ValueError) as exc:
            _error(exc)
            return 2
        finally:
            con.close()
    again = "（已更新核实说明）" if before else ""
    print(f"已记录为“{CONFIRMED_ZH}”{again}：{flag['period']} {who_zh(flag)}，{flag['message_zh']}"
          f" 核实说明：{flag['note']}。")
    return 0


def cmd_export_bundle(args: argparse.Namespace, settings: Settings) -> int:
    """The county's aggregate bundle for the prefecture (docs/rollup.md): figures only."""
    from pipeline.rollup.bundle_format import read_bundle
    from pipeline.rollup.export import BundleExportError, describe_zh, export_bundle

    try:
        path = export_bundle(settings, Path(args.out) if args.out else None,
                             protected=_export_protected(settings), on_wait=_to_stderr)
    except BundleExportError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(describe_zh(path, read_bundle(path)))  # read back: what is sent is what a prefecture accepts
    return 0


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    """The Dagster UI on 127.0.0.1 with the schedule and sensor, one run at a time, on the
    project's own instance (the one `tuoyu run` uses): `dagster dev` is started with its
    DAGSTER_HOME in its own environment."""
    from pipeline.orchestration.instance import prepare_dagster_home
    from pipeline.settings import VARIABLES, child_environment

    from pipeline.rollup.run import is_prefecture_folder

    home = prepare_dagster_home(settings.instance_home, prefecture=is_prefecture_folder(settings.reference))
    # beside this Python: the project's `dagster`, also when .venv/bin is not on the PATH (./tuoyu)
    dagster = Path(sys.executable).with_name("dagster")
    env = child_environment(**settings.folders_environment(), DAGSTER_HOME=str(home))
    if settings.pseudonym_key is None:  # `--demo`: the demo key, never the office's
        env.pop(VARIABLES["pseudonym_key"], None)
    os.execvpe(str(dagster), ["dagster", "dev", "-m", "pipeline.orchestration.definitions", "-h", "127.0.0.1",
                           "-p", str(args.port)], env)


def build_parser() -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(
        prog="tuoyu", description="托育服务发展目标监测：每月载入三类报表，校验、计算指标、生成报告。",
        epilog="每个命令的说明：tuoyu <命令> --help。看 make demo 的演示数据：tuoyu --demo status。")
    parser.add_argument("-v", "--verbose", action="store_true", help="显示详细日志（英文，供维护人员排查问题）")
    parser.add_argument("--demo", dest="demo_folder", action="store_true",
                        help=f"使用 make demo 的演示数据（{DEMO_DIR} 下的收件箱、数据仓库和报告，公开的演示密钥）")
    sub = parser.add_subparsers(dest="command", required=True, title="命令", metavar="<命令>")

    p = sub.add_parser("run", help="载入新报表，更新全部数据表、报告和发布副本")
    p.add_argument("--demo", action="store_true", help="使用公开的演示密钥（仅限样例数据）")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("where", help="正在使用的文件夹（收件箱、数据仓库、报告等）和县，以及各项设置的来源")
    p.set_defaults(func=cmd_where)

    p = sub.add_parser("sample", help="生成一个样例收件箱（虚构数据）")
    p.add_argument("--out", required=True, metavar="文件夹", help="写入的文件夹")
    p.add_argument("--scale", type=int, default=1, help="规模倍数（默认 1）")
    p.add_argument("--seed", type=int, default=7, help="随机种子（默认 7）")
    p.add_argument("--start", default="2021-09", help="起始月份（默认 2021-09）")
    p.add_argument("--end", default=None, help="结束月份（默认上个月）")
    p.add_argument("--reference", default=None, metavar="文件夹", help="参考数据文件夹（默认随附的青州市）")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("sql", help="在发布副本上执行一条只读查询")
    p.add_argument("query", nargs="?", metavar="查询", help="一条 select 语句")
    p.add_argument("--example", metavar="名称", help="执行 sql/examples 中的一条常用查询")
    p.add_argument("--examples", action="store_true", help="列出常用查询")
    p.add_argument("--param", action="append", default=[], metavar="名称=值", help="常用查询的参数")
    p.add_argument("--csv", nargs="?", const="", default=None, metavar="文件", help="导出为 CSV")
    p.add_argument("--json", nargs="?", const="", default=None, metavar="文件", help="导出为 JSON")
    p.add_argument("--xlsx", default=None, metavar="文件", help="导出为 Excel")
    p.add_argument("--force", action="store_true", help="替换已有的导出文件")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("status", help="各月三类报表的接收情况，以及最近一次运行")
    p.add_argument("--from", dest="first", type=period_argument, default=None, metavar="月份",
                   help="从该月起列出（默认：第一个收到报表的月份）")
    p.add_argument("--through", type=period_argument, default=None, metavar="月份", help="列到该月（默认上个月）")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="重新生成某月的报告")
    p.add_argument("--period", type=period_argument, default=None, metavar="月份",
                   help="如 2024-06（默认：最近一个有托育机构报表的月份）")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("fix", help="某机构需要更正的数据行（不写机构编码时列出有待更正数据的机构）")
    p.add_argument("institution_id", nargs="?", default=None, metavar="机构编码", help="如 JG0001")
    p.add_argument("--period", type=period_argument, default=None, metavar="月份", help="只看该月")
    p.add_argument("--csv", default=None, metavar="文件", help="导出为 CSV")
    p.add_argument("--force", action="store_true", help="替换已有的导出文件")
    p.set_defaults(func=cmd_fix)

    p = sub.add_parser("withdraw", help="撤回报送错的文件（文件名，或报表类别和月份），并重算该月")
    p.add_argument("target", metavar="文件|报表类别", help="收件箱中的文件，或 托育机构/在托幼儿/从业人员")
    p.add_argument("month", nargs="?", default=None, metavar="月份", help="与报表类别一起写，如 2024-07")
    p.set_defaults(func=cmd_withdraw)

    p = sub.add_parser("template", help="生成三类报表的空白 Excel 模板（带下拉列表），发给报送单位")
    p.add_argument("--out", default=".", metavar="文件夹", help="已有的文件夹（默认：当前文件夹）")
    p.add_argument("--month", default=None, metavar="YYYY-MM", help="报表月份（默认：文件名中写 YYYY-MM）")
    p.set_defaults(func=cmd_template)

    p = sub.add_parser("check", help="像正式运行一样检查报表文件，但不载入任何数据")
    p.add_argument("files", nargs="+", metavar="文件")
    p.add_argument("--xlsx", default=None, metavar="输出文件", help="写出退回修改清单（发回报送单位）")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("quality", help="数据核查提示：列出待核实的提示，登记已核实的数值")
    quality = p.add_subparsers(dest="quality_command", required=True)
    q = quality.add_parser("list", help="待核实的提示（加 --all 含已核实的），按月份")
    q.add_argument("--period", default=None, metavar="YYYY-MM", help="月份（默认：全部月份）")
    q.add_argument("--all", action="store_true", help="也列出已核实的提示")
    q.set_defaults(func=cmd_quality_list)
    q = quality.add_parser("confirm", help="登记某条提示的数值已核实无误")
    q.add_argument("flag_key", metavar="提示编号", help="提示的编号，见 tuoyu quality list")
    q.add_argument("--note", required=True, metavar="说明", help="如何核实的")
    q.set_defaults(func=cmd_quality_confirm)

    p = sub.add_parser("export-bundle", help="生成报送地市的汇总包（只有汇总数，没有逐条数据）")
    p.add_argument("--out", default=None, metavar="文件夹",
                   help="写入的已有文件夹（默认：报告文件夹下的 bundles 文件夹）")
    p.set_defaults(func=cmd_export_bundle)

    p = sub.add_parser("dev", help="启动 Dagster 界面（仅本机 127.0.0.1），含定时任务和收件箱监测")
    p.add_argument("--port", type=int, default=3000, help="端口（默认 3000）")
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("demo", help="生成样例收件箱，并用演示密钥完整运行一遍")
    p.add_argument("--dir", default=str(DEMO_DIR), metavar="文件夹", help=f"演示文件夹（默认 {DEMO_DIR}）")
    p.set_defaults(func=cmd_demo)
    return parser


def _configure_logging(level_name: str) -> None:
    """Python logging at the settings' log level (TUOYU_LOG_LEVEL, default WARNING; INFO with
    -v). The handler filters too, so that libraries which set their own loggers to INFO stay
    quiet by default."""
    level = logging.getLevelName(level_name)
    root = logging.getLogger()
    if root.handlers:  # configured already (an embedding program, pytest): leave it alone
        return
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.setLevel(level)


# Everything tuoyu writes is its owner's only unless it says otherwise: the warehouse's
# write-ahead log and spill files, which DuckDB creates with the process's umask, included.
# What is meant to be shared sets its own mode: the published copy 0440 (folders 0750),
# report files 0644 (docs/decisions.md).
UMASK = 0o077


def _error(exc: object) -> None:
    """A stopping problem: its Chinese sentence on the terminal, the whole message in the log (-v)."""
    from pipeline.zh import chinese_only

    log.info("%s", exc)
    print(f"错误：{chinese_only(str(exc))}", file=sys.stderr)


# The commands of a county's own data; on a prefecture's reference folder they say so.
COUNTY_ONLY = {
    "fix": "地市没有逐行数据，需要更正的数据行由各县用 tuoyu fix 查看",
    "export-bundle": "地市不生成汇总包，而是接收各县的汇总包",
    "withdraw": "汇总包不需要撤回：该县重新生成的汇总包会替换旧的",
    "template": "报表模板由各县发给本县的报送单位",
    "check": "各县的汇总包在 tuoyu run 时逐个检查",
    "quality": "数据核查提示由各县核实；各县的数据质量见地市汇总报告",
}


def refuse_on_prefecture(args: argparse.Namespace, settings: Settings) -> None:
    """A county's command on a prefecture's reference folder: say so, before anything is read."""
    from pipeline.rollup.run import is_prefecture_folder

    if args.command in COUNTY_ONLY and is_prefecture_folder(settings.reference):
        raise ConfigError(
            f"tuoyu {args.command} 只用于县（市、区）的数据：参考数据 {settings.reference} 是地市的（地市汇总），"
            f"{COUNTY_ONLY[args.command]}。地市汇总可用的命令：tuoyu run、status、report、sql、where、dev。")


def require_demo(args: argparse.Namespace, settings: Settings) -> None:
    """`tuoyu --demo <command>` before the demo was made: say how to make it (not "add --demo")."""
    if not getattr(args, "demo_folder", False) or args.command in ("demo", "where", "sample", "template", "dev"):
        return
    if args.command == "sql" and args.examples:  # the list of examples needs no data
        return
    made = settings.inbox.is_dir() if args.command in ("run", "check") else settings.warehouse.is_file()
    if not made:
        raise ConfigError(f"还没有演示数据（{DEMO_DIR}）：请先运行 tuoyu demo（在项目目录下也可运行 make demo），"
                          f"再用 tuoyu --demo {args.command}。用 tuoyu demo --dir 生成在别处的演示数据，"
                          "请按 tuoyu demo 最后一行的提示设置 TUOYU_INBOX、TUOYU_WAREHOUSE 和 TUOYU_REPORTS 后查看。")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a usage error: Chinese message, exit 2
    previous = os.umask(UMASK)  # kept across `tuoyu dev`'s exec of Dagster
    settings = None
    try:
        settings = settings_of(args)
        _configure_logging(settings.log_level)
        require_demo(args, settings)
        refuse_on_prefecture(args, settings)
        return args.func(args, settings)
    except ConfigError as exc:
        _error(exc)
        return 2
    except Exception as exc:  # known, explained failures: print the message, not a traceback
        from pipeline.warehouse.lock import RunInProgress
        from pipeline.reference import ReferenceDataError
        from pipeline.warehouse.connection import WarehouseLocked

        if isinstance(exc, (ReferenceDataError, RunInProgress, WarehouseLocked)):
            _error(exc)
            return 2
        from pipeline.warehouse.faults import explain

        fault = explain(exc, warehouse=settings.warehouse if settings else None)
        if fault is not None:  # a full disk, a folder not writable, a corrupt file (warehouse/faults.py)
            _error(fault)
            return 2
        if args.verbose:
            raise
        print(f"出错了，命令未完成：{type(exc).__name__}: {exc}\n"
              "请加 -v 重新运行（如 tuoyu -v status），把显示的全部内容发给维护人员。", file=sys.stderr)
        return 1
    finally:
        os.umask(previous)


if __name__ == "__main__":
    sys.exit(main())
