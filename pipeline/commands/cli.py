"""`tuoyu`: the office's command line. A thin layer over the modules and the one Dagster
`Definitions`; messages for the office are in Chinese, with English after them. The Settings
are built once, from the environment and the arguments, and handed to each command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pipeline.period import last_full_month, month_count
from pipeline.settings import ConfigError, Settings

log = logging.getLogger("tuoyu")


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings of the environment (and `.env`), with what the arguments say over them."""
    settings = Settings.from_env()
    if args.verbose:
        settings = settings.with_(log_level="INFO")
    if getattr(args, "demo", False):
        settings = settings.with_(demo=True)
    return settings


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
    return _run(settings)


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
    print(f"样例数据已写入 {args.out}（{len(manifest.files)} 个文件）。Sample written to {args.out}.")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Write the sample inbox, run the whole pipeline with the published demo key. Everything
    lives in the demo folder (the Dagster instance too); the shipped county is the reference."""
    from pipeline.reference import default_reference_folder

    base = Path(args.dir).resolve()
    inbox = base / "inbox"
    if not inbox.exists():
        print(f"正在生成样例收件箱 {inbox} … Writing the sample inbox…", flush=True)
        _write_sample(inbox, default_reference_folder(), scale=1, seed=7, start="2021-09", end=last_full_month())
    settings = settings.with_(demo=True, inbox=inbox, warehouse=base / "warehouse.duckdb", reports=base / "reports",
                              reference=default_reference_folder(), dagster_home=None)
    code = _run(settings)
    print(f"数据仓库 Warehouse: {settings.warehouse}")
    print(f"报告 Reports:      {settings.reports}")
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

    return status_command(settings.warehouse, published_database(settings.warehouse),
                          through=args.through or last_full_month(), memory_limit=settings.memory_limit)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Regenerate one month's report from the warehouse as it is (no new data is loaded)."""
    from pipeline.report.render import render_report
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.lock import run_lock

    with run_lock(settings.warehouse, settings.lock_wait, on_wait=_to_stderr):
        con = connect(settings.warehouse, memory_limit=settings.memory_limit)
        try:
            result = render_report(con, args.period, settings.reports, compiler=settings.compiler)
        finally:
            con.close()
    print(f"报告已生成 Report written: {result.pdf}")
    print(f"手机摘要 Phone card: {result.card}")
    return 0


def cmd_fix(args: argparse.Namespace, settings: Settings) -> int:
    """The rows of one institution that were rejected or warned, to fix in the office's file."""
    from pipeline.analysts.destination import ExportRefused, check_destination
    from pipeline.analysts.export import format_table, to_csv
    from pipeline.validate import rows_to_fix
    from pipeline.warehouse.connection import connect

    try:
        target = check_destination(Path(args.csv), _export_protected(settings), force=args.force) if args.csv else None
        con = connect(settings.warehouse, read_only=True, memory_limit=settings.memory_limit)
        try:
            rows = rows_to_fix(con, args.institution_id, args.period)
        finally:
            con.close()
        if target is not None:
            to_csv(rows, target, replace=args.force)
    except ExportRefused as exc:
        print(f"错误 Error: {exc}", file=sys.stderr)
        return 2
    if target is not None:
        print(f"已写入 {target}（{rows.height} 行）")
    else:
        print(format_table(rows) if rows.height else f"机构 {args.institution_id} 没有需要更正的数据行。")
    return 0


def cmd_withdraw(args: argparse.Namespace, settings: Settings) -> int:
    """Withdraw a delivered file version (kept in the raw archive), then run, so that its
    month is recomputed."""
    from pipeline.ingest.withdraw import withdraw_command

    code = withdraw_command(settings, args.target, args.month, on_wait=_to_stderr)
    return code or _run(settings)


