"""Progress of a long command: a bar on a terminal, plain lines otherwise.

    progress = Progress(62)
    progress.step("reading 托育机构_2023-06.csv")   # what is being worked on now
    progress.advance()                              # one more item done
    progress.close()

On a terminal (the stream is a TTY) one line is redrawn in place with `\\r`:

    [#.........] 12/62 reading 托育机构_2023-06.csv

cut to the terminal's width, counting Chinese characters as two columns. Otherwise (a
log file, cron, a pipe) every `step` prints one plain line, `12/62 reading …`; with a
`sink` (inside a Dagster run: `context.log.info`) the same lines go to the sink instead.

Nothing here imports Dagster; `pipeline.commands.run` turns the run's events into steps.
"""

from __future__ import annotations

import logging
import shutil
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

BAR_WIDTH = 10


def display_width(text: str) -> int:
    """Terminal columns of `text`: wide and full-width characters (Chinese) take two,
    combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def fit(text: str, columns: int) -> str:
    """`text` cut to at most `columns` terminal columns, with `…` when cut."""
    if display_width(text) <= columns:
        return text
    out, used = [], 0
    for ch in text:
        w = 0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used + w > columns - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


class Progress:
    """Counts `done` out of `total` items and shows the item being worked on.

    `tty` defaults to whether `stream` (default: stderr) is a terminal. `sink`, when
    given, receives the plain lines instead of the stream (and no bar is drawn).
    """

    def __init__(self, total: int, *, stream: TextIO | None = None, tty: bool | None = None,
                 sink: Callable[[str], None] | None = None, columns: int | None = None) -> None:
        self.total = max(0, int(total))
        self.done = 0
        self.label = ""
        self._stream = stream if stream is not None else sys.stderr
        self._sink = sink
        if sink is not None:
            tty = False
        elif tty is None:
            isatty = getattr(self._stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self._columns = columns
        self._drawn = 0  # columns of the bar currently on screen (0: nothing drawn)
        self._closed = False

    # ------------------------------------------------------------ counting

    def step(self, label: str) -> None:
        """Show what is being worked on now (does not count it as done)."""
        self.label = " ".join(str(label).split())  # one line, whatever the label holds
        if self.tty:
            self._draw()
        else:
            self._emit(self.plain_line())

    def advance(self, n: int = 1) -> None:
        """Count `n` more items as done."""
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        if self.tty:
            self._draw()

    def set_total(self, total: int) -> None:
        self.total = max(int(total), self.done)
        if self.tty:
            self._draw()

    def close(self, message: str | None = None) -> None:
        """Leave the last bar on its own line (or `message` in its place)."""
        if self._closed:
            return
        self._closed = True
        if self.tty:
            if message is not None:
                self._erase()
                self._stream.write(message + "\n")
            elif self._drawn:
                self._stream.write("\n")
            self._drawn = 0
            self._stream.flush()
        elif message is not None:
            self._emit(message)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ rendering

    def counter(self) -> str:
        return f"{self.done}/{self.total}" if self.total else str(self.done)

    def bar_line(self) -> str:
        """`[#####.....] 12/62 label`, cut to the terminal's width."""
        filled = BAR_WIDTH * self.done // self.total if self.total else 0  # full only when done
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.counter()}"
        if self.label:
            line += f" {self.label}"
        return fit(line, self._width() - 1)

    def plain_line(self) -> str:
        return f"{self.counter()} {self.label}".rstrip()

    def _width(self) -> int:
        return self._columns or shutil.get_terminal_size((100, 24)).columns

    def _draw(self) -> None:
        if self._closed:
            return
        line = self.bar_line()
        width = display_width(line)
        # pad with spaces over what the previous, longer line left behind
        self._stream.write("\r" + line + " " * max(0, self._drawn - width))
        self._stream.flush()
        self._drawn = width

    def _erase(self) -> None:
        if self._drawn:
            self._stream.write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    def _emit(self, line: str) -> None:
        if self._sink is not None:
            self._sink(line)
        else:
            self._stream.write(line + "\n")
            self._stream.flush()

    # ------------------------------------------------------------ other output

    @contextmanager
    def keep_lines_apart(self) -> Iterator[None]:
        """While the bar is shown, anything else written to stderr (log records, warnings)
        first erases the bar, then the bar is drawn again below it, so that the two never
        end up on the same line. A no-op without a bar."""
        if not self.tty or self._stream is not sys.stderr:
            yield
            return
        real = sys.stderr
        guarded = _BarSafeStream(real, self)
        handlers = [h for h in logging.getLogger().handlers
                    if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is real]
        sys.stderr = guarded
        for h in handlers:
            h.setStream(guarded)
        try:
            yield
        finally:
            for h in handlers:
                h.setStream(real)
            sys.stderr = real
            guarded.detach()


class _BarSafeStream:
    """stderr as seen while a bar is drawn on it (see `Progress.keep_lines_apart`)."""

    def __init__(self, real: TextIO, progress: Progress) -> None:
        self._real = real
        self._progress: Progress | None = progress

    def detach(self) -> None:
        self._progress = None  # a handler that kept this stream writes straight through

    def write(self, text: str) -> int:
        progress = self._progress
        if progress is not None:
            progress._erase()
        n = self._real.write(text)
        if progress is not None and text.endswith("\n"):
            progress._draw()
        return n

    def flush(self) -> None:
        self._real.flush()

    def __getattr__(self, name: str):
        return getattr(self._real, name)
