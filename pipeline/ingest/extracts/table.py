"""The table every extract file becomes, and how its header is found (extract-format.md §1).

Every cell is read as text, NFKC-normalised and trimmed; empty means missing. The header
row is the first of the first ten non-blank rows holding every required header (Chinese
or its English alias); title rows above it and blank rows anywhere are ignored. A file that
cannot be read at all raises `FileRejected` with a message in Chinese and English.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from pipeline.ingest.extracts.spec import COLUMNS, Column
from pipeline.ingest.extracts.wording import Wording, apply_values

HEADER_SEARCH_ROWS = 10
# Blank rows are skipped while looking for the ten rows; this many rows at most.
MAX_HEAD_LINES = 10_000


class FileRejected(Exception):
    """The whole file is rejected; nothing of it is loaded, the file is kept."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} {en}")
        self.zh = zh
        self.en = en


@dataclass
class RawTable:
    """Data rows of one file: one text column per contract column found, plus `source_row`."""

    rows: pl.DataFrame
    encoding: str
    extra_headers: list[str]
    header_row: int  # 1-based row of the header in the file
    sheet: str | None = None  # a workbook's sheet read, when it is not the first
    wording_used: list[str] = field(default_factory=list)  # the county's mappings used (mapping.toml)


def norm(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip() if text is not None else ""


def _header_lookup(kind: str, wording: Wording | None = None) -> dict[str, Column]:
    lookup: dict[str, Column] = {}
    for col in COLUMNS[kind]:
        lookup[norm(col.header)] = col
        lookup[col.name.lower()] = col
    by_name = {col.name: col for col in COLUMNS[kind]}
    for alias, name in (wording.header_aliases(kind) if wording else {}).items():
        lookup.setdefault(alias, by_name[name])  # a contract header keeps its own meaning
    return lookup


def _match_header(cells: list[object], kind: str,
                  wording: Wording | None = None) -> tuple[dict[int, Column], list[str], list[str]]:
    """Columns found (cell index → column), extra headers, and the county's header aliases used."""
    lookup = _header_lookup(kind, wording)
    contract = _header_lookup(kind)
    mapping: dict[int, Column] = {}
    extras: list[str] = []
    aliases: list[str] = []
    taken: set[str] = set()
    for i, cell in enumerate(cells):
        text = norm(cell)
        col = lookup.get(text) or lookup.get(text.lower())
        if col is not None and col.name not in taken:
            mapping[i] = col
            taken.add(col.name)
            if text not in contract and text.lower() not in contract:
                aliases.append(f"表头“{text}”→“{col.header}”")
        elif text:
            extras.append(text)
    return mapping, extras, aliases


def non_blank(rows: Iterable[tuple[int, list[object]]]) -> list[tuple[int, list[object]]]:
    """The first HEADER_SEARCH_ROWS rows that are not blank, with their 0-based row index:
    blank rows are ignored anywhere (extract-format.md §1), also when counting the ten rows."""
    found = []
    for index, cells in rows:
        if any(norm(cell) for cell in cells):
            found.append((index, cells))
            if len(found) == HEADER_SEARCH_ROWS:
                break
    return found


@dataclass
class Header:
    """The header row found: its 0-based index, the columns, extra headers, aliases used."""

    index: int
    mapping: dict[int, Column]
    extras: list[str]
    aliases: list[str]


@dataclass
class HeaderMissing:
    """No header row: the row that came closest (-1: none held a required header) and the
    required columns it lacks."""

    index: int
    missing: list[Column]

    def rejection(self, filename: str, where: str = "") -> FileRejected:
        if self.index < 0:
            return FileRejected(
                f"文件 {filename}：{where}前 {HEADER_SEARCH_ROWS} 个非空行中找不到表头行，"
                "请使用规定的表头（如 统计月份、机构编号）后重新报送。",
                f"File {filename}: no header row in the first {HEADER_SEARCH_ROWS} non-blank rows.",
            )
        return FileRejected(
            f"文件 {filename}：{where}第 {self.index + 1} 行表头缺少必填列：{'、'.join(c.header for c in self.missing)}。"
            "整个文件未载入，请补齐这些列后重新报送。",
            f"File {filename}: header row {self.index + 1} lacks required columns: "
            f"{', '.join(c.name for c in self.missing)}. Nothing was loaded.",
        )


def search_header(candidates: list[tuple[int, list[object]]], kind: str,
                  wording: Wording | None = None) -> Header | HeaderMissing:
    """The first of `candidates` (row index, cells) holding every required header."""
    required = {c.name for c in COLUMNS[kind] if c.required}
    best: tuple[int, set[str]] = (-1, set())
    for index, cells in candidates[:HEADER_SEARCH_ROWS]:
        mapping, extras, aliases = _match_header(cells, kind, wording)
        found = {c.name for c in mapping.values()}
        if required <= found:
            return Header(index, mapping, extras, aliases)
        if len(found & required) > len(best[1]):
            best = (index, found & required)
    return HeaderMissing(best[0], [c for c in COLUMNS[kind] if c.required and c.name not in best[1]])


def find_header(candidates: list[tuple[int, list[object]]], kind: str, filename: str,
                wording: Wording | None = None) -> Header:
    """The header row among `candidates` (row index, cells), or FileRejected saying what is missing."""
    found = search_header(candidates, kind, wording)
    if isinstance(found, HeaderMissing):
        raise found.rejection(filename)
    return found


def finish(frame: pl.DataFrame, mapping: dict[int, Column], kind: str, first_data_row: int) -> pl.DataFrame:
    """Keep the contract columns (text), drop names, number the rows, drop blank rows."""
    columns = frame.columns
    exprs = [
        pl.col(columns[i]).cast(pl.String).str.normalize("NFKC").str.strip_chars().alias(col.name)
        for i, col in mapping.items()
        if col.type != "name" and i < len(columns)  # names never go further than this line
    ]
    present = {e.meta.output_name() for e in exprs}
    for col in COLUMNS[kind]:
        if col.type != "name" and col.name not in present:
            exprs.append(pl.lit(None, pl.String).alias(col.name))
    out = frame.select(exprs).with_columns(
        pl.when(pl.col(c).str.len_chars() == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c in [e.meta.output_name() for e in exprs]
    )
    out = out.with_row_index("source_row", offset=first_data_row).with_columns(pl.col("source_row").cast(pl.Int32))
    value_cols = [c for c in out.columns if c != "source_row"]
    out = out.filter(~pl.all_horizontal(pl.col(value_cols).is_null()))
    ordered = ["source_row"] + [c.name for c in COLUMNS[kind] if c.type != "name"]
    return out.select(ordered)


def raw_table(rows: pl.DataFrame, kind: str, header: Header, encoding: str, wording: Wording | None,
              sheet: str | None = None) -> RawTable:
    """The RawTable of a file's finished rows, the county's value mappings applied."""
    rows, values_used = apply_values(rows, kind, wording)
    return RawTable(rows, encoding, header.extras, header.index + 1, sheet, header.aliases + values_used)
