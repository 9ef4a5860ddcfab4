"""Collect the clear id numbers and names of an inbox, to search for them where they must
not be. Reads the files independently of the pipeline's reader."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import polars as pl

_PERSONAL_HEADERS = {"幼儿姓名", "幼儿身份证号", "姓名", "身份证号"}


def _frames(path: Path) -> list[pl.DataFrame]:
    if path.suffix.lower() == ".xlsx":
        import fastexcel

        frame = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars()
        return [frame]
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a BOM (rejected by the pipeline, still searched)
        raw = raw.decode("utf-16").encode("utf-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    lines = [line.split(",") for line in text.splitlines() if line.strip()]
    width = max(len(line) for line in lines)
    return [pl.DataFrame([line + [""] * (width - len(line)) for line in lines], orient="row",
                         schema=[f"c{i}" for i in range(width)])]


def clear_identifiers(inbox: Path) -> set[str]:
    found: set[str] = set()
    for path in inbox.rglob("*"):
        if not path.is_file() or path.suffix.lower() not in (".csv", ".xlsx"):
            continue
        for frame in _frames(path):
            rows = frame.rows()
            for index, row in enumerate(rows[:10]):
                cells = [unicodedata.normalize("NFKC", str(c or "")).strip() for c in row]
                columns = [i for i, c in enumerate(cells) if c in _PERSONAL_HEADERS]
                if columns:
                    for data in rows[index + 1:]:
                        for i in columns:
                            value = unicodedata.normalize("NFKC", str(data[i] or "")).strip()
                            if len(value) >= 2:
                                found.update({value, value.upper(), value.lower()})
                    break
    return found
