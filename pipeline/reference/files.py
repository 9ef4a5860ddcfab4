"""Reading the reference folder's files, with every problem pointed at a file and line.

CSV in UTF-8 (with or without BOM) or GB18030; TOML in UTF-8. A problem raises
`ReferenceDataError`, whose message names the file, the line and the problem, in Chinese
then English.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import unicodedata
from pathlib import Path

_TOML_LINE_RE = re.compile(r"at line (\d+)")


class ReferenceDataError(Exception):
    """Bad reference data; the run cannot go on. `str(error)` is the message for the office:
    `参考数据错误：<file> 第 <n> 行：<问题>。Reference data error: <file> line <n>: <problem>.`"""

    def __init__(self, file: str, line: int | None, problem_zh: str, problem_en: str):
        self.file = file
        self.line = line
        self.problem_zh = problem_zh
        self.problem_en = problem_en
        where_zh = file if line is None else f"{file} 第 {line} 行"
        where_en = file if line is None else f"{file} line {line}"
        super().__init__(
            f"参考数据错误：{where_zh}：{problem_zh}。Reference data error: {where_en}: {problem_en}."
        )


def read_text(path: Path, allow_gb18030: bool) -> str:
    """The file's text: UTF-8 with or without BOM; for CSV also GB18030, which is what
    Excel on a Chinese Windows writes (tried second: it would also decode UTF-8 bytes)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_error = exc
    if allow_gb18030:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    line = data[: first_error.start].count(b"\n") + 1
    raise ReferenceDataError(
        path.name, line, "文件不是 UTF-8 编码，请另存为 UTF-8", "the file is not UTF-8, save it as UTF-8"
    )


def clean(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell).strip()


def read_csv(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a reference CSV as (line number in the file, {column: text}).

    Every cell is text, NFKC-normalised and trimmed (codes keep their leading zeros);
    blank rows are skipped; extra columns are ignored."""
    reader = csv.reader(io.StringIO(read_text(path, allow_gb18030=True), newline=""))
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            cells = [clean(c) for c in cells]
            if not any(cells):
                continue
            if header is None:
                header = cells
                missing = [c for c in columns if c not in header]
                if missing:
                    raise ReferenceDataError(
                        path.name, line,
                        f"缺少列 {'、'.join(missing)}（应有列：{','.join(columns)}）",
                        f"missing column(s) {', '.join(missing)} (expected: {','.join(columns)})",
                    )
                index = {c: header.index(c) for c in columns}
                continue
            rows.append((line, {c: cells[i] if i < len(cells) else "" for c, i in index.items()}))
    except csv.Error as exc:
        raise ReferenceDataError(
            path.name, reader.line_num, f"CSV 格式错误：{exc}", f"CSV format error: {exc}"
        ) from None
    if header is None:
        raise ReferenceDataError(path.name, None, "文件为空", "the file is empty")
    return rows


def read_toml(path: Path) -> tuple[dict, list[str]]:
    """The parsed TOML document and its lines (to point errors at a line)."""
    text = read_text(path, allow_gb18030=False)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE_RE.search(str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        raise ReferenceDataError(
            path.name, line, f"TOML 格式错误：{exc}", f"TOML syntax error: {exc}"
        ) from None
    return data, text.split("\n")


def header_line(lines: list[str], name: str, occurrence: int = 0) -> int | None:
    """Line number of the `occurrence`-th `[name]` or `[[name]]` header (or of a top-level
    `name = {...}` inline table)."""
    header = re.compile(r"\s*\[\[?\s*[\"']?" + re.escape(name) + r"[\"']?\s*\]\]?\s*(#.*)?")
    inline = re.compile(r"[\"']?" + re.escape(name) + r"[\"']?\s*=")
    seen = 0
    for number, text in enumerate(lines, start=1):
        if header.fullmatch(text) or inline.match(text):
            if seen == occurrence:
                return number
            seen += 1
    return None


def key_line(lines: list[str], section_line: int | None, key: str | None) -> int | None:
    """Line number of `key = ...` in the section starting at `section_line`; the section's
    own line when the key is not written there on a line of its own."""
    if section_line is None or key is None:
        return section_line
    pattern = re.compile(r"\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
    for number in range(section_line + 1, len(lines) + 1):
        text = lines[number - 1]
        if text.lstrip().startswith("["):
            break
        if pattern.match(text):
            return number
    return section_line
