"""`tuoyu run` on a prefecture's reference folder (docs/rollup.md): receive the counties'
bundles and build the prefecture's figures, holding the run lock, and say in Chinese what
the run did.

    is_prefecture_folder(folder) -> bool
    run_rollup(settings, progress=None, on_wait=None) -> RunOutcome
    record_build(con, reference, store) -> rows per table    the build, and what it was built from

The two steps are plain functions a Dagster job can wrap as they are: receiving one county
(`pipeline.rollup.receive.receive_county`, one partition per county; the bundles of no
county: `receive_unknown`) and the build (`record_build`, over `pipeline.rollup.build.build`),
as pipeline/orchestration/assets/rollup.py does. No pseudonym key is needed: a prefecture
holds no personal data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.commands.run import RunOutcome, cannot_run, machine_fault
from pipeline.warehouse.run_log import new_run_id, run_log
from pipeline.settings import SQL_DIR, ConfigError, Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pipeline.commands.progress import Progress
    from pipeline.reference.load import PrefectureReference
    from pipeline.rollup.receive import CountyReceipts

STATE_TABLE = "rollup.build_state"
_STATUS_ZH = {"current": "启用", "superseded": "旧版本未使用", "unchanged": "与此前相同", "rejected": "拒收"}


def bundle_store(settings: Settings) -> Path:
    """Where receiving keeps each county's verified current bundle and receipts: beside the warehouse."""
    return settings.warehouse.parent / "bundles"


def is_prefecture_folder(folder: Path | None) -> bool:
    """Whether `folder` is a prefecture's reference folder (its children are counties). A
    folder that cannot be read is not: the county's run then says what is wrong with it."""
    from pipeline.reference import ReferenceDataError, reference_kind

    if folder is None:
        return False
    try:
        return reference_kind(folder) == "prefecture"
    except (ReferenceDataError, OSError):
        return False


def _reference_message(error) -> str:
    where = error.file if error.line is None else f"{error.file} 第 {error.line} 行"
    return f"参考数据错误：{where}：{error.problem_zh}。"


def run_rollup(settings: Settings, progress: Progress | None = None,
               on_wait: Callable[[str], None] | None = None) -> RunOutcome:
    """Receive and build once, holding the run lock; never raises for a known problem."""
    from pipeline.reference import ReferenceDataError, load_prefecture_reference
    from pipeline.warehouse.connection import WarehouseLocked
    from pipeline.warehouse.lock import RunInProgress, run_lock

    try:
        reference = load_prefecture_reference(settings.reference)
        if not settings.inbox.is_dir():
            raise ConfigError(f"收件箱文件夹不存在：{settings.inbox}。请检查 TUOYU_INBOX（各县汇总包放在这里）。")
        with run_lock(settings.warehouse, settings.lock_wait, on_wait):
            # The run's log file, as a county's run has one: the English and the details the
            # terminal does not show (pipeline/warehouse/run_log.py).
            started = datetime.now().replace(microsecond=0)
            run_id = new_run_id("cli", started, str(os.getpid()))  # the log's name and audit.runs' id
            with run_log(settings.log_folder, run_id) as log_file:
                log.info("rollup run %s: inbox %s, warehouse %s, reports %s, reference %s", run_id,
                         settings.inbox, settings.warehouse, settings.reports, settings.reference)
                outcome = _run(settings, reference, progress, run_id, started)
                log.info("rollup run %s ended:\n%s", run_id, outcome.text())
            if log_file is not None:
                outcome.lines.append(f"运行日志：{log_file}")
            return outcome
    except ReferenceDataError as exc:
        return cannot_run(_reference_message(exc))
    except (ConfigError, RunInProgress, WarehouseLocked) as exc:
        return cannot_run(str(exc))
    except Exception as exc:  # a full disk, a folder not writable, a corrupt warehouse: said plainly
        return machine_fault(exc, settings)


