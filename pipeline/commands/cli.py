"""`tuoyu`: the office's command line. A thin layer over the modules and the one Dagster
`Definitions`; messages for the office are in Chinese, with English after them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pipeline.period import last_full_month, month_count
from pipeline.settings import ConfigError, Settings

log = logging.getLogger("tuoyu")


def _settings() -> Settings:
    from pipeline.reference import default_reference_folder

    settings = Settings.from_env()
    if settings.reference is None:
        settings = settings.with_(reference=default_reference_folder())
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


def cmd_run(args: argparse.Namespace) -> int:
    if args.demo:
        os.environ["TUOYU_DEMO"] = "1"
    return _run(_settings())




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


def cmd_sample(args: argparse.Namespace) -> int:
    reference = Path(args.reference) if args.reference else _settings().reference
    manifest = _write_sample(Path(args.out), reference, scale=args.scale, seed=args.seed,
                             start=args.start, end=args.end or last_full_month())
    print(f"样例数据已写入 {args.out}（{len(manifest.files)} 个文件）。Sample written to {args.out}.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Write the sample inbox, run the whole pipeline with the published demo key."""
    from pipeline.reference import default_reference_folder

    base = Path(args.dir).resolve()
    inbox = base / "inbox"
    if not inbox.exists():
        print(f"正在生成样例收件箱 {inbox} … Writing the sample inbox…", flush=True)
        _write_sample(inbox, default_reference_folder(), scale=1, seed=7, start="2021-09", end=last_full_month())
    os.environ.update({
        "TUOYU_DEMO": "1",
        "TUOYU_INBOX": str(inbox),
        "TUOYU_WAREHOUSE": str(base / "warehouse.duckdb"),
        "TUOYU_REPORTS": str(base / "reports"),
    })
    os.environ.pop("TUOYU_REFERENCE", None)
    settings = Settings.from_env(load_dotenv=False).with_(reference=default_reference_folder())
    code = _run(settings)
    print(f"数据仓库 Warehouse: {settings.warehouse}")
    print(f"报告 Reports:      {settings.reports}")
    return code


def cmd_sql(args: argparse.Namespace) -> int:
    from pipeline.analysts.publish import published_database
    from pipeline.analysts.query import sql_command

    fmt, output = "table", None
    for name in ("csv", "json", "xlsx"):
        value = getattr(args, name)
        if value is not None:
            fmt, output = name, (Path(value) if value not in ("", "-") else None)
    return sql_command(published_database(_settings().warehouse), query=args.query, example=args.example,
                       params=args.param, fmt=fmt, output=output, list_only=args.examples)


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.analysts.publish import published_database
    from pipeline.commands.status import status_command

    settings = _settings()
    return status_command(settings.warehouse, published_database(settings.warehouse),
                          through=args.through or last_full_month())


def cmd_report(args: argparse.Namespace) -> int:
    """Regenerate one month's report from the warehouse as it is (no new data is loaded)."""
    from pipeline.warehouse.lock import lock_wait_seconds, run_lock
    from pipeline.report.render import render_report
    from pipeline.warehouse.connection import connect

    settings = _settings()
    with run_lock(settings.warehouse, lock_wait_seconds(), on_wait=_to_stderr):
        con = connect(settings.warehouse)
        try:
            result = render_report(con, args.period, settings.reports, compiler=settings.compiler)
        finally:
            con.close()
    print(f"报告已生成 Report written: {result.pdf}")
    print(f"手机摘要 Phone card: {result.card}")
    return 0


def cmd_fix(args: argparse.Namespace) -> int:
    """The rows of one institution that were rejected or warned, to fix in the office's file."""
    from pipeline.analysts.export import format_table, to_csv
    from pipeline.validate import rows_to_fix
    from pipeline.warehouse.connection import connect

    con = connect(_settings().warehouse, read_only=True)
    try:
        rows = rows_to_fix(con, args.institution_id, args.period)
    finally:
        con.close()
    if args.csv:
        to_csv(rows, Path(args.csv))
        print(f"已写入 {args.csv}（{rows.height} 行）")
    else:
        print(format_table(rows) if rows.height else f"机构 {args.institution_id} 没有需要更正的数据行。")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    """Withdraw a delivered file version (kept in the raw archive), then run, so that its
    month is recomputed."""
    from pipeline.ingest.withdraw import withdraw_command

    settings = _settings()
    code = withdraw_command(settings, args.target, args.month, on_wait=_to_stderr)
    return code or _run(settings)


def cmd_dev(args: argparse.Namespace) -> int:
    """The Dagster UI on 127.0.0.1 with the schedule and sensor, one run at a time."""
    from pipeline.warehouse.lock import prepare_dagster_home

    home = prepare_dagster_home(Path(os.environ.get("DAGSTER_HOME", "data/dagster_home")))
    os.environ["DAGSTER_HOME"] = str(home)
    os.execvp("dagster", ["dagster", "dev", "-m", "pipeline.orchestration.definitions", "-h", "127.0.0.1", "-p", str(args.port)])


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
    p.set_defaults(func=cmd_fix)

    p = sub.add_parser("withdraw", help="withdraw a delivered file (FILE, or KIND MONTH) and recompute its month")
    p.add_argument("target", metavar="FILE|KIND", help="the file as delivered, or 托育机构/在托幼儿/从业人员")
    p.add_argument("month", nargs="?", default=None, metavar="MONTH", help="YYYY-MM, with KIND")
    p.set_defaults(func=cmd_withdraw)

    p = sub.add_parser("dev", help="start the Dagster UI (127.0.0.1) with schedule and sensor")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("demo", help="sample inbox + full run with the demo key")
    p.add_argument("--dir", default="data/demo")
    p.set_defaults(func=cmd_demo)
    return parser


def _configure_logging(verbose: bool) -> None:
    """Python logging at TUOYU_LOG_LEVEL (default WARNING; INFO with -v). The handler filters
    too, so that libraries which set their own loggers to INFO stay quiet by default."""
    name = "INFO" if verbose else os.environ.get("TUOYU_LOG_LEVEL", "").strip().upper() or "WARNING"
    level = logging.getLevelName("WARNING" if name == "WARN" else name)
    if not isinstance(level, int):
        level = logging.WARNING  # an invalid TUOYU_LOG_LEVEL is reported by `tuoyu run`
    root = logging.getLogger()
    if root.handlers:  # configured already (an embedding program, pytest): leave it alone
        return
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:  # Dagster's console log too (read by the runner)
        os.environ["TUOYU_LOG_LEVEL"] = "INFO"
    _configure_logging(args.verbose)
    try:
        return args.func(args)
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


if __name__ == "__main__":
    sys.exit(main())
