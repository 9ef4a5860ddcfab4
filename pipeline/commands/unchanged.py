"""Nothing new, known before the job starts: `tuoyu run` over what its last complete run left.

The job itself finds a run with nothing new and writes nothing (pipeline/report/freshness.py,
the marts' fingerprints), but it still costs a Dagster run: about 3 s of starting, events
and steps that each find nothing to do. When nothing the job reads or writes has changed
since the last `tuoyu run` that completed, its outcome is known: nothing to do. So after a
complete run, `remember` keeps the state of everything the job reads and writes, and the
next run compares (`unchanged`) before it starts the job:

- every file under the inbox: its path, kind and SHA-256 (the bytes, as the ingest compares
  them), and every entry that is not a regular file (links, folders, pipes) by its kind;
- the reference folder and the shipped defaults, the warehouse file (and its write-ahead
  log), the raw archive, the reports folder and the published copy: every entry's path, kind, size,
  modification and change times and inode: any write, by a run from the Dagster UI, by
  `tuoyu quality confirm`, `withdraw` or `report`, or by hand, changes one of them;
- the code and the libraries that write the files (`freshness.code_version`), the settings
  that shape the outputs (the folders, demo mode, the compiling unit, the first month, the
  key's fingerprint, never the key), and today's date (a month out of range may come in
  range: at most a day is answered from the state).

Anything different, missing or unreadable means the job runs, as it always did. What the job
reads is taken before it starts, what it writes after its last write; the state is removed
before the job starts and written only after it completed, so a run that was killed or
failed leaves none, and a file delivered while a run goes on is new to the next one. The state file (`.last-complete-run.json`, beside the warehouse) holds
no personal data: paths, sizes, times and digests of files, and the summary's reminders.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
from datetime import date
from pathlib import Path

from pipeline.settings import Settings

log = logging.getLogger(__name__)

STATE_FILE = ".last-complete-run.json"
_VERSION = 1


def state_path(settings: Settings) -> Path:
    return settings.warehouse.parent / STATE_FILE


def _entries(root: Path, *, content: bool) -> list:
    """Every entry under `root` (the root itself too), without following links: content
    digests of regular files when `content`, else their size, times and inode."""
    try:
        top = os.lstat(root)
    except FileNotFoundError:
        return [str(root), "missing"]
    if not stat.S_ISDIR(top.st_mode):
        return [[str(root), *_meta(root, top, content)]]
    found = []
    for folder, dirs, files in os.walk(root, onerror=_raise):  # a folder not read: no state
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            path = Path(folder) / name
            found.append([path.relative_to(root).as_posix(), *_meta(path, os.lstat(path), content)])
    return [str(root), found]


def _raise(error: OSError) -> None:
    raise error


def _meta(path: Path, st: os.stat_result, content: bool) -> list:
    kind = stat.S_IFMT(st.st_mode)
    if content:
        if not stat.S_ISREG(st.st_mode):
            return [kind]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return [kind, digest.hexdigest()]
    return [kind, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _digest(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def sources(settings: Settings) -> str | None:
    """The digest of what the job reads, as it is now: taken before the job starts, so that a
    file delivered (or a reference file edited) while a run goes on is new to the next run.
    None when something cannot be read (the job then says what, file by file)."""
    from pipeline.reference import default_reference_folder
    from pipeline.report.freshness import code_version
    from pipeline.warehouse.key_guard import fingerprint

    try:
        return _sources(settings, default_reference_folder(), code_version(), fingerprint(settings.key()))
    except OSError as exc:
        log.info("the inputs' state not taken (%s): the job runs", exc)
        return None


def _sources(settings: Settings, defaults: Path, code: str, key: str) -> str:
    return _digest({
        "version": _VERSION,
        "today": date.today().isoformat(),
        "code": code,
        "settings": [str(settings.inbox), str(settings.reference), str(settings.warehouse), str(settings.reports),
                     settings.demo, settings.compiler, settings.first_month, key],
        "inbox": _entries(settings.inbox, content=True),
        "reference": [_entries(folder, content=False) for folder in (settings.reference, defaults)
                      if folder is not None],
    })


def _outputs(settings: Settings) -> str:
    """The digest of what the job writes, as it is now: taken after the run's last write."""
    from pipeline.analysts.publish import published_folder

    return _digest({
        "warehouse": [_entries(settings.warehouse, content=False),
                      _entries(settings.warehouse.with_name(settings.warehouse.name + ".wal"), content=False)],
        "archive": _entries(settings.archive, content=False),
        "reports": _entries(settings.reports, content=False),
        "published": _entries(published_folder(settings.warehouse), content=False),
    })


def forget(settings: Settings) -> None:
    """Before the job starts: no state, so that a run killed or failed leaves none (nor a
    half-written one of a run killed while keeping it)."""
    path = state_path(settings)
    for leftover in path.parent.glob(STATE_FILE + ".*"):
        leftover.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def remember(settings: Settings, run_id: str, reminders: list[str], read: str | None) -> None:
    """After a complete run, once it has written everything: `read`, the digest of its
    sources taken before it started (None: not taken, and no state is kept); the state of its
    outputs now; and the lines of its summary that a run with nothing new repeats."""
    path = state_path(settings)
    if read is None:
        path.unlink(missing_ok=True)
        return
    try:
        text = json.dumps({"sources": read, "outputs": _outputs(settings), "run": run_id, "reminders": reminders},
                          ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=STATE_FILE + ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:  # no state: the next run starts the job, as it always did
        log.info("state of the run not kept (%s): the next run starts the job", exc)
        path.unlink(missing_ok=True)


def unchanged(settings: Settings, read: str | None) -> dict | None:
    """The state the last complete run kept, when nothing has changed since (`read`: the
    sources' digest now); else None."""
    path = state_path(settings)
    if read is None:
        return None
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        same = (isinstance(kept, dict) and kept.get("sources") == read
                and kept.get("outputs") == _outputs(settings))
    except (OSError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("state of the last run not read (%s): the job runs", exc)
        return None
    return kept if same else None
