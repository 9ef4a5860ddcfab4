"""Where an export (`tuoyu sql --csv/--xlsx/--json FILE`, `tuoyu fix --csv FILE`) may be
written, checked before the query runs:

- never over an existing file, unless `--force` (and then only over a regular file);
- never inside the warehouse folder, the raw archive, the published copy or the inbox,
  `--force` or not: the path is resolved first (symbolic links, `..`), so that no spelling
  of a path reaches them;
- never into a folder that does not exist: no folder is ever created.

The file is then written under a temporary name beside it and put in place without
replacing anything that appeared meanwhile (`write_new`); only `--force` replaces.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path


class ExportRefused(Exception):
    """The export's file name is refused; the message says why and what to do (Chinese first)."""


def _exists(path: Path | str) -> ExportRefused:
    return ExportRefused(f"文件 {path} 已存在，未覆盖。请换一个文件名；确实要替换它时加 --force。"
                         f" {path} exists and was not overwritten: choose another name, or add --force to replace it.")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def protected_folders(warehouse: Path, archive: Path, published: Path, inbox: Path | None = None) -> list[Path]:
    """The folders no export may write into, as given and resolved (a link to the warehouse
    folder is the warehouse folder)."""
    folders = [Path(warehouse).parent, Path(archive), Path(published)]
    if inbox is not None:
        folders.append(Path(inbox))
    out: list[Path] = []
    for folder in folders:
        for form in (Path(os.path.abspath(folder)), Path(os.path.realpath(folder))):
            if form not in out:
                out.append(form)
    return out


def check_destination(target: Path, protected: Iterable[Path], *, force: bool = False) -> Path:
    """The resolved path to write `target` at, or `ExportRefused`."""
    given = Path(os.path.abspath(Path(target).expanduser()))
    resolved = Path(os.path.realpath(given))
    for folder in protected:
        folder = Path(os.path.realpath(folder))
        if _inside(resolved, folder) or _inside(given, folder):
            raise ExportRefused(
                f"不能把导出文件写到 {target}：该位置在数据仓库、原始档案、发布副本或收件箱文件夹（{folder}）内，"
                "写入会损坏或混入程序的数据。请换一个文件夹（如自己的文档文件夹）。"
                f" Refused: {target} is inside {folder} (warehouse, raw archive, published copy or inbox);"
                " choose another folder."
            )
    if not resolved.parent.is_dir():
        raise ExportRefused(
            f"文件夹 {resolved.parent} 不存在，未导出（程序不会自动创建文件夹）。请先建好文件夹，或换一个已有的文件夹。"
            f" Folder {resolved.parent} does not exist; no folder is created: make it first or choose another."
        )
    if os.path.lexists(given) or os.path.lexists(resolved):
        if not force:
            raise _exists(target)
        if not stat.S_ISREG(os.lstat(resolved).st_mode):
            raise ExportRefused(
                f"{target} 不是普通文件（是文件夹、设备或其他），即使加 --force 也不会替换。"
                f" {target} is not a regular file; not replaced, even with --force."
            )
    return resolved


def write_new(tmp: Path, path: Path, *, replace: bool) -> None:
    """Put the finished temporary file `tmp` at `path`: over an existing file only when
    `replace`; otherwise atomically refused if `path` appeared since it was checked."""
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if `path` exists: no window between the check and the write
    except FileExistsError:
        raise _exists(path) from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            raise _exists(path) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)