def _run(settings: Settings, reference: PrefectureReference, progress: Progress | None, run_id: str,
         started: datetime) -> RunOutcome:
    from pipeline.commands.status import record_run
    from pipeline.marts.catalog import indicator_ids
    from pipeline.rollup.receive import receive_county, receive_unknown, scan_inbox
    from pipeline.warehouse.connection import connect, table_exists

    con = connect(settings.warehouse, memory_limit=settings.memory_limit)  # WarehouseLocked when held
    try:
        if table_exists(con, "audit", "load_log"):
            raise ConfigError(f"数据仓库 {settings.warehouse} 是县的数据仓库（有各县报表的载入记录），不能用于地市汇总。"
                              "请为地市汇总另设 TUOYU_WAREHOUSE。")
        record_run(con, run_id, started)
        store = bundle_store(settings)
        counties = reference.county_codes
        if progress is not None:
            progress.set_total(len(counties) + 1)
            progress.step("接收汇总包：查看收件箱")
        scan = scan_inbox(reference, settings.inbox, store)
        indicators = frozenset(indicator_ids())
        received: dict[str, CountyReceipts] = {}
        for code in counties:
            if progress is not None:
                progress.step(f"接收汇总包：{reference.county_name(code)}（{code}）")
            received[code] = receive_county(reference, settings.inbox, store, code,
                                            candidates=scan.by_county.get(code, []), indicators=indicators)
            if progress is not None:
                progress.advance()
        unknown = receive_unknown(reference, settings.inbox, store, candidates=scan.unknown)
        receipts = [r for c in received.values() for r in c.receipts] + unknown
        if progress is not None:
            progress.step("计算全市指标")
        fingerprint = _fingerprint(reference, received)
        rebuilt = bool(receipts) or _stored_fingerprint(con) != fingerprint
        if rebuilt:
            record_build(con, reference, store, fingerprint)
        if progress is not None:
            progress.advance()
        lines = _summary(con, reference, received, receipts, rebuilt, settings) + report_lines(con, settings, rebuilt)
        lines += publish_lines(con, settings, rebuilt)
        outcome = RunOutcome(True, lines)
        record_run(con, run_id, started, finished_at=datetime.now().replace(microsecond=0), success=True,
                   summary=outcome.text())
        return outcome
    finally:
        con.close()


def report_lines(con, settings: Settings, rebuilt: bool) -> list[str]:
    """The prefecture's report of the latest month with a prefecture value
    (pipeline/report/prefecture.py), rendered when the figures were rebuilt or its PDF is missing."""
    from pipeline.report.prefecture import latest_prefecture_period, render_prefecture_report

    period = latest_prefecture_period(con)
    if period is None:
        return ["尚无全市数值的月份，未生成地市汇总报告。"]
    pdf = settings.reports / period / f"report_{period}.pdf"
    if not rebuilt and pdf.is_file():
        return [f"地市汇总报告（数据未变，未重新生成）：{pdf}"]
    result = render_prefecture_report(con, period, settings.reports, compiler=settings.compiler)
    return [f"地市汇总报告（{period}）：{result.pdf}", f"手机摘要：{result.card}"]


def publish_lines(con, settings: Settings, rebuilt: bool) -> list[str]:
    """The published copy (pipeline/analysts/publish.py) of the prefecture's warehouse, for
    `tuoyu sql`, DuckDB and DBeaver: published again when the figures were rebuilt or it is
    missing. A prefecture's warehouse holds no personal data; the same tables as a county's."""
    from pipeline.analysts.publish import published_database, publish

    database = published_database(settings.warehouse)
    if rebuilt or not database.is_file():
        database = publish(con, settings.warehouse)
    return [f"发布副本（供 tuoyu sql、duckdb、DBeaver 查询）：{database}"]


def record_build(con, reference: PrefectureReference, store: Path, fingerprint: str | None = None) -> dict[str, int]:
    """Build the prefecture's tables (`build.build`) and record what they were built from, so
    that a later run with nothing new does not build again. The build step of `tuoyu run` and
    the Dagster asset `rollup/prefecture_marts` alike. Refuses a county's warehouse."""
    from pipeline.rollup.build import build
    from pipeline.rollup.receive import CountyReceipts, current_manifest
    from pipeline.warehouse.connection import table_exists

    if table_exists(con, "audit", "load_log"):
        raise ConfigError("这个数据仓库是县的数据仓库（有各县报表的载入记录），不能用于地市汇总。请为地市汇总另设 TUOYU_WAREHOUSE。")
    if fingerprint is None:
        fingerprint = _fingerprint(reference, {code: CountyReceipts(code, [], current_manifest(store, code))
                                               for code in reference.county_codes})
    counts = build(con, reference, store)
    con.execute(f"create or replace table {STATE_TABLE} (fingerprint varchar not null)")
    con.execute(f"insert into {STATE_TABLE} values (?)", [fingerprint])
    return counts


