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

Anything different, missing or unreadable means the job runs, as it always did; the state is
removed before the job starts and written only after it completed, so a run that was killed
or failed leaves none. The state file (`.last-complete-run.json`, beside the warehouse) holds
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
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            path = Path(folder) / name
            found.append([path.relative_to(root).as_posix(), *_meta(path, os.lstat(path), content)])
    return [str(root), found]


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


def _inputs(settings: Settings) -> str:
    """The digest of everything named in the module's docstring, as it is now."""
    from pipeline.analysts.publish import published_folder
    from pipeline.reference import default_reference_folder
    from pipeline.report.freshness import code_version
    from pipeline.warehouse.key_guard import fingerprint

    key = settings.key()
    state = {
        "version": _VERSION,
        "today": date.today().isoformat(),
        "code": code_version(),
        "settings": [str(settings.inbox), str(settings.reference), str(settings.warehouse), str(settings.reports),
                     settings.demo, settings.compiler, settings.first_month, fingerprint(key)],
        "inbox": _entries(settings.inbox, content=True),
        "reference": [_entries(folder, content=False)
                      for folder in (settings.reference, default_reference_folder()) if folder is not None],
        "warehouse": [_entries(settings.warehouse, content=False),
                      _entries(settings.warehouse.with_name(settings.warehouse.name + ".wal"), content=False)],
        "reports": _entries(settings.reports, content=False),
        "published": _entries(published_folder(settings.warehouse), content=False),
        "archive": _entries(settings.archive, content=False),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def forget(settings: Settings) -> None:
    """Before the job starts: no state, so that a run killed or failed leaves none (nor a
    half-written one of a run killed while keeping it)."""
    path = state_path(settings)
    for leftover in path.parent.glob(STATE_FILE + ".*"):
        leftover.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def remember(settings: Settings, run_id: str, reminders: list[str]) -> None:
    """After a complete run, once it has written everything: the state of its inputs and
    outputs, and the lines of its summary that a run with nothing new repeats."""
    path = state_path(settings)
    try:
        text = json.dumps({"inputs": _inputs(settings), "run": run_id, "reminders": reminders}, ensure_ascii=False)
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


def unchanged(settings: Settings) -> dict | None:
    """The state the last complete run kept, when nothing has changed since; else None."""
    path = state_path(settings)
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        same = isinstance(kept, dict) and kept.get("inputs") == _inputs(settings)
    except (OSError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("state of the last run not read (%s): the job runs", exc)
        return None
    return kept if same else None
