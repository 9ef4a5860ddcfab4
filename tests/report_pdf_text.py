"""Read the text back out of a report PDF, in pure Python (no poppler needed in CI).

Enough of PDF for what Typst writes: plain indirect objects, Flate-compressed content
streams, Type0 fonts with Identity-H encoding and a ToUnicode CMap, text shown with
Tj / TJ. Returns, per page, the text runs in drawing order, each with the font it is
drawn in and the glyph codes, so tests can check words, numbers and glyph coverage.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_OBJ = re.compile(rb"(\d+)\s+(\d+)\s+obj\b")
_REF = rb"(\d+)\s+\d+\s+R"


@dataclass
class Run:
    font: str            # BaseFont, e.g. "ABCDEF+NotoSansSC-Regular-Identity-H"
    text: str
    codes: list[int]     # glyph ids (Identity-H: CIDs = glyph ids)


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    out: dict[int, tuple[bytes, bytes | None]] = {}
    pos = 0
    while (m := _OBJ.search(pdf, pos)) is not None:
        start = m.end()
        end = pdf.find(b"endobj", start)
        stream_at = pdf.find(b"stream", start)
        if stream_at != -1 and stream_at < end:
            head = pdf[start:stream_at]
            length = int(re.search(rb"/Length\s+(\d+)", head).group(1))
            data_start = stream_at + len(b"stream")
            data_start += 2 if pdf[data_start:data_start + 2] == b"\r\n" else 1
            data = pdf[data_start:data_start + length]
            if b"/FlateDecode" in head:
                data = zlib.decompress(data)
            out[int(m.group(1))] = (head, data)
            pos = pdf.find(b"endobj", data_start + length) + 6
        else:
            out[int(m.group(1))] = (pdf[start:end], None)
            pos = end + 6
    return out


def _cmap(data: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}

    def uni(hexstr: bytes) -> str:
        return bytes.fromhex(hexstr.decode()).decode("utf-16-be")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(src, 16)] = uni(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])", block):
            lo_i, hi_i = int(lo, 16), int(hi, 16)
            if dst.startswith(b"["):
                for k, d in enumerate(re.findall(rb"<([0-9A-Fa-f]+)>", dst)):
                    mapping[lo_i + k] = uni(d)
            else:
                base = uni(dst[1:-1])
                for k in range(hi_i - lo_i + 1):
                    mapping[lo_i + k] = base[:-1] + chr(ord(base[-1]) + k)
    return mapping


def _literal(data: bytes, i: int) -> tuple[bytes, int]:
    """The literal string starting at data[i] == '(' → (bytes, index after ')')."""
    out, depth, i = bytearray(), 1, i + 1
    escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
    while True:
        c = data[i]
        if c == ord("\\"):
            nxt = data[i + 1]
            if nxt in escapes:
                out.append(escapes[nxt]); i += 2
            elif ord("0") <= nxt <= ord("7"):
                j = i + 1
                while j < i + 4 and ord("0") <= data[j] <= ord("7"):
                    j += 1
                out.append(int(data[i + 1:j], 8) & 0xFF); i = j
            elif nxt in (10, 13):
                i += 2
            else:
                out.append(nxt); i += 2
        elif c == ord("("):
            depth += 1; out.append(c); i += 1
        elif c == ord(")"):
            depth -= 1
            if depth == 0:
                return bytes(out), i + 1
            out.append(c); i += 1
        else:
            out.append(c); i += 1


_TOKEN = re.compile(rb"\s*(?:(\()|<([0-9A-Fa-f\s]*)>|(\[)|(\])|(/[^\s/\[\]()<>]+)|"
                    rb"([+-]?\d*\.?\d+)|(<<|>>)|([A-Za-z'\"*]+\d?\*?))")


def _content_runs(data: bytes, fonts: dict[str, tuple[str, dict[int, str]]]) -> list[Run]:
    runs: list[Run] = []
    stack: list = []
    current: tuple[str, dict[int, str]] | None = None
    array: list | None = None
    i = 0
    while i < len(data):
        m = _TOKEN.match(data, i)
        if m is None:
            i += 1
            continue
        if m.group(1):
            value, i = _literal(data, m.start(1))
        else:
            i = m.end()
            if m.group(2) is not None:
                value = bytes.fromhex(re.sub(rb"\s", b"", m.group(2)).decode())
            elif m.group(3):
                array = []
                continue
            elif m.group(4):
                stack.append(array or [])
                array = None
                continue
            elif m.group(5) or m.group(6) or m.group(7):
                value = (m.group(5) or m.group(6) or m.group(7)).decode()
            else:
                op = m.group(8).decode()
                if op == "Tf" and len(stack) >= 2:
                    current = fonts.get(str(stack[-2]).lstrip("/"))
                elif op in ("Tj", "TJ", "'", '"') and stack and current is not None:
                    parts = stack[-1] if isinstance(stack[-1], list) else [stack[-1]]
                    codes = [int.from_bytes(p[k:k + 2], "big") for p in parts
                             if isinstance(p, bytes) for k in range(0, len(p), 2)]
                    runs.append(Run(current[0], "".join(current[1].get(c, "\ufffd") for c in codes),
                                    codes))
                stack = []
                continue
        if array is not None:
            array.append(value)
        else:
            stack.append(value)
    return runs


def pdf_runs(pdf: bytes) -> list[list[Run]]:
    """Text runs of every page, in page order."""
    objs = _objects(pdf)

    def deref(head: bytes, key: bytes) -> bytes | None:
        m = re.search(rb"/" + key + rb"\s*" + _REF, head)
        return objs[int(m.group(1))][0] if m else None

    root_pages = next(h for h, _ in objs.values() if re.search(rb"/Type\s*/Pages", h)
                      and b"/Parent" not in h)
    page_ids = [int(x) for x in re.findall(_REF, re.search(rb"/Kids\s*\[(.*?)\]", root_pages,
                                                           re.S).group(1))]
    font_cache: dict[int, tuple[str, dict[int, str]]] = {}
    pages = []
    for pid in page_ids:
        head = objs[pid][0]
        resources = deref(head, b"Resources") or head
        fonts = {}
        fm = re.search(rb"/Font\s*<<(.*?)>>", resources, re.S)
        for name, ref in re.findall(rb"/([^\s/<>]+)\s*" + _REF, fm.group(1) if fm else b""):
            ref_i = int(ref)
            if ref_i not in font_cache:
                fhead = objs[ref_i][0]
                base = re.search(rb"/BaseFont\s*/([^\s/<>\[]+)", fhead).group(1).decode()
                tu = re.search(rb"/ToUnicode\s*" + _REF, fhead)
                font_cache[ref_i] = (base, _cmap(objs[int(tu.group(1))][1]) if tu else {})
            fonts[name.decode()] = font_cache[ref_i]
        contents = re.search(rb"/Contents\s*(\[.*?\]|" + _REF + rb")", head, re.S)
        ids = [int(x) for x in re.findall(_REF, contents.group(0))]
        data = b"\n".join(objs[k][1] or b"" for k in ids)
        pages.append(_content_runs(data, fonts))
    return pages


def pdf_text(pdf: bytes) -> str:
    """All text, one run per line, pages separated by a form feed."""
    return "\f".join("\n".join(r.text for r in page) for page in pdf_runs(pdf))
