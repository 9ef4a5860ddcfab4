"""Dagster's console log for runs of the pipeline, without the noise a blocked run makes.

When a blocking check stops a run (a file that cannot be trusted), the run's summary says
so in Chinese, naming the file and what to do (runner.py). Dagster's own console logger
would print, before it, the check's failure as an English stack trace and one "Not
executing" line per skipped step: to a clerk that reads like a crash. This logger is
Dagster's colored console logger with those records left out; every other record, a real
step failure with its stack trace included, is printed as before, and the run's event log
(`dagster dev`) keeps everything.
"""

from __future__ import annotations

import logging

import dagster as dg

CHECK_FAILED = "DagsterAssetCheckFailedError"


def explained_by_summary(record: logging.LogRecord) -> bool:
    """A record the run summary explains better: a blocking check's failure (the step's and
    the run's failure event) or a step not executed because something upstream failed."""
    if "Not executing." in record.getMessage():
        return True
    meta = getattr(record, "dagster_meta", None) or {}
    event = meta.get("dagster_event") if isinstance(meta, dict) else None
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    return getattr(error, "cls_name", None) == CHECK_FAILED


@dg.logger(
    config_schema=dg.colored_console_logger.config_schema,
    description="Dagster's colored console logger, without what the run summary explains.",
)
def console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = dg.colored_console_logger.logger_fn(init_context)
    logger.addFilter(lambda record: not explained_by_summary(record))
    return logger
