"""The clerk's part of a message: many messages carry a Chinese sentence for the office and an
English one after it for the maintainers (kept in the load log and the Dagster records). What a
clerk sees on the terminal is the Chinese only; the English goes to the log (`-v` shows it)."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# An English tail: after a Chinese full stop or closing bracket, a sentence of no Chinese. (After a
# colon, English is a detail the Chinese introduces, such as DuckDB's own words: kept.)
# Where an English tail may start: after a Chinese full stop or closing bracket, at a Latin letter.
_TAIL_START = re.compile(r"[。）！？]\s*(?=[A-Za-z])")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def _is_english(tail: str) -> bool:
    """A sentence for the maintainers: at least two English words, and Chinese at most in what it
    quotes (a path such as /data/模板), far less of it than of English."""
    words = _LATIN_WORD.findall(tail)
    return len(words) >= 2 and len(_CJK.findall(tail)) * 2 < sum(len(w) for w in words)


def chinese_only(message: str) -> str:
    """`message` without a closing English sentence, when it has a Chinese part before it."""
    text = (message or "").rstrip()
    for start in _TAIL_START.finditer(text):  # the first place from which the rest is English
        head, tail = text[:start.end()], text[start.end():]
        if _CJK.search(head) and _is_english(tail):
            return head.rstrip()
    return text
