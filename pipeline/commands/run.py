"""`tuoyu run`: preflight checks with clear messages, then the Dagster job in-process on the
project's own Dagster instance, holding the run lock (`pipeline.warehouse.lock.run_lock`) from
start to end and handing it, with the run's Settings, to the job's resource; progress from the
run's events; a summary of what this run did."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.commands import unchanged
from pipeline.settings import ConfigError, Settings
from pipeline.warehouse.run_log import new_run_id, run_log
from pipeline.warehouse.lock import RunInProgress, RunLock, run_lock

if TYPE_CHECKING:
    from pipeline.commands.progress import Progress

log = logging.getLogger(__name__)

JOB_NAME = "tuoyu_pipeline"
NOTHING_REWRITTEN = "没有新的或修改过的文件，报告和发布副本已是最新，未改写任何文件。"

# exit codes of `tuoyu run`
EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2


@dataclass
class RunOutcome:
    success: bool
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None  # None: 0 on success, EXIT_FAILED otherwise

    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return EXIT_OK if self.success else EXIT_FAILED


def cannot_run(message: str) -> RunOutcome:
    """The run did not start: bad configuration or reference data, or the warehouse is busy.
    The clerk reads the Chinese; an English sentence after it goes to the log (-v)."""
    from pipeline.zh import chinese_only

    log.info("cannot run: %s", message)
    return RunOutcome(False, [f"无法运行：{chinese_only(message)}"], EXIT_CANNOT_RUN)


def refuse_prefecture_warehouse(con, settings: Settings) -> None:
    """A prefecture's warehouse (it holds rollup.*) under a county's reference folder: no
    county table is written into it (the rollup refuses a county's warehouse likewise)."""
    from pipeline.warehouse.connection import table_exists

    if table_exists(con, "rollup", "bundle_receipts") or table_exists(con, "rollup", "build_state"):
        raise ConfigError(f"数据仓库 {settings.warehouse} 是地市汇总的数据仓库（各县汇总包的汇总），不能载入县的报表。"
                          f"当前参考数据 {settings.reference} 是县的：地市汇总请把 TUOYU_REFERENCE 设为地市的参考数据文件夹；"
                          "县的数据请另设 TUOYU_WAREHOUSE。数据仓库未作任何改动。")


def machine_fault(exc: Exception, settings: Settings) -> RunOutcome:
    """A fault of the machine met by a run (a full disk, a folder not writable, a corrupt
    warehouse: pipeline/warehouse/faults.py) as the one sentence that says it; anything else
    is raised again."""
    from pipeline.warehouse.faults import explain

    fault = explain(exc, warehouse=settings.warehouse)
    if fault is None:
        raise exc
    return cannot_run(str(fault))


def preflight(settings: Settings) -> None:
    """Stop before anything is written when the run cannot complete."""
    from pipeline.reference import load_reference
    from pipeline.warehouse.connection import connect
    from pipeline.warehouse.key_guard import check_key

    key = settings.key()  # ConfigError without a key outside demo mode, or with a weak one
    load_reference(settings.reference)  # ReferenceDataError names file and line
    if not settings.inbox.is_dir():
        raise ConfigError(f"收件箱文件夹不存在：{settings.inbox}。请检查 TUOYU_INBOX（tuoyu where 显示正在使用的文件夹）。")
    if settings.warehouse.is_file():  # KeyMismatch: not the key of this warehouse's pseudonyms
        con = connect(settings.warehouse, read_only=True, memory_limit=settings.memory_limit)
        try:
            refuse_prefecture_warehouse(con, settings)
            check_key(con, key, settings.warehouse, record=False)
        finally:
            con.close()
    connect(settings.warehouse, memory_limit=settings.memory_limit).close()  # WarehouseLocked when held


# ---------------------------------------------------------------- the run


def run_pipeline(settings: Settings, *, progress: Progress | None = None,
                 on_wait: Callable[[str], None] | None = None) -> RunOutcome:
    """Run the whole job once, holding the run lock (waiting up to the settings' lock_wait);
    never raises for a known problem."""
    from pipeline.rollup.run import is_prefecture_folder, run_rollup

    if is_prefecture_folder(settings.reference):  # a prefecture over its counties' bundles: docs/rollup.md
        return run_rollup(settings, progress=progress, on_wait=on_wait)
    try:
        settings.key()  # no key, or a weak one: said before anything (the lock file too) is made
        with run_lock(settings.warehouse, settings.lock_wait, on_wait) as lock:
            return _run_pipeline(settings, lock, progress)
    except (ConfigError, RunInProgress) as exc:
        return cannot_run(str(exc))
    except Exception as exc:  # a full disk, a folder not writable, a corrupt warehouse: said plainly
        return machine_fault(exc, settings)


def _run_pipeline(settings: Settings, lock: RunLock, progress: Progress | None) -> RunOutcome:
    from pipeline.reference import ReferenceDataError
    from pipeline.warehouse.connection import WarehouseLocked

    try:
        preflight(settings)
    except (ConfigError, ReferenceDataError, WarehouseLocked) as exc:
        return cannot_run(str(exc))
    started = datetime.now().replace(microsecond=0)
    run_id = new_run_id("cli", started, str(os.getpid()))
    with run_log(settings.log_folder, run_id) as log_file:
        log.info("run %s: inbox %s, warehouse %s, reports %s, reference %s, demo %s", run_id, settings.inbox,
                 settings.warehouse, settings.reports, settings.reference, settings.demo)
        read = unchanged.sources(settings)  # what the job would read, before it reads anything
        outcome = (_unchanged(settings, run_id, started, read)
                   or _execute(settings, lock, progress, run_id, started, read))
        log.info("run %s ended:\n%s", run_id, outcome.text())
    if log_file is not None:
        outcome.lines.append(f"运行日志：{log_file}")
    return outcome


def _execute(settings: Settings, lock: RunLock, progress: Progress | None, run_id: str,
             started: datetime, read: str | None) -> RunOutcome:
    from pipeline.orchestration.definitions import build_definitions
    from pipeline.orchestration.instance import dagster_instance
    from pipeline.orchestration.resources import Tuoyu

    unchanged.forget(settings)  # before anything is written: a run killed or failed leaves no state
    _record(settings, run_id, started)
    # The job's resource is this run's own: its Settings and the lock held here.
    job = build_definitions(settings, Tuoyu(settings, lock)).resolve_job_def(JOB_NAME)
    steps = step_labels(job)
    dagster_run_id = str(uuid.uuid4())
    with dagster_instance(settings.instance_home) as instance:
        if progress is not None:
            progress.set_total(len(steps))
            instance.add_event_listener(dagster_run_id, RunProgress(progress, steps))
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_id=dagster_run_id,
            run_config={"loggers": {"console": {"config": {"log_level": settings.log_level}}}},
        )
    fault = _step_fault(result)
    reminders: list[str] = []
    if result.success:
        lines, reminders = _summary(settings, started, result)
        outcome = RunOutcome(True, ["运行完成。", *lines])
    elif fault is not None:  # not the data: the machine; no retry was made (resources.py)
        outcome = RunOutcome(False, [f"运行未完成：{fault}"], EXIT_CANNOT_RUN)
    else:
        outcome = RunOutcome(False, ["运行未完成：", *_failures(result, steps)])
    log.info("run %s (dagster run %s): %s", run_id, dagster_run_id, "complete" if result.success else "did not complete")
    _record(settings, run_id, started, outcome)
    if outcome.success:
        unchanged.remember(settings, run_id, reminders, read)  # after the last write of the run
    return outcome


