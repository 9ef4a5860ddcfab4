"""`tuoyu`: the office's command line. A thin layer over the modules and the one Dagster
`Definitions`; messages for the office are in Chinese, with English after them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

from pipeline.settings import ConfigError, Settings

log = logging.getLogger("tuoyu")


def _settings() -> Settings:
    from pipeline.reference import default_reference_folder

    settings = Settings.from_env()
    if settings.reference is None:
        settings = settings.with_(reference=default_reference_folder())
    return settings


def last_full_month(today: date | None = None) -> str:
    today = today or date.today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.runner import run_pipeline

    if args.demo:
        os.environ["TUOYU_DEMO"] = "1"
    outcome = run_pipeline(_settings())
    print(outcome.text())
    return 0 if outcome.success else 1


def cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.sample import generate_sample

    reference = Path(args.reference) if args.reference else _settings().reference
    manifest = generate_sample(Path(args.out), reference, scale=args.scale, seed=args.seed,
                               start=args.start, end=args.end or last_full_month(),
                               progress=lambda m: print(m, flush=True) if args.verbose else None)
    print(f"样例数据已写入 {args.out}（{len(manifest.files)} 个文件）。Sample written to {args.out}.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Write the sample inbox, run the whole pipeline with the published demo key."""
    from pipeline.reference import default_reference_folder
    from pipeline.runner import run_pipeline
    from pipeline.sample import generate_sample

    base = Path(args.dir).resolve()
    inbox = base / "inbox"
    if not inbox.exists():
        print(f"正在生成样例收件箱 {inbox} …", flush=True)
        generate_sample(inbox, default_reference_folder(), scale=1, seed=7, end=last_full_month())
    os.environ.update({
        "TUOYU_DEMO": "1",
        "TUOYU_INBOX": str(inbox),
        "TUOYU_WAREHOUSE": str(base / "warehouse.duckdb"),
        "TUOYU_REPORTS": str(base / "reports"),
    })
    os.environ.pop("TUOYU_REFERENCE", None)
    settings = Settings.from_env(load_dotenv=False).with_(reference=default_reference_folder())
    outcome = run_pipeline(settings)
    print(outcome.text())
    print(f"数据仓库 Warehouse: {settings.warehouse}")
    print(f"报告 Reports:      {settings.reports}")
    return 0 if outcome.success else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuoyu", description="托育服务发展目标监测 — monthly childcare statistics")
    parser.add_argument("-v", "--verbose", action="store_true")
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

    p = sub.add_parser("demo", help="sample inbox + full run with the demo key")
    p.add_argument("--dir", default="data/demo")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"错误 Error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
