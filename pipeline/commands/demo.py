"""The demo reads only what the sample generator wrote: a file in the demo's inbox that the sample
manifest does not list with the same bytes (a real county's extract copied there, say) would be
pseudonymised with the published demo key and shown in outputs marked 演示数据. Such an inbox is
refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.settings import ConfigError

SHOWN = 5  # foreign files named in the message; the others are counted


def manifest_path(inbox: Path) -> Path:
    """Where `tuoyu demo` writes the sample's manifest: beside the inbox (generate_sample's default)."""
    return Path(inbox).parent / "sample-manifest.json"


def generated_files(manifest: Path) -> set[tuple[str, str]]:
    """{(path under the inbox, SHA-256)} of every file the sample generator wrote; empty when
    there is no readable manifest."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return {(entry["file"], entry["sha256"]) for entry in data.get("files", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()


def foreign_files(inbox: Path) -> list[str]:
    """The files of the demo inbox (as a run would see them) that the sample generator did not
    write, by path and content."""
    from pipeline.ingest.extracts.files import discover

    if not Path(inbox).is_dir():
        return []
    generated = generated_files(manifest_path(inbox))
    return [f.rel_path for f in discover(Path(inbox)) if (f.rel_path, f.sha256) not in generated]


def check_demo_inbox(inbox: Path) -> None:
    """Stop, changing nothing, when the demo inbox holds a file the sample generator did not write."""
    foreign = foreign_files(inbox)
    if not foreign:
        return
    names = "、".join(foreign[:SHOWN]) + (f" 等 {len(foreign)} 个文件" if len(foreign) > SHOWN else "")
    raise ConfigError(
        f"演示数据的收件箱 {inbox} 中有不是样例生成的文件：{names}。演示使用公开的演示密钥，"
        "不能用来处理真实报表，所以本次没有运行，什么都没有改动。真实报表请放入正式收件箱（TUOYU_INBOX），"
        "不加 --demo 运行 tuoyu run；把这些文件移出演示收件箱后，可再运行演示。")