def _unchanged(settings: Settings, run_id: str, started: datetime, read: str | None) -> RunOutcome | None:
    """The outcome of a run with nothing to do, when nothing has changed since the last
    complete run (pipeline/commands/unchanged.py; `read`: the digest of what the job reads,
    now); None: the job must run."""
    kept = unchanged.unchanged(settings, read)
    if kept is None:
        return None
    reminders = [str(line) for line in kept.get("reminders", [])]
    log.info("this run: loaded 0; the inbox, reference data, code, settings, warehouse and outputs are as the "
             "complete run %s left them", kept.get("run"))
    log.info("nothing new: the report and the published copy are up to date, no file was rewritten; the job "
             "was not started")
    outcome = RunOutcome(True, [
        "运行完成。",
        "本次运行：新载入 0 个文件，收件箱、参考数据和程序与上次完成的运行时相同，未重新读取。",
        NOTHING_REWRITTEN,
        *reminders,
    ])
    _record(settings, run_id, started, outcome)  # started and ended
    # audit.runs was written: the outputs' state again, the sources' as compared before
    unchanged.remember(settings, str(kept.get("run")), reminders, read)
    return outcome


# ---------------------------------------------------------------- progress from the run's events

STAGE_LABELS = {
    "ingest": "读取",
    "validate": "校验",
    "indicators": "指标",
    "quality": "数据核查",
    "reports": "报告",
    "publish": "发布",
}


