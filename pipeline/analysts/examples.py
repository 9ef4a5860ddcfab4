"""The documented example queries of sql/examples: each file's header says the question it
answers (Chinese and English), the tables it reads and its parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import SQL_DIR

EXAMPLES_DIR = SQL_DIR / "examples"


class UnknownExample(Exception):
    """No example query of that name; the message lists the ones there are."""


_EXAMPLE_HEADER = re.compile(r"^--\s*(question_zh|question_en|reads|param)\s*:\s*(.+?)\s*$", re.MULTILINE)
_PARAM = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$")


@dataclass(frozen=True)
class Example:
    """One file of sql/examples: the question it answers, the tables it reads, its parameters."""

    name: str
    path: Path
    question_zh: str
    question_en: str
    reads: tuple[str, ...]
    params: dict[str, str]
    sql: str


def load_example(path: Path) -> Example:
    text = path.read_text(encoding="utf-8")
    headers: dict[str, list[str]] = {}
    for key, value in _EXAMPLE_HEADER.findall(text):
        headers.setdefault(key, []).append(value)
    params = {}
    for line in headers.get("param", []):
        m = _PARAM.match(line)
        if not m:
            raise ValueError(f"{path}: a param line is '-- param: $name description', not {line!r}")
        params[m.group(1)] = m.group(2)
    reads = tuple(r.strip() for r in ",".join(headers.get("reads", [])).split(",") if r.strip())
    return Example(path.stem, path, " ".join(headers.get("question_zh", [])),
                   " ".join(headers.get("question_en", [])), reads, params, text)


def list_examples(folder: Path = EXAMPLES_DIR) -> list[Example]:
    return [load_example(p) for p in sorted(folder.glob("*.sql"))]


def find_example(name: str, folder: Path = EXAMPLES_DIR) -> Example:
    path = folder / f"{Path(name).stem}.sql"
    if not path.is_file():
        names = "、".join(e.name for e in list_examples(folder))
        raise UnknownExample(f"没有名为 {name} 的示例查询。可用 Available: {names}")
    return load_example(path)


def format_examples(examples: list[Example]) -> str:
    lines = []
    for e in examples:
        params = " ".join(f"--param {k}=…" for k in e.params)
        lines.append(f"{e.name}  {params}".rstrip())
        lines.append(f"    {e.question_zh}")
        lines.append(f"    {e.question_en}")
    return "\n".join(lines)
