"""Dagster's console log for runs of the pipeline, without lines the run summary explains.

When a step fails, the run's summary names it with its root message (commands/run.py).
Dagster's console logger would also print one English "Not executing" line per step skipped
after it, and, for a failed blocking asset check, the check's stack trace: noise to a clerk,
who reads it as more crashes. A file rejected by the ingest is listed by the summary with its
reason in Chinese; the ingest step's English warning about it would only repeat it. This
logger is Dagster's colored console logger without those records; every other record, a real
step failure with its stack trace included, is printed as before, and the run's event log
(`dagster dev`) keeps everything. (The pipeline's own file-trust checks do not block:
docs/decisions.md.)
"""

from __future__ import annotations

import logging

import dagster as dg

CHECK_FAILED = "DagsterAssetCheckFailedError"
FILE_REJECTED = "file rejected: "  # the ingest step's warning (orchestration/assets/ingest.py)


FAULT_METADATA = "tuoyu_fault"  # a step failed for a full disk, a folder not writable, … (resources.py)


def _fault_failure(data) -> bool:
    """Whether a step's failure (or the run's, through its first step failure) was a fault of
    the machine, which the summary says in one sentence (pipeline/warehouse/faults.py)."""
    first = getattr(data, "first_step_failure_event", None)
    if first is not None:
        data = getattr(first, "event_specific_data", None)
    failure = getattr(data, "user_failure_data", None)
    return FAULT_METADATA in (getattr(failure, "metadata", None) or {})


def explained_by_summary(record: logging.LogRecord) -> bool:
    """A record the run summary explains better: a blocking check's failure (the step's and
    the run's failure event), a step not executed because something upstream failed, a
    step's warning that a file was rejected, or a step (and so the run) stopped by a fault
    of the machine, whose stack trace would bury the one sentence that says what to do."""
    if "Not executing." in record.getMessage():
        return True
    meta = getattr(record, "dagster_meta", None) or {}
    if not isinstance(meta, dict):
        return False
    if str(meta.get("orig_message") or "").startswith(FILE_REJECTED):
        return True
    event = meta.get("dagster_event")
    data = getattr(event, "event_specific_data", None)
    if _fault_failure(data):
        return True
    error = getattr(data, "error", None)
    return getattr(error, "cls_name", None) == CHECK_FAILED


@dg.logger(
    config_schema=dg.colored_console_logger.config_schema,
    description="Dagster's colored console logger, without what the run summary explains.",
)
def console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = dg.colored_console_logger.logger_fn(init_context)
    logger.addFilter(lambda record: not explained_by_summary(record))
    return logger