@dataclass(frozen=True)
class StepLabel:
    stage: str  # e.g. "校验"
    what: str   # e.g. "audit/validated_extracts" or "检查 staffing_files_trustworthy"

    def __str__(self) -> str:
        return f"{self.stage}：{self.what}"


def step_labels(job) -> dict[str, StepLabel]:
    """{step key: label} for every step of the job, by the stage (asset group) it belongs to."""
    graph = job.asset_layer.asset_graph
    labels: dict[str, StepLabel] = {}
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:
            continue
        keys = sorted(assets_def.keys)
        checks = sorted(assets_def.check_keys)
        subject = keys[0] if keys else (checks[0].asset_key if checks else None)
        if subject is None:
            continue
        group = "publish" if subject.path[0] == "published" else graph.get(subject).group_name
        if not keys:
            what = "检查 " + ", ".join(c.name for c in checks)
        elif len(keys) == 1:
            what = keys[0].to_user_string()
        else:
            what = f"{assets_def.node_def.name}（{len(keys)} 张表）"
        labels[assets_def.node_def.name] = StepLabel(STAGE_LABELS.get(group, group), what)
    for node in job.graph.nodes:  # anything the asset graph did not name
        labels.setdefault(node.name, StepLabel("", node.name))
    return labels


# The ingest's own progress message, `reading <file>` (pipeline/ingest/load.py), as the clerk reads it.
_READING = re.compile(r"^reading ")


class RunProgress:
    """An event listener of the Dagster instance: STEP_START shows the step, STEP_SUCCESS /
    FAILURE / SKIPPED counts it done, a step's own log messages below WARNING (ingest's
    `reading <file>`) show what it is doing. Warnings reach the console through Dagster's
    console logger and are not repeated here."""

    def __init__(self, progress: Progress, steps: dict[str, StepLabel]) -> None:
        self.progress = progress
        self.steps = steps

    def __call__(self, entry: Any) -> None:
        try:
            self._handle(entry)
        except Exception:  # showing progress must never break a run
            log.debug("progress display failed", exc_info=True)

    def _handle(self, entry: Any) -> None:
        from dagster import DagsterEventType

        step = entry.step_key
        label = self.steps.get(step) if step else None
        event = entry.dagster_event
        if event is None:
            if label is not None and entry.level < logging.WARNING and entry.user_message:
                message = _READING.sub("正在读取 ", entry.user_message)
                self.progress.step(f"{label.stage}：{message}" if label.stage else message)
            return
        kind = event.event_type
        if kind == DagsterEventType.STEP_START and label is not None:
            self.progress.step(str(label))
        elif kind == DagsterEventType.STEP_UP_FOR_RETRY and label is not None:
            self.progress.step(f"{label} — 稍后重试")
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED):
            self.progress.advance()


