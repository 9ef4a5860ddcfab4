"""When the pipeline runs by itself: a monthly schedule and a sensor on the inbox.

Both start the same job as `tuoyu run`, so every route to a figure is the same code.
"""

import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from pipeline.analysts.publish import published_database
from pipeline.ingest.extracts.files import InboxFile, recognise, sha256_of
from pipeline.ingest.load import unseen_files
from pipeline.period import TIMEZONE, previous_month

# A file modified less than this many seconds ago may still be being copied into the inbox
# (a large XLSX over a network share): the sensor waits for the next evaluation rather than
# start a run that would reject a half-written file.
SETTLE_SECONDS = 30


def build_schedule(job, cron: str) -> dg.ScheduleDefinition:
    """The monthly schedule at `cron` (Asia/Shanghai): the settings' TUOYU_SCHEDULE_CRON, default
    the 5th at 08:00, when extracts for the month just ended have arrived."""

    # Why: one monthly run for the report of the month just ended, whatever the sensor did.
    # The run key is the tick, so a tick retried after a daemon restart never runs twice.
    def monthly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time  # always set by the daemon and the UI's preview
        tick = tick.astimezone(ZoneInfo(TIMEZONE)) if tick.tzinfo else tick
        period = previous_month(tick)
        return dg.RunRequest(run_key=f"monthly-{period}-{tick:%Y%m%dT%H%M}",
                             tags={"tuoyu/period": period, "tuoyu/trigger": "schedule"})

    return dg.schedule(
        job=job, cron_schedule=cron, execution_timezone=TIMEZONE, name="monthly_pipeline",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every month (default: the 5th, 08:00 Asia/Shanghai; TUOYU_SCHEDULE_CRON): the whole "
                    "pipeline and the report for the previous month (run tag tuoyu/period).",
    )(monthly)


def inbox_fingerprint(inbox: Path, known: dict[str, list]) -> dict[str, list]:
    """{relative path: [size, mtime_ns, sha256]} of the extracts in the inbox. A file's hash
    is recomputed only when its size or modification time changed since the cursor.
    Unrecognised names, hidden files and symbolic links are not deliveries: left out."""
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


def awaiting_run(inbox: Path, state: dict[str, list], warehouse: Path) -> list[str]:
    """The files of the inbox (`state`, as inbox_fingerprint has it) that a run would read or
    record, judged by the load log of the last run that completed: the published copy's
    (reading it never blocks a run, nor a run it). All of them when there is no copy yet."""
    files = [InboxFile(inbox / rel, rel, size, datetime.fromtimestamp(mtime_ns / 1e9, UTC).replace(tzinfo=None),
                       sha, recognise(Path(rel).name)) for rel, (size, mtime_ns, sha) in sorted(state.items())]
    database = published_database(warehouse)
    if not database.is_file():
        return [f.rel_path for f in files]
    try:
        con = duckdb.connect(str(database), read_only=True)
        try:
            return [f.rel_path for f in unseen_files(con, files)]
        finally:
            con.close()
    except duckdb.Error:  # a copy that cannot be read: every file is news
        return [f.rel_path for f in files]


def build_sensor(job, inbox: Path, warehouse: Path) -> dg.SensorDefinition:
    # Why: extracts arrive on no fixed day; a run soon after each delivery keeps `tuoyu status`
    # and the published copy current without anyone starting it. The cursor holds each
    # file's [size, mtime, sha256], so unchanged files are not read again. A changed file
    # that the last run has loaded already (someone ran `tuoyu run` by hand, or the cursor
    # was lost) is no reason for a run: it would find nothing new. The run key is the
    # delivery (the new files' hashes and times), so one delivery never runs twice.
    @dg.sensor(job=job, name="inbox_sensor", minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts a run when new or changed extracts arrive in the inbox that the last "
                           "run has not loaded. The cursor holds each file's hash; the run key is the "
                           "delivery's hash, so the same delivery never runs twice.")
    def inbox_sensor(context: dg.SensorEvaluationContext):
        known = json.loads(context.cursor) if context.cursor else {}
        state = inbox_fingerprint(inbox, known)
        changed = sorted(rel for rel, v in state.items() if known.get(rel, [None, None, None])[2] != v[2])
        removed = [rel for rel in known if rel not in state]  # may make an earlier version current again
        if not changed and not removed:
            return dg.SkipReason(f"no new or changed extracts in {inbox}")
        settling = [rel for rel in changed if time.time() - state[rel][1] / 1e9 < SETTLE_SECONDS]
        if settling:  # the cursor stays: the next evaluation sees these files again
            return dg.SkipReason(f"waiting for {len(settling)} file(s) still being written: {settling[0]}")
        context.update_cursor(json.dumps(state, sort_keys=True))
        delivery = [rel for rel in awaiting_run(inbox, state, warehouse) if removed or rel in changed]
        if not delivery:
            return dg.SkipReason(f"the inbox {inbox} changed, but the last run loaded these files already: "
                                 "nothing new for a run")
        key = hashlib.sha256(
            json.dumps({r: [state[r][2], state[r][1]] for r in delivery}, sort_keys=True).encode()
        ).hexdigest()
        return dg.RunRequest(run_key=f"inbox-{key[:16]}",
                             tags={"tuoyu/trigger": "inbox", "tuoyu/files": str(len(delivery))})

    return inbox_sensor
