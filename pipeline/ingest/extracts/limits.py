"""The limits a file must keep to be read (`limits.toml` beside this module, with why).

Checked at the door, before a row is parsed, staged or validated: a file beyond a limit is
rejected whole with a Chinese message naming the file, the row, the column and the limit,
so that nothing it holds reaches the warehouse, and no later step or run can meet it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.ingest.extracts.spec import COLUMNS, Column
from pipeline.ingest.extracts.table import FileRejected

LIMITS_FILE = Path(__file__).with_name("limits.toml")


@dataclass(frozen=True)
class Limits:
    max_csv_bytes: int
    max_xlsx_uncompressed: int
    max_xls_bytes: int
    max_rows: int
    max_columns: int
    max_chars: int
    column_chars: dict[str, int] = field(default_factory=dict)

    def chars(self, column: str | None) -> int:
        """The most characters a cell of `column` may hold (None: a column outside the contract)."""
        return self.column_chars.get(column or "", self.max_chars)


def load_limits(path: Path = LIMITS_FILE) -> Limits:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    files, cells = data.get("file", {}), data.get("cell", {})
    columns = dict(cells.get("columns", {}))
    known = {col.name for cols in COLUMNS.values() for col in cols}
    numbers = [files.get(k) for k in ("max_csv_bytes", "max_xlsx_uncompressed", "max_xls_bytes", "max_rows",
                                        "max_columns")]
    numbers += [cells.get("max_chars"), *columns.values()]
    if not all(isinstance(n, int) and n > 0 for n in numbers) or set(columns) - known:
        raise ValueError(f"{path}: every limit must be a positive integer, and [cell.columns] "
                         f"may name contract columns only (unknown: {sorted(set(columns) - known)})")
    return Limits(files["max_csv_bytes"], files["max_xlsx_uncompressed"], files["max_xls_bytes"], files["max_rows"],
                  files["max_columns"], cells["max_chars"], columns)


LIMITS = load_limits()


def too_large(size: int, filename: str, limit: int | None = None) -> FileRejected:
    limit = LIMITS.max_csv_bytes if limit is None else limit
    return FileRejected(
        f"文件 {filename}：大小 {size // (1024 * 1024)} MB，超过单个报表文件的上限 {limit // (1024 * 1024)} MB，"
        "为安全起见未读取。请确认是否误放了其他文件；确需报送时请按机构或镇街拆分后重新报送。",
        f"File {filename}: {size} bytes, above the limit of {limit} bytes; not read.",
    )


def used_width(cells: list[object]) -> int:
    """Columns up to the last cell that holds something."""
    for i in range(len(cells) - 1, -1, -1):
        value = cells[i]
        if value is not None and str(value).strip():
            return i + 1
    return 0


def too_wide(filename: str, row: int, width: int, limits: Limits | None = None) -> FileRejected:
    limits = limits or LIMITS
    return FileRejected(
        f"文件 {filename}：第 {row} 行有 {width:,} 列，超过上限 {limits.max_columns} 列。整个文件未载入；"
        "请删除表格右侧多余的列后重新报送。",
        f"File {filename}: row {row} has {width} columns, above the limit of {limits.max_columns}; nothing was loaded.",
    )


def check_header(head: list[tuple[int, list[object]]], index: int, filename: str,
                 limits: Limits | None = None) -> None:
    """The header row (0-based `index` among the `head` rows found) within the column limit."""
    limits = limits or LIMITS
    for at, cells in head:
        if at == index and used_width(cells) > limits.max_columns:
            raise too_wide(filename, index + 1, used_width(cells), limits)


def check_rows(frame: pl.DataFrame, mapping: dict[int, Column], filename: str, first_data_row: int,
               limits: Limits | None = None) -> None:
    """The data rows of a file (one text column per column read, the first at file row
    `first_data_row`) against the row, width and cell limits, before anything else is done
    with them. Raises FileRejected naming the first row beyond a limit."""
    limits = limits or LIMITS
    if frame.height > limits.max_rows:
        raise FileRejected(
            f"文件 {filename}：数据超过单个报表文件的上限 {limits.max_rows:,} 行（第 {first_data_row + limits.max_rows:,} "
            "行起超出）。整个文件未载入；请确认是否误放了其他文件，确需报送时请按机构或镇街拆分后重新报送。",
            f"File {filename}: more than {limits.max_rows} data rows; nothing was loaded.",
        )
    if frame.width > limits.max_columns:  # a workbook's used range: some row holds a cell beyond the limit
        beyond = frame.select(pl.any_horizontal(pl.col(frame.columns[limits.max_columns:]).is_not_null()))
        first = beyond.to_series().arg_true()
        if first.len():
            raise too_wide(filename, first_data_row + int(first[0]), frame.width, limits)
    over: list[tuple[int, int, str, int, int]] = []  # (row index, column index, label, length, limit)
    for i, name in enumerate(frame.columns):
        col = mapping.get(i)
        limit = limits.chars(col.name if col else None)
        lengths = frame.get_column(name).cast(pl.String).str.len_chars()
        rows = (lengths > limit).arg_true()
        if rows.len():
            label = f"第 {i + 1} 列（{col.header}）" if col else f"第 {i + 1} 列"
            over.append((int(rows[0]), i, label, int(lengths[int(rows[0])]), limit))
    if over:
        index, _, label, length, limit = min(over)
        raise FileRejected(
            f"文件 {filename}：第 {first_data_row + index} 行{label}有 {length:,} 个字符，超过该列上限 {limit:,} 个字符"
            f"{'（另有其他单元格超限）' if len(over) > 1 else ''}。整个文件未载入；"
            "请检查该单元格是否误粘贴了其他内容，更正后重新报送。",
            f"File {filename}: row {first_data_row + index}, column {index + 1}: {length} characters, "
            f"above the limit of {limit}; nothing was loaded.",
        )
