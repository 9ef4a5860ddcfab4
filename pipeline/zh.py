"""The clerk's part of a message: many messages carry a Chinese sentence for the office and an
English one after it for the maintainers (kept in the load log and the Dagster records). What a
clerk sees on the terminal is the Chinese only; the English goes to the log (`-v` shows it)."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# An English tail: after a Chinese full stop or closing bracket, a sentence of no Chinese. (After a
# colon, English is a detail the Chinese introduces, such as DuckDB's own words: kept.)
_TAIL = re.compile(r"(?<=[。）！？])\s*([A-Za-z][^\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]*)$")


def chinese_only(message: str) -> str:
    """`message` without a closing English sentence, when it has a Chinese part before it."""
    text = (message or "").rstrip()
    match = _TAIL.search(text)
    if match is None or not _CJK.search(text[:match.start()]) or not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]",
                                                                                  match.group(1)):
        return text
    return text[:match.start()].rstrip()