# ---------------------------------------------------------------- what the run did


def _metadata(result, path: tuple[str, ...]) -> dict[str, Any]:
    """The plain values of the run's materialization metadata of one asset."""
    for event in result.get_asset_materialization_events():
        if event.asset_key is not None and tuple(event.asset_key.path) == path:
            metadata = event.step_materialization_data.materialization.metadata
            return {k: getattr(v, "value", v) for k, v in metadata.items()}
    return {}


def _summary(settings: Settings, started: datetime, result) -> tuple[list[str], list[str]]:
    """What this run did: the files it saw and what became of them, the rows it rejected,
    the rejected files with their reasons, and where the report and published copy are;
    and the lines of it that a later run with nothing new repeats.
    'This run' is the rows this run added to audit.load_log (loaded_at >= its start)."""
    from pipeline.analysts.publish import published_database
    from pipeline.commands.status import chinese_part
    from pipeline.warehouse.connection import connect

    con = connect(settings.warehouse, read_only=True)
    try:
        new = dict(con.execute(
            "select status, count(*) from audit.load_log where loaded_at >= ? group by status", [started]
        ).fetchall())
        loaded_files, rows_read, rows_rejected = con.execute(
            """select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_rejected), 0)
               from audit.load_log where status = 'loaded' and loaded_at >= ?""", [started]).fetchone()
        rejected = con.execute(
            """select file_path, message from audit.load_log
               where status = 'file_rejected' and loaded_at >= ? order by file_path""", [started]).fetchall()
        # the unrecognised files as the inbox is now: also those first seen by an earlier run
        unrecognised = [(p, m) for p, m in con.execute(
            """select file_path, arg_max(message, loaded_at) from audit.load_log group by file_path
               having arg_max(status, loaded_at) = 'unrecognised' order by file_path""").fetchall()
            if (settings.inbox / p).exists() or (settings.inbox / p).is_symlink()]
        vanished = con.execute(
            """select file_path, message from audit.load_log
               where status = 'vanished' and loaded_at >= ? order by file_path""", [started]).fetchall()
    finally:
        con.close()

    ingest = _metadata(result, ("staging", "extracts"))
    unchanged = int(ingest.get("files_unchanged", new.get("unchanged", 0)))
    rejected_in_inbox = int(ingest.get("files_file_rejected", len(rejected)))
    lines = [
        f"本次运行：新载入 {new.get('loaded', 0)} 个文件，"
        f"未变（此前已载入）{unchanged} 个，"
        f"旧版本未使用 {new.get('superseded', 0)} 个，"
        f"拒收 {len(rejected)} 个，"
        f"文件名无法识别 {len(unrecognised)} 个。",
    ]
    log.info("this run: loaded %s, unchanged %s, superseded %s, rejected %s, unrecognised %s",
             new.get("loaded", 0), unchanged, new.get("superseded", 0), len(rejected), len(unrecognised))
    report = _metadata(result, ("reports", "monthly_report"))
    copy = _metadata(result, ("published", "copy"))
    if loaded_files:
        lines.append(f"本次载入 {loaded_files} 个文件共 {rows_read:,} 行，其中剔除 {rows_rejected:,} 行"
                     "（某机构被剔除的数据行用 tuoyu fix <机构编码> 查看）。")
        log.info("rows loaded this run: %s, rejected: %s", rows_read, rows_rejected)
    elif "skipped" in report and "skipped" in copy:
        lines.append(NOTHING_REWRITTEN)
        log.info("nothing new: the report and the published copy are up to date, no file was rewritten")
    else:
        lines.append("没有新的或修改过的文件。")
    for path, message in [*rejected, *vanished, *unrecognised]:
        log.info("%s: %s", path, message)  # the whole message, its English sentence too
    if rejected:
        lines.append("拒收的文件（请更正后重新报送）：")
        lines += [f"  {path}：{chinese_part(message)}" for path, message in rejected]
    warnings = [e.description for e in result.get_asset_check_evaluations() if not e.passed and e.description]
    standing = {"unrecognised": unrecognised, "warnings": warnings, "pdf": report.get("pdf"),
                "period": report.get("period", ""), "database": published_database(settings.warehouse)}
    lines += _standing(earlier=rejected_in_inbox - len(rejected), vanished=vanished, **standing)
    # What a later run with nothing new says again (pipeline/commands/unchanged.py): every
    # rejected file still in the inbox is then an earlier one.
    return lines, _standing(earlier=rejected_in_inbox, vanished=[], **standing)


