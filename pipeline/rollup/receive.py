"""Receiving the counties' bundles (docs/rollup.md §3 and §6).

    scan_inbox(reference, inbox, store_dir) -> Scan        every bundle of the inbox, by county
    receive_county(reference, inbox, store_dir, code)      one county: check, accept or reject
    receive_unknown(reference, inbox, store_dir)           bundles of no county of the prefecture
    receive_all(reference, inbox, store_dir)               all of them, from one scan

A bundle is a `.zip` or a folder holding `manifest.json`, anywhere under the inbox; which
county it is of is known only from its manifest. Everything a county's receiving writes is
under `<store_dir>/<county_code>/`: the verified copy of its current bundle (`current`, a
link to a `v-<sha>` folder, switched by one atomic rename) and `receipts.jsonl`, one JSON
line per bundle seen. So counties can be received in parallel (one Dagster partition
each); bundles of no known county are recorded in `<store_dir>/_unknown/receipts.jsonl`.

A receipt remembers the bundle's path, size and modification time: a bundle seen before is
not read again, so a run with nothing new reads no bundle. Inbox files are never moved,
changed or deleted. No Dagster and no warehouse here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.marts.catalog import indicator_ids
from pipeline.reference.load import PrefectureReference
from pipeline.rollup.bundle_format import MANIFEST, Bundle, BundleError, _members, file_head, read_bundle

RECEIPTS = "receipts.jsonl"
COUNTY_LOCK = ".receiving.lock"
CURRENT = "current"
UNKNOWN = "_unknown"
VERSION_PREFIX = "v-"

# statuses of a receipt (docs/rollup.md §5)
ACCEPTED_STATUSES = ("current", "superseded", "unchanged")
REJECTED = "rejected"
# A bundle made later than this past the receiving machine's clock is refused: clocks drift a little.
FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True)
class Candidate:
    """One bundle of the inbox: where it is, its size and modification time (a folder's:
    of its files), and the county its manifest names (None when it names none readable)."""

    path: Path
    name: str  # relative to the inbox, with '/'
    size: int
    mtime_ns: int
    county_code: str | None
    seen: bool  # recorded before with this size and modification time


@dataclass
class Scan:
    by_county: dict[str, list[Candidate]] = field(default_factory=dict)  # known counties only
    unknown: list[Candidate] = field(default_factory=list)  # no manifest, or a county not ours


@dataclass
class CountyReceipts:
    """What receiving did for one county: this run's receipts (one per new bundle) and the
    current bundle's manifest entries afterwards (None: the county has no bundle yet)."""

    county_code: str
    receipts: list[dict] = field(default_factory=list)
    current: dict | None = None

    @property
    def changed(self) -> bool:
        return any(r["status"] == "current" for r in self.receipts)


@dataclass
class Received:
    counties: dict[str, CountyReceipts]
    unknown: list[dict]

    @property
    def receipts(self) -> list[dict]:
        return [r for c in self.counties.values() for r in c.receipts] + self.unknown


def county_folder(store_dir: Path, county_code: str) -> Path:
    return store_dir / county_code


