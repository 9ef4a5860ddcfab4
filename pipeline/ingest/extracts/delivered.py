"""A file's rows as its sender delivered them: every column of its header row, every cell as
the text read, names and id numbers included, numbered like the ingest numbers them
(`source_row`). Only for the 退回修改清单 of `tuoyu check`, which goes back to the sender:
nothing read here is written to the warehouse, a log or the terminal.
"""

from __future__ import annotations

import io

import polars as pl

from pipeline.ingest.extracts.csv_reader import _head_rows, _unix_line_ends, decode_csv
from pipeline.ingest.extracts.table import MAX_HEAD_LINES, FileRejected, find_header, non_blank


def _named(frame: pl.DataFrame, header: list[object], header_row: int) -> pl.DataFrame:
    """Columns named by the header's text (blank or repeated headers get 第N列), the rows
    numbered from the row under the header, blank rows dropped."""
    names: list[str] = []
    for i in range(frame.width):
        text = str(header[i]).strip() if i < len(header) and header[i] is not None else ""
        names.append(text if text and text not in names else f"第{i + 1}列")
    frame = frame.rename(dict(zip(frame.columns, names, strict=True))).cast(pl.String)
    frame = frame.with_row_index("源文件行号", offset=header_row + 1).with_columns(pl.col("源文件行号").cast(pl.Int64))
    cells = [c for c in frame.columns if c != "源文件行号"]
    blank = pl.all_horizontal(pl.col(cells).is_null() | (pl.col(cells).str.strip_chars() == ""))
    return frame.filter(~blank) if cells else frame


def _csv_rows(data: bytes, kind: str, filename: str) -> pl.DataFrame:
    text, _ = decode_csv(data, filename)
    text = _unix_line_ends(text)
    index = find_header(_head_rows(text), kind, filename).index
    header = next(cells for i, cells in _head_rows(text) if i == index)
    frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), has_header=False, skip_rows=index + 1,
                        infer_schema=False, truncate_ragged_lines=True, quote_char='"',
                        missing_utf8_is_empty_string=True)
    return _named(frame, header, index + 1)


def _xlsx_rows(data: bytes, kind: str, filename: str) -> pl.DataFrame:
    """The first sheet holding the header (the ingest reads the first sheet; should it read
    another one holding every required header, this finds the same)."""
    import fastexcel

    reader = fastexcel.read_excel(data)
    problem: FileRejected | None = None
    for sheet in range(len(reader.sheet_names)):
        frame = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string").to_polars()
        head = non_blank(enumerate(list(r) for r in frame.head(MAX_HEAD_LINES).iter_rows()))
        try:
            index = find_header(head, kind, filename).index
        except FileRejected as exc:
            problem = problem or exc
            continue
        header = list(frame.row(index))
        body = frame.slice(index + 1).with_columns(
            # a date cell as fastexcel writes it (`2024-06-15 00:00:00`): the date, as the ingest keeps it
            pl.col(c).str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "$1") for c in frame.columns)
        return _named(body, header, index + 1)
    raise problem or FileRejected(f"文件 {filename}：没有工作表。", f"File {filename}: no worksheet.")


def delivered_rows(data: bytes, kind: str, ext: str, filename: str) -> pl.DataFrame:
    """`源文件行号` and every column of the file's header row, as text."""
    if ext == "csv":
        return _csv_rows(data, kind, filename)
    return _xlsx_rows(data, kind, filename)