def _no_warehouse(settings: Settings) -> bool:
    if settings.warehouse.is_file():
        return False
    print(f"数据仓库 {settings.warehouse} 还不存在：请先运行 tuoyu run。Warehouse not found.", file=sys.stderr)
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
            print(f"错误 Error: {exc}", file=sys.stderr)
            return 2
        finally:
            con.close()
    again = "（已更新核实说明）" if before else ""
    print(f"已记录为“{CONFIRMED_ZH}”{again}：{flag['period']} {who_zh(flag)}，{flag['message_zh']}"
          f" 核实说明：{flag['note']}。Confirmed: {flag['flag_key']}")
    return 0


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    """The Dagster UI on 127.0.0.1 with the schedule and sensor, one run at a time, on the
    project's own instance (the one `tuoyu run` uses): `dagster dev` is started with its
    DAGSTER_HOME in its own environment."""
    from pipeline.orchestration.instance import prepare_dagster_home
    from pipeline.settings import child_environment

    home = prepare_dagster_home(settings.instance_home)
    os.execvpe("dagster", ["dagster", "dev", "-m", "pipeline.orchestration.definitions", "-h", "127.0.0.1",
                           "-p", str(args.port)], child_environment(DAGSTER_HOME=str(home)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuoyu", description="托育服务发展目标监测 — monthly childcare statistics")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO (TUOYU_LOG_LEVEL=INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="load new extracts and bring every table and report up to date")
    p.add_argument("--demo", action="store_true", help="use the published demo key (sample data only)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sample", help="write a synthetic inbox")
    p.add_argument("--out", required=True)
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", default="2021-09")
    p.add_argument("--end", default=None)
    p.add_argument("--reference", default=None)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("sql", help="a read-only query on the published copy")
    p.add_argument("query", nargs="?")
    p.add_argument("--example", help="run a query of sql/examples by name")
    p.add_argument("--examples", action="store_true", help="list the example queries")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--csv", nargs="?", const="", default=None, metavar="FILE")
    p.add_argument("--json", nargs="?", const="", default=None, metavar="FILE")
    p.add_argument("--xlsx", default=None, metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace an existing export file")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("status", help="months × kinds: received, revised, missing, rejected; the last run")
    p.add_argument("--through", default=None, help="YYYY-MM (default: last full month)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="(re)render one month's report")
    p.add_argument("--period", default=None, help="YYYY-MM (default: latest month with an institutions extract)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("fix", help="rows of one institution to fix (rejected or warned)")
    p.add_argument("institution_id")
    p.add_argument("--period", default=None)
    p.add_argument("--csv", default=None, metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace an existing export file")
    p.set_defaults(func=cmd_fix)

    p = sub.add_parser("withdraw", help="withdraw a delivered file (FILE, or KIND MONTH) and recompute its month")
    p.add_argument("target", metavar="FILE|KIND", help="the file as delivered, or 托育机构/在托幼儿/从业人员")
    p.add_argument("month", nargs="?", default=None, metavar="MONTH", help="YYYY-MM, with KIND")
    p.set_defaults(func=cmd_withdraw)

    p = sub.add_parser("quality", help="data-quality flags: list them, confirm a checked value")
    quality = p.add_subparsers(dest="quality_command", required=True)
    q = quality.add_parser("list", help="open flags (all with --all), by month")
    q.add_argument("--period", default=None, help="YYYY-MM (default: every month)")
    q.add_argument("--all", action="store_true", help="confirmed flags too")
    q.set_defaults(func=cmd_quality_list)
    q = quality.add_parser("confirm", help="record that a flagged value was checked and is genuine")
    q.add_argument("flag_key", help="the flag's key, as `tuoyu quality list` shows it")
    q.add_argument("--note", required=True, help="how it was checked (in Chinese)")
    q.set_defaults(func=cmd_quality_confirm)

    p = sub.add_parser("dev", help="start the Dagster UI (127.0.0.1) with schedule and sensor")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("demo", help="sample inbox + full run with the demo key")
    p.add_argument("--dir", default="data/demo")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = os.umask(UMASK)  # kept across `tuoyu dev`'s exec of Dagster
    try:
        settings = settings_of(args)
        _configure_logging(settings.log_level)
        return args.func(args, settings)
    except ConfigError as exc:
        print(f"错误 Error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # known, explained failures: print the message, not a traceback
        from pipeline.warehouse.lock import RunInProgress
        from pipeline.reference import ReferenceDataError
        from pipeline.warehouse.connection import WarehouseLocked

        if isinstance(exc, (ReferenceDataError, RunInProgress, WarehouseLocked)):
            print(f"错误 Error: {exc}", file=sys.stderr)
            return 2
        raise
    finally:
        os.umask(previous)


if __name__ == "__main__":
    sys.exit(main())
