"""Make text safe to put in a spreadsheet cell.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` as a formula (and
some also after a leading tab, CR or LF), so text that came from an extract, such as a
rejected row's message or an institution name, could run a command on the reader's
machine (CSV/formula injection, OWASP). Such text is written with a leading apostrophe,
which the reader sees as plain text. Numbers are not text and are never changed: a
negative number written as a number is safe.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise_cell(value: object) -> object:
    """`value` unchanged unless it is text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
