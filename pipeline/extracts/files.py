"""Finding extracts in the inbox and recognising their names (EXTRACTS.md §1)."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.extracts.spec import KIND_STEMS

_STEM_TO_KIND = {stem.lower(): kind for kind, stems in KIND_STEMS.items() for stem in stems}
_NAME = re.compile(
    r"^(?P<stem>" + "|".join(re.escape(s) for s in _STEM_TO_KIND) + r")_"
    r"(?P<month>\d{4}-\d{2}|\d{6}|\d{4}年\d{1,2}月)"
    r"\.(?P<ext>csv|xlsx)$",
    re.IGNORECASE,
)
_MONTH_FORMS = (
    re.compile(r"^(\d{4})-(\d{2})$"),
    re.compile(r"^(\d{4})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月$"),
)


def parse_month(text: str) -> str | None:
    """`2023-06`, `202306`, `2023年6月` (after NFKC) → `2023-06`; anything else → None."""
    text = unicodedata.normalize("NFKC", text).strip()
    for form in _MONTH_FORMS:
        m = form.match(text)
        if m:
            year, month = int(m.group(1)), int(m.group(2))
            if 1 <= month <= 12 and 1900 <= year <= 2999:
                return f"{year:04d}-{month:02d}"
    return None


@dataclass(frozen=True)
class ExtractName:
    kind: str
    period: str
    ext: str


def recognise(filename: str) -> ExtractName | None:
    """The kind, month and format a file name declares, or None when it is not an extract."""
    name = unicodedata.normalize("NFKC", filename).strip()
    m = _NAME.match(name)
    if not m:
        return None
    period = parse_month(m.group("month"))
    if period is None:
        return None
    return ExtractName(_STEM_TO_KIND[m.group("stem").lower()], period, m.group("ext").lower())


@dataclass(frozen=True)
class InboxFile:
    path: Path
    rel_path: str
    size_bytes: int
    modified_at: datetime
    sha256: str
    name: ExtractName | None
    problem: str | None = None  # why it is not read at all (e.g. a symbolic link)

    @property
    def kind(self) -> str | None:
        return self.name.kind if self.name else None

    @property
    def period(self) -> str | None:
        return self.name.period if self.name else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(inbox: Path) -> list[InboxFile]:
    """Every regular file below the inbox, sorted by path. Links are listed, never followed."""
    found: list[InboxFile] = []
    for root, dirs, files in os.walk(inbox, followlinks=False):
        dirs.sort()
        for filename in sorted(files):
            path = Path(root) / filename
            rel = path.relative_to(inbox).as_posix()
            if filename.startswith(".") or filename.startswith("~$"):
                continue  # hidden files and Office lock files are not deliveries
            if path.is_symlink():
                found.append(InboxFile(path, rel, 0, datetime.fromtimestamp(0, timezone.utc), "", None,
                                       problem="符号链接不读取（请把文件本身放入收件箱）。Symbolic links are not followed."))
                continue
            try:
                stat = path.stat()
                sha = sha256_of(path)
            except OSError as exc:  # vanished or unreadable mid-run: list it, keep going
                found.append(InboxFile(path, rel, 0, datetime.fromtimestamp(0, timezone.utc), "", None,
                                       problem=f"文件无法读取：{exc.strerror}。File cannot be read."))
                continue
            found.append(InboxFile(
                path=path,
                rel_path=rel,
                size_bytes=stat.st_size,
                modified_at=datetime.fromtimestamp(stat.st_mtime, timezone.utc).replace(tzinfo=None),
                sha256=sha,
                name=recognise(filename),
            ))
    return found


def current_versions(files: list[InboxFile]) -> tuple[dict[tuple[str, str], InboxFile], list[InboxFile]]:
    """Per kind × month the current file (modified last; on a tie the path sorting last),
    and the files it supersedes."""
    groups: dict[tuple[str, str], list[InboxFile]] = {}
    for f in files:
        if f.name is not None and f.problem is None:
            groups.setdefault((f.name.kind, f.name.period), []).append(f)
    current: dict[tuple[str, str], InboxFile] = {}
    superseded: list[InboxFile] = []
    for key, group in groups.items():
        ordered = sorted(group, key=lambda f: (f.modified_at, f.rel_path))
        current[key] = ordered[-1]
        superseded.extend(f for f in ordered[:-1] if f.sha256 != ordered[-1].sha256)
    return current, superseded
