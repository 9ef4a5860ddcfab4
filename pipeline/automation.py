"""When the pipeline runs by itself: a monthly schedule and a sensor on the inbox.

Both start the same job as `tuoyu run`, so every route to a figure is the same code.
"""


import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

import dagster as dg

from pipeline.extracts.files import recognise, sha256_of
from pipeline.settings import Settings

# The office's reporting rhythm: extracts for a month arrive in the first days of the next,
# so the 5th at 08:00 Beijing time runs the whole pipeline and the report for the previous
# month. TUOYU_SCHEDULE_CRON changes it (read when Dagster loads the definitions).
DEFAULT_CRON = "0 8 5 * *"
TIMEZONE = "Asia/Shanghai"


def previous_month(moment: datetime) -> str:
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def build_schedule(job) -> dg.ScheduleDefinition:
    cron = os.environ.get("TUOYU_SCHEDULE_CRON", DEFAULT_CRON)

    @dg.schedule(job=job, cron_schedule=cron, execution_timezone=TIMEZONE, name="monthly_pipeline",
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Every month (default: the 5th, 08:00 Asia/Shanghai): the whole pipeline and "
                             "the report for the previous month.")
    def monthly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        period = previous_month(context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"monthly-{period}", tags={"tuoyu/period": period})

    return monthly


def inbox_fingerprint(inbox: Path, known: dict[str, list]) -> dict[str, list]:
    """{relative path: [size, mtime_ns, sha256]} of the extracts in the inbox. A file's hash
    is recomputed only when its size or modification time changed since the cursor."""
    state: dict[str, list] = {}
    if not inbox.is_dir():
        return state
    for root, dirs, files in os.walk(inbox, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_symlink() or recognise(name) is None:
                continue
            rel = path.relative_to(inbox).as_posix()
            try:
                st = path.stat()
                old = known.get(rel)
                if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                    state[rel] = old
                else:
                    state[rel] = [st.st_size, st.st_mtime_ns, sha256_of(path)]
            except OSError:
                continue  # vanished while we looked: the next evaluation sees the truth
    return state


def build_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, name="inbox_sensor", minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts a run when new or changed extracts arrive in the inbox. The cursor "
                           "holds each file's hash; the run key is the delivery's hash, so the same "
                           "delivery never runs twice.")
    def inbox_sensor(context: dg.SensorEvaluationContext):
        inbox = Settings.from_env().inbox
        known = json.loads(context.cursor) if context.cursor else {}
        state = inbox_fingerprint(inbox, known)
        changed = sorted(rel for rel, v in state.items() if known.get(rel, [None, None, None])[2] != v[2])
        if not changed:
            return dg.SkipReason(f"no new or changed extracts in {inbox}")
        delivery = hashlib.sha256(json.dumps({r: state[r][2] for r in changed}, sort_keys=True).encode()).hexdigest()
        context.update_cursor(json.dumps(state, sort_keys=True))
        return dg.RunRequest(run_key=f"inbox-{delivery[:16]}",
                             tags={"tuoyu/trigger": "inbox", "tuoyu/files": str(len(changed))})

    return inbox_sensor