@contextmanager
def county_lock(folder: Path) -> Iterator[None]:
    """One receiver of a county at a time: an exclusive `flock` on `<folder>/.receiving.lock`,
    waited for. `tuoyu run` (holding the warehouse's run lock) and a Dagster partition of the
    same county, or two partitions' runs of it, never install or record at once; different
    counties never wait for each other. The kernel drops the lock with its process."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / COUNTY_LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- receipts


def read_receipts(folder: Path) -> list[dict]:
    """The receipts of one county folder (or of `_unknown`), oldest first. A line cut short
    by a crash is skipped: its bundle is then simply read again."""
    path = folder / RECEIPTS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "bundle" in entry:
            out.append(entry)
    return out


def _append_receipts(folder: Path, receipts: list[dict]) -> None:
    if not receipts:
        return
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in receipts)
    with (folder / RECEIPTS).open("a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def current_manifest(store_dir: Path, county_code: str) -> dict | None:
    """The manifest of the county's current bundle, with its SHA-256 as `sha256`; None when
    the county has none."""
    path = county_folder(store_dir, county_code) / CURRENT / MANIFEST
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return {**json.loads(data.decode("utf-8")), "sha256": hashlib.sha256(data).hexdigest()}


# ---------------------------------------------------------------- the inbox


def _signature(path: Path) -> tuple[int, int]:
    """(size, modification time in ns): of a zip; of a folder, summed and latest over its files."""
    if path.is_dir():
        size, mtime = 0, path.stat().st_mtime_ns
        for file in path.iterdir():
            if file.is_file() and not file.name.startswith("."):
                stat = file.stat()
                size += stat.st_size
                mtime = max(mtime, stat.st_mtime_ns)
        return size, mtime
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


# What a file manager leaves in a folder by itself: never a bundle, never reported.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})


def _bundle_paths(inbox: Path) -> Iterable[Path]:
    """Every file and every folder holding manifest.json under the inbox (not inside one).
    A file is a bundle or a mistake (renamed, not a zip, a warehouse sent by error): each
    is read, accepted or rejected with its message, so that nothing sent is passed over."""
    for root, dirs, files in os.walk(inbox):
        here = Path(root)
        if MANIFEST in files and here != inbox:
            dirs.clear()
            yield here
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith((".", "~$")) and name.lower() not in _SYSTEM_FILES:
                yield here / name


def _manifest_county(path: Path) -> str | None:
    """The county code the bundle's manifest names, read without reading the rest; None when
    there is no readable one (the bundle is then rejected by read_bundle's own message)."""
    try:
        if path.is_dir():
            data = (path / MANIFEST).read_bytes()
        elif not file_head(path).startswith(b"PK"):  # not a zip: never opened as one
            return None
        else:
            with zipfile.ZipFile(path) as archive:
                names = [i for i in archive.infolist() if i.filename.rsplit("/", 1)[-1] == MANIFEST]
                if len(names) != 1 or names[0].file_size > 1_000_000:
                    return None
                data = archive.read(names[0])
        code = json.loads(data.decode("utf-8")).get("county_code")
    except (OSError, zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None
    return code.strip() if isinstance(code, str) and code.strip() else None


def scan_inbox(reference: PrefectureReference, inbox: Path, store_dir: Path) -> Scan:
    """Every bundle of the inbox, grouped by the county its manifest names. A bundle recorded
    before with the same size and modification time keeps its recorded county, unread."""
    known = set(reference.county_codes)
    seen: dict[tuple[str, int, int], str | None] = {}
    for folder in [county_folder(store_dir, c) for c in known] + [store_dir / UNKNOWN]:
        for entry in read_receipts(folder):
            county = entry.get("county_code")
            if folder.name == UNKNOWN and county in known:
                continue  # its county has since been added to areas.csv: read it again
            seen[(entry["bundle"], entry.get("size"), entry.get("mtime_ns"))] = county
    scan = Scan()
    for path in _bundle_paths(inbox):
        try:
            size, mtime_ns = _signature(path)
        except OSError:  # gone while scanning
            continue
        name = path.relative_to(inbox).as_posix()
        key = (name, size, mtime_ns)
        was_seen = key in seen
        county = seen[key] if was_seen else _manifest_county(path)
        candidate = Candidate(path, name, size, mtime_ns, county, was_seen)
        if county in known:
            scan.by_county.setdefault(county, []).append(candidate)
        else:
            scan.unknown.append(candidate)
    return scan


# ---------------------------------------------------------------- one county


def _receipt(candidate: Candidate, status: str, received_at: datetime, *, bundle: Bundle | None = None,
             county_code: str | None = None, message_zh: str = "") -> dict:
    manifest = bundle.manifest if bundle is not None else None
    return {
        "bundle": candidate.name,
        "size": candidate.size,
        "mtime_ns": candidate.mtime_ns,
        "sha256": bundle.manifest_sha256 if bundle is not None else None,
        "county_code": county_code if county_code is not None else candidate.county_code,
        "county_name": manifest.county_name if manifest else None,
        "made_at": manifest.made_at.isoformat(timespec="seconds") if manifest else None,
        "received_at": received_at.isoformat(timespec="seconds"),
        "periods": list(manifest.periods) if manifest else [],
        "status": status,
        "message_zh": message_zh,
    }


def receive_county(reference: PrefectureReference, inbox: Path, store_dir: Path, county_code: str, *,
                   candidates: list[Candidate] | None = None, indicators: frozenset[str] | None = None,
                   now: datetime | None = None) -> CountyReceipts:
    """Receive the new bundles of one county (docs/rollup.md §3): each checked whole; of the
    accepted ones and the current one, the one made latest becomes (or stays) current, the
    others are superseded; the same bytes again are unchanged; a bad one is rejected and
    the current one stays. Writes only under `<store_dir>/<county_code>/`."""
    if county_code not in reference.county_codes:
        raise ValueError(f"{county_code} is not a county of {reference.prefecture_code}")
    indicators = indicators if indicators is not None else frozenset(indicator_ids())
    received_at = (now or datetime.now()).astimezone()
    folder = county_folder(store_dir, county_code)
    with county_lock(folder):
        if candidates is None:  # scanned under the lock: what another receiver recorded is seen
            candidates = scan_inbox(reference, inbox, store_dir).by_county.get(county_code, [])
        return _receive_county(store_dir, county_code, folder, candidates, indicators, received_at)


def _receive_county(store_dir: Path, county_code: str, folder: Path, candidates: list[Candidate],
                    indicators: frozenset[str], received_at: datetime) -> CountyReceipts:
    current = current_manifest(store_dir, county_code)
    known_shas = {r["sha256"] for r in read_receipts(folder) if r.get("status") in ACCEPTED_STATUSES}
    receipts: list[dict] = []
    accepted: list[tuple[Candidate, Bundle]] = []
    for candidate in sorted((c for c in candidates if not c.seen), key=lambda c: c.name):
        try:
            bundle = read_bundle(candidate.path, indicators)
            if bundle.manifest.county_code != county_code:  # changed since the scan
                raise BundleError(candidate.path.name, f"清单中的县级区划代码为 {bundle.manifest.county_code}，不是 {county_code}")
            if bundle.manifest.made_at > received_at + FUTURE_TOLERANCE:
                # it would stay current until that date, whatever the county sends meanwhile
                raise BundleError(candidate.path.name,
                                  f"清单中的生成时间 {bundle.manifest.made_at:%Y-%m-%d %H:%M} 晚于本机当前时间 "
                                  f"{received_at:%Y-%m-%d %H:%M}",
                                  "该县电脑的日期可能设错了：请该县改正电脑日期后重新运行 tuoyu export-bundle 再发送"
                                  "（如是本机日期错误，请改正本机日期后重新运行 tuoyu run）。")
        except BundleError as error:
            receipts.append(_receipt(candidate, REJECTED, received_at, county_code=county_code, message_zh=str(error)))
            continue
        except OSError as error:  # gone or unreadable since the scan: read again next run
            if not candidate.path.exists():
                continue
            receipts.append(_receipt(candidate, REJECTED, received_at, county_code=county_code,
                                     message_zh=str(BundleError(candidate.path.name, f"无法读取（{error.strerror}）"))))
            continue
        sha = bundle.manifest_sha256
        if sha in known_shas:  # the same bytes again (under any name)
            receipts.append(_receipt(candidate, "unchanged", received_at, bundle=bundle))
        elif current is not None and current["sha256"] == sha:  # installed by a run stopped before its receipt
            receipts.append(_receipt(candidate, "current", received_at, bundle=bundle))
        else:
            accepted.append((candidate, bundle))
        known_shas.add(sha)
    if accepted:
        _, latest = max(accepted, key=lambda cb: (cb[1].manifest.made_at, cb[0].name))
        current_made_at = datetime.fromisoformat(current["made_at"]) if current else None
        install = current_made_at is None or latest.manifest.made_at > current_made_at
        for candidate, bundle in accepted:
            status = "current" if install and bundle is latest else "superseded"
            if status == "current":
                try:
                    _install(folder, candidate.path, bundle)
                except BundleError as error:  # changed between the check and the copy
                    receipts.append(_receipt(candidate, REJECTED, received_at, county_code=county_code,
                                             message_zh=str(error)))
                    continue
            receipts.append(_receipt(candidate, status, received_at, bundle=bundle))
    _append_receipts(folder, receipts)
    return CountyReceipts(county_code, receipts, current_manifest(store_dir, county_code))


def _install(folder: Path, path: Path, bundle: Bundle) -> None:
    """Make `bundle` the county's current one: its files, checked again against the manifest
    as they are copied, into `v-<sha>/`; then `current` switched to it by one rename (a
    reader sees the old bundle or the new one, never a mix); then the old copy removed."""
    members = _members(path)
    manifest_bytes = members.get(MANIFEST, b"")
    if hashlib.sha256(manifest_bytes).hexdigest() != bundle.manifest_sha256 or any(
            hashlib.sha256(members.get(name, b"")).hexdigest() != entry["sha256"]
            for name, entry in bundle.manifest.files.items()):
        raise BundleError(path.name, "检查后文件又被改动（可能仍在复制中）", "请等文件传完后重新运行。")
    folder.mkdir(parents=True, exist_ok=True)
    version = VERSION_PREFIX + bundle.manifest_sha256[:16]
    incoming = folder / f".incoming-{os.getpid()}"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir()
    for name in [MANIFEST, *bundle.manifest.files]:
        with (incoming / name).open("wb") as handle:
            handle.write(members[name])
            handle.flush()
            os.fsync(handle.fileno())
    target = folder / version
    if target.exists():
        shutil.rmtree(target)
    os.rename(incoming, target)
    link = folder / f".current-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(version, target_is_directory=True)
    current = folder / CURRENT
    if current.is_dir() and not current.is_symlink():  # a plain folder copied in by hand
        shutil.rmtree(current)
    os.replace(link, current)
    for old in folder.iterdir():
        if old.name.startswith(VERSION_PREFIX) and old.name != version:
            shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- no county of ours


def receive_unknown(reference: PrefectureReference, inbox: Path, store_dir: Path, *,
                    candidates: list[Candidate] | None = None, now: datetime | None = None) -> list[dict]:
    """Reject the new bundles whose manifest names no county of the prefecture (or is not
    readable); record them in `<store_dir>/_unknown/receipts.jsonl`."""
    if candidates is None:
        candidates = scan_inbox(reference, inbox, store_dir).unknown
    received_at = (now or datetime.now()).astimezone()
    receipts = []
    for candidate in sorted((c for c in candidates if not c.seen), key=lambda c: c.name):
        try:
            bundle = read_bundle(candidate.path)
        except BundleError as error:
            receipts.append(_receipt(candidate, REJECTED, received_at, message_zh=str(error)))
            continue
        except OSError:
            continue
        code = bundle.manifest.county_code
        error = BundleError(candidate.path.name,
                            f"县级区划代码 {code}（{bundle.manifest.county_name}）不是本市 {reference.prefecture_name}"
                            f"（{reference.prefecture_code}）区划表 areas.csv 中的县",
                            "请核对该汇总包是否应发给本市；如是本市新设的县，请先在 areas.csv 中加上该县。")
        receipts.append(_receipt(candidate, REJECTED, received_at, bundle=bundle, county_code=code,
                                 message_zh=str(error)))
    _append_receipts(store_dir / UNKNOWN, receipts)
    return receipts


def receive_all(reference: PrefectureReference, inbox: Path, store_dir: Path, *,
                now: datetime | None = None) -> Received:
    """Scan the inbox once and receive every county's new bundles, then the unknown ones."""
    scan = scan_inbox(reference, inbox, store_dir)
    indicators = frozenset(indicator_ids())
    counties = {
        code: receive_county(reference, inbox, store_dir, code, candidates=scan.by_county.get(code, []),
                             indicators=indicators, now=now)
        for code in reference.county_codes
    }
    unknown = receive_unknown(reference, inbox, store_dir, candidates=scan.unknown, now=now)
    return Received(counties, unknown)
