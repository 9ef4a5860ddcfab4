"""The floor: the least any pipeline must do with an inbox, timed as its own process.

    python bench/floor.py INBOX DATABASE [--json FILE]

Reads every extract below INBOX into memory as text with polars (a CSV as UTF-8, or as
GB18030 when it is not UTF-8; an XLSX with fastexcel, every cell as a string) and writes
each file's rows into its own table of a new DuckDB file. No header matching, parsing,
checking or pseudonymising: the irreducible cost of reading the files and storing their
rows, against which the pipeline's time is compared.

A file that neither reader accepts (the sample's deliberately broken ones) is counted as
skipped. Prints one JSON line (files, rows, bytes, skipped); `--json` also writes it.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
from pathlib import Path

import duckdb
import polars as pl

# Title rows above the header have fewer fields than the data: the widest of the first
# lines gives the table's width (polars would otherwise take the first line's).
SNIFF_LINES = 20


def _width(text: str) -> int:
    head = io.StringIO("\n".join(text.splitlines()[:SNIFF_LINES]))
    return max((len(row) for row in csv.reader(head)), default=1) or 1


def read_csv(path: Path) -> pl.DataFrame:
    data = path.read_bytes()
    if b"\x00" in data[:65536]:
        raise ValueError("NUL bytes: not a text CSV")
    # Commas, quotes and line ends are ASCII in UTF-8 and GB18030 alike: a lossy decode of
    # the head is enough to count the fields.
    schema = {f"c{i}": pl.String for i in range(_width(data[:65536].decode("utf-8", errors="replace")))}
    options = dict(has_header=False, schema=schema, truncate_ragged_lines=True)
    try:
        return pl.read_csv(io.BytesIO(data), encoding="utf8", **options)
    except pl.exceptions.ComputeError:  # not UTF-8: the office's other encoding
        return pl.read_csv(io.BytesIO(data), encoding="gb18030", **options)


def read_xlsx(path: Path) -> pl.DataFrame:
    import fastexcel

    return fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars()


def extracts(inbox: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(inbox):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files)
                  if not f.startswith((".", "~$")) and f.lower().endswith((".csv", ".xlsx"))]
    return found


def floor(inbox: Path, database: Path) -> dict[str, int]:
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    files = rows = size = skipped = 0
    try:
        for number, path in enumerate(extracts(inbox)):
            try:
                frame = read_xlsx(path) if path.suffix.lower() == ".xlsx" else read_csv(path)
            except Exception:  # the sample's broken files: neither reader takes them
                skipped += 1
                continue
            con.register("incoming", frame)
            con.execute(f'create table "file_{number:05d}" as select * from incoming')
            con.unregister("incoming")
            files += 1
            rows += frame.height
            size += path.stat().st_size
        con.execute("checkpoint")
    finally:
        con.close()
    return {"files": files, "rows": rows, "bytes": size, "skipped": skipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inbox", type=Path)
    parser.add_argument("database", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = floor(args.inbox, args.database)
    line = json.dumps(result)
    print(line)
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
