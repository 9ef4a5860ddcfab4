"""Finding extracts in the inbox and recognising their names (extract-format.md §1)."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.ingest.extracts.spec import KIND_STEMS
from pipeline.period import parse_period

# The forms of a workbook (read by fastexcel/calamine); `et` is WPS's own spreadsheet
# format, tried as what its bytes are (docs/extract-format.md §1).
WORKBOOK_EXTS = ("xlsx", "xls", "ods", "et")
_STEM_TO_KIND = {stem.lower(): kind for kind, stems in KIND_STEMS.items() for stem in stems}
_NAME = re.compile(
    r"^(?P<stem>" + "|".join(re.escape(s) for s in _STEM_TO_KIND) + r")_"
    r"(?P<month>\d{4}-\d{2}|\d{6}|\d{4}年\d{1,2}月)"
    r"\.(?P<ext>csv|" + "|".join(WORKBOOK_EXTS) + r")$",
    re.IGNORECASE,
)


def parse_month(text: str) -> str | None:
    """`2023-06`, `202306`, `2023年6月` (after NFKC) → `2023-06`; else None. The forms a clerk
    may type (`pipeline/period.py: parse_period`), of which a name uses those `_NAME` allows."""
    return parse_period(text)


@dataclass(frozen=True)
class ExtractName:
    kind: str
    period: str
    ext: str


# Harmless variants of a name, accepted (docs/decisions.md): spaces instead of the `_` after
# the kind (`托育机构 2024年9月.csv`), and the copy marker a browser or the file
# manager adds (`托育机构_2024-09(1).csv`, `… (2).xlsx`, full-width brackets too).
_SEPARATOR = re.compile(r"^(?P<stem>" + "|".join(re.escape(s) for s in _STEM_TO_KIND) + r")\s+(?=\d)",
                        re.IGNORECASE)
_COPY_MARKER = re.compile(r"\s*\(\d{1,3}\)(?=\.[^.]+$)")


def _harmless(name: str) -> str:
    """`name` without the harmless variants (NFKC has made full-width brackets ASCII)."""
    return _SEPARATOR.sub(r"\g<stem>_", _COPY_MARKER.sub("", name, count=1), count=1)


def recognise(filename: str) -> ExtractName | None:
    """The kind, month and format a file name declares, or None when it is not an extract."""
    name = unicodedata.normalize("NFKC", filename).strip()
    m = _NAME.match(name) or _NAME.match(_harmless(name))
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


# Letters of other scripts that look like the Latin letters of the English stems and
# extensions (Cyrillic, Greek, IPA). NFKC leaves them as they are, so `institutiоns` with a
# Cyrillic о is not `institutions`: such a name is refused with a message that says why.
_LOOKALIKES = str.maketrans({
    "а": "a", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "ӏ": "l", "о": "o", "р": "p",
    "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɩ": "i",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ѵ": "v",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "Υ": "Y", "Ι": "I", "Ο": "O", "Ν": "N",
})


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cf", "Cc", "Zl", "Zp") or ch in "\u00a0\u3000"


def _why_unrecognised(filename: str) -> str | None:
    """For a name that matches no extract only because of look-alike or invisible
    characters, the message that says so (Chinese, then English); else None."""
    name = unicodedata.normalize("NFKC", filename)
    lookalikes = sorted({ch for ch in name if ch.translate(_LOOKALIKES) != ch})
    invisible = sorted({ch for ch in name if _invisible(ch)})
    if not lookalikes and not invisible:
        return None
    skeleton = "".join(ch for ch in name.translate(_LOOKALIKES) if not _invisible(ch))
    if recognise(skeleton) is None:
        return None
    shown = "、".join(f"“{ch}”（U+{ord(ch):04X}）" for ch in lookalikes + invisible)
    return (
        f"文件 {filename} 的文件名中有 {shown}：看起来像英文字母或空白，实际是其他文字的字符或不可见字符，"
        "系统无法识别，未读取，文件保留在收件箱。"
        "请重新输入文件名（只用英文字母，或用中文名，如 托育机构_2023-06.csv）后重新报送。"
        f" File name {filename!r} contains look-alike or invisible characters "
        f"({', '.join(f'U+{ord(ch):04X}' for ch in lookalikes + invisible)}); not read."
    )


class NotRegularFile(OSError):
    """A named pipe, socket or device where a file was expected."""


class TooLarge(OSError):
    """A file above the size it may have to be read into memory (`read_regular`)."""

    def __init__(self, size: int):
        super().__init__(f"{size} bytes")
        self.size = size


def _open_regular(path: Path) -> int:
    """A descriptor of a regular file. A symbolic link is not followed (O_NOFOLLOW), and
    anything else that is not a regular file raises NotRegularFile (opening a named pipe
    would otherwise wait for a writer forever: O_NONBLOCK, then fstat)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(f"not a regular file: {path}")
    return fd