def _fingerprint(reference: PrefectureReference, received: dict[str, CountyReceipts]) -> str:
    """Everything the build reads but the receipts: the reference data, each county's current
    bundle, the SQL and the catalog. Unchanged, with no new receipt, means nothing to rebuild."""
    from pipeline.marts.catalog import CATALOG_PATH
    from pipeline.rollup.bundle_format import code_version

    digest = hashlib.sha256()
    digest.update(json.dumps({
        "areas": reference.areas.rows(),
        "targets": [repr(t) for t in reference.targets],
        "measures": [repr(m) for m in reference.measures],
        "share": reference.min_county_share,
        "ranked": list(reference.ranked),
        "current": {code: (c.current or {}).get("sha256") for code, c in received.items()},
        "code": code_version(),
    }, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    for path in [CATALOG_PATH, *sorted((SQL_DIR / "rollup").glob("*.sql")), *sorted((SQL_DIR / "marts").glob("*.sql"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stored_fingerprint(con) -> str | None:
    from pipeline.warehouse.connection import table_exists

    if not table_exists(con, "rollup", "build_state") or not table_exists(con, "marts", "indicator_values"):
        return None
    found = con.execute(f"select fingerprint from {STATE_TABLE}").fetchone()
    return found[0] if found else None


def _summary(con, reference: PrefectureReference, received: dict[str, CountyReceipts], receipts: list[dict],
             rebuilt: bool, settings: Settings) -> list[str]:
    """What this run did, in Chinese: the bundles it received and what became of them, each
    rejection's message, the counties without a bundle, the months."""
    counts = {status: sum(r["status"] == status for r in receipts) for status in _STATUS_ZH}
    lines = [f"地市汇总完成：{reference.prefecture_name}（{reference.prefecture_code}），"
             f"共 {len(reference.county_codes)} 个县级区划。"]
    if receipts:
        lines.append(f"本次收到汇总包 {len(receipts)} 个：" + "，".join(
            f"{label} {counts[status]} 个" for status, label in _STATUS_ZH.items()) + "。")
        for r in receipts:
            if r["status"] in ("current", "superseded"):
                name = reference.county_name(r["county_code"]) or r["county_code"]
                made_at = datetime.fromisoformat(r["made_at"]).astimezone()
                lines.append(f"  {name}：{r['bundle']}（{_STATUS_ZH[r['status']]}，生成于 {made_at:%Y-%m-%d %H:%M}）")
    else:
        lines.append("没有新的汇总包。" + ("" if rebuilt else "全市数据已是最新，未重新计算。"))
    rejected = [r for r in receipts if r["status"] == "rejected"]
    if rejected:
        lines.append("拒收的汇总包（请联系该县重新生成后发送）：")
        lines += [f"  {r['bundle']}：{r['message_zh']}" for r in rejected]
    missing = [code for code, c in received.items() if c.current is None]
    if missing:
        lines.append(f"尚未收到汇总包的县（{len(missing)} 个）："
                     + "、".join(f"{reference.county_name(c)}（{c}）" for c in missing))
    months = [p for (p,) in con.execute("select distinct period from rollup.county_periods order by period").fetchall()]
    if months:
        lines.append(f"月份：{months[0]} 至 {months[-1]}，共 {len(months)} 个月。")
        gaps = con.execute("""
            select county_name, count(*) as months, min(period), max(period)
            from rollup.county_periods
            where not in_bundle and bundle is not null
            group by county_code, county_name order by county_code
        """).fetchall()
        if gaps:
            share = reference.min_county_share
            rule = ("缺少任一县数据的月份，全市数值为“无数据”" if share >= 1
                    else f"有数据的县不足 {share:.0%} 的月份，全市数值为“无数据”")
            lines.append(f"部分县的汇总包缺少月份（{rule}）：")
            lines += [f"  {name}：缺 {n} 个月（{first} 至 {last} 之间）" if n > 1 else f"  {name}：缺 {first}"
                      for name, n, first, last in gaps[:20]]
            if len(gaps) > 20:
                lines.append(f"  另有 {len(gaps) - 20} 个县")
    else:
        lines.append("尚无任何县的汇总包，没有可计算的月份。")
    lines.append(f"汇总包收件箱：{settings.inbox}")
    lines.append(f"数据仓库：{settings.warehouse}（全市和各县的指标在 marts.indicator_values）")
    return lines