def _standing(*, earlier: int, vanished: list, unrecognised: list, warnings: list[str], pdf: str | None,
              period: str, database: Path) -> list[str]:
    """The summary's lines on what stands after the run: rejected files still waiting, names
    not recognised, the checks that need a look, where the report and the copy are."""
    from pipeline.commands.status import chinese_part

    lines = []
    if earlier > 0:
        lines.append(f"另有 {earlier} 个此前拒收的文件仍在收件箱，尚未重新报送（见 tuoyu status）。")
    if vanished:
        lines.append("运行中被移走、未载入的文件：")
        lines += [f"  {path}：{chinese_part(message)}" for path, message in vanished]
    if unrecognised:
        lines.append("收件箱中文件名无法识别、未读取的文件（请按提示改名后重新运行）：")
        lines += [f"  {path}：{chinese_part(message)}" for path, message in unrecognised]
    if warnings:
        lines.append("需要注意：")
        lines += [f"  {text}" for text in warnings]
    if pdf:
        lines.append(f"报告（{period}）：{pdf}")
    else:
        lines.append("尚无托育机构数据，未生成报告。")
    if database.exists():
        lines.append(f"发布副本（供 tuoyu sql、duckdb、DBeaver 查询）：{database}")
    return lines


def _root_message(error) -> str:
    """The innermost message of a Dagster error (the user's exception, not Dagster's wrapper)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    text = (getattr(error, "message", "") or "").strip()
    return " ".join(text.splitlines()[:3])


def _step_fault(result) -> str | None:
    """The sentence of a step that failed for a fault of the machine (a full disk, a folder
    not writable, a corrupt warehouse: pipeline/orchestration/resources.py), if one did."""
    from pipeline.orchestration.resources import FAULT_METADATA

    for event in result.get_step_failure_events():
        failure = event.step_failure_data.user_failure_data if event.step_failure_data else None
        if failure is not None and FAULT_METADATA in (failure.metadata or {}):
            return failure.description
    return None


def _failures(result, steps: dict[str, StepLabel]) -> list[str]:
    # A blocking check that failed explains itself, in the office's words.
    lines = [f"  {e.description}" for e in result.get_asset_check_evaluations()
             if not e.passed and e.severity.value == "ERROR" and e.description]
    if lines:
        return lines[:5]
    for event in result.get_step_failure_events():
        label = steps.get(event.step_key) or event.step_key
        error = event.step_failure_data.error if event.step_failure_data else None
        lines.append(f"  {label}: {_root_message(error) if error else event.message}")
    if not lines:
        lines = [f"  {e.message}" for e in result.all_events if e.is_failure][:5]
    return lines[:5]


def _record(settings: Settings, run_id: str, started: datetime, outcome: RunOutcome | None = None) -> None:
    """One row per run in audit.runs, for `tuoyu status`."""
    from pipeline.commands.status import record_run
    from pipeline.warehouse.connection import connect

    con = connect(settings.warehouse, memory_limit=settings.memory_limit)
    try:
        record_run(con, run_id, started,
                   finished_at=datetime.now().replace(microsecond=0) if outcome else None,
                   success=outcome.success if outcome else None,
                   summary=outcome.text() if outcome else None)
    finally:
        con.close()