def sha256_of(path: Path) -> str:
    """SHA-256 of a regular file's bytes, read in blocks (see `_open_regular`)."""
    fd = _open_regular(path)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """A regular file's bytes, from one opening (see `_open_regular`): the caller hashes,
    archives and parses these same bytes, so a file replaced meanwhile is one version or the
    other, never a mix. Raises TooLarge, before reading, above `max_bytes`."""
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(fd).st_size
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(size)
        data = f.read() if max_bytes is None else f.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:  # it grew after fstat
        raise TooLarge(len(data))
    return data


_EPOCH = datetime.fromtimestamp(0, timezone.utc)
_LINKED_FILE = "{name} 是符号链接，不读取（请把文件本身放入收件箱）。Symbolic links are not followed."
_LINKED_FOLDER = ("{name} 是指向其他位置的文件夹链接（符号链接），其中的文件不读取，请把文件本身放入收件箱。"
                  " Symbolic links to folders are not followed.")
_NOT_A_FILE = ("{name} 不是普通文件（如命名管道或设备），不读取。请把报表文件本身放入收件箱。"
               " Not a regular file (a pipe, socket or device); not read.")


def _not_read(path: Path, rel: str, problem: str) -> InboxFile:
    return InboxFile(path, rel, 0, _EPOCH, "", None, problem=problem)


def discover(inbox: Path) -> list[InboxFile]:
    """Every regular file below the inbox, sorted by path. Links are listed, never followed;
    named pipes, sockets and devices are listed, never opened."""
    found: list[InboxFile] = []
    for root, dirs, files in os.walk(inbox, followlinks=False):
        dirs.sort()
        for dirname in dirs:
            path = Path(root) / dirname
            if path.is_symlink():  # os.walk does not enter it: say so rather than skip it silently
                found.append(_not_read(path, path.relative_to(inbox).as_posix(), _LINKED_FOLDER.format(name=dirname)))
        for filename in sorted(files):
            path = Path(root) / filename
            rel = path.relative_to(inbox).as_posix()
            if filename.startswith(".") or filename.startswith("~$"):
                continue  # hidden files and Office lock files are not deliveries
            try:
                info = os.lstat(path)
            except OSError as exc:  # vanished mid-run: list it, keep going
                found.append(_not_read(path, rel, f"文件 {filename} 无法读取：{exc.strerror}。File cannot be read."))
                continue
            if stat.S_ISLNK(info.st_mode):
                found.append(_not_read(path, rel, _LINKED_FILE.format(name=filename)))
                continue
            if not stat.S_ISREG(info.st_mode):
                found.append(_not_read(path, rel, _NOT_A_FILE.format(name=filename)))
                continue
            try:
                sha = sha256_of(path)
            except OSError as exc:  # vanished, replaced or unreadable mid-run: list it, keep going
                reason = exc.strerror or "不是普通文件"
                found.append(_not_read(path, rel, f"文件 {filename} 无法读取：{reason}。File cannot be read."))
                continue
            name = recognise(filename)
            found.append(InboxFile(
                path=path,
                rel_path=rel,
                size_bytes=info.st_size,
                modified_at=datetime.fromtimestamp(info.st_mtime, timezone.utc).replace(tzinfo=None),
                sha256=sha,
                name=name,
                problem=_why_unrecognised(filename) if name is None else None,
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
