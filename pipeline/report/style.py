"""The report's shared look: Chinese fonts for matplotlib and Typst, colours, chart style.

Fonts come from the PyPI package `pylopdf-fonts-zh-cn` (Noto Sans SC and Noto Serif SC,
Regular only, SIL Open Font License), found through the package itself, so the report
looks the same on every machine and never depends on system fonts.

Byte-stable output: `svg.hashsalt` is fixed (matplotlib's SVG ids are otherwise random),
SVG text is drawn as paths (no font needed where the SVG is read), and `figure_svg`
writes no date or software version into the file.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Iterator
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SANS_FAMILY = "Noto Sans SC"
SERIF_FAMILY = "Noto Serif SC"

# Restrained palette: dark blue-grey ink, one accent, muted status colours.
INK = "#1f2d3d"
MUTED = "#6b7785"
GRID = "#dfe3e8"
ACCENT = "#1f5f8b"
TARGET = "#b3261e"
SERIES = ["#1f5f8b", "#c26d1a", "#3d8b5a", "#7a4f9a", "#8c8c3f", "#4d8fb3", "#a5516b"]

# status → (text colour, fill colour): the word is always printed beside the colour.
STATUS_COLOURS = {
    "attained": ("#1b6b35", "#dcefe1"),
    "on_track": ("#1d5a96", "#dde9f6"),
    "needs_acceleration": ("#8a5a00", "#fbefcc"),
    "limited_progress": ("#a24a00", "#fbe2cf"),
    "regressing": ("#a1221b", "#f6d8d5"),
    "not_attained": ("#a1221b", "#f6d8d5"),
    "insufficient_data": ("#4a4a4a", "#e8e8e8"),
    "no_data": ("#4a4a4a", "#e8e8e8"),
}

# Width of every chart PNG in pixels: a phone screen's width, so that a chart sent on
# its own reads without zooming.
PNG_WIDTH_PX = 1080

CHART_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [SANS_FAMILY],
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titlelocation": "left",
    "axes.titlepad": 8,
    "axes.labelsize": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "axes.unicode_minus": True,
    "grid.color": GRID,
    "grid.linewidth": 0.6,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "text.color": INK,
    "lines.linewidth": 1.6,
    "svg.fonttype": "path",
    "svg.hashsalt": "tuoyu-report",
    "path.simplify": False,
    "figure.dpi": 100,
    "savefig.facecolor": "white",
}


@functools.cache
def font_paths() -> dict[str, Path]:
    """family name → .otf path, from the installed font package."""
    import pylopdf_fonts_zh_cn as fonts

    return {SANS_FAMILY: Path(fonts.sans_path()), SERIF_FAMILY: Path(fonts.serif_path())}


def font_dir() -> Path:
    """The folder that holds the fonts (what Typst's font_paths needs)."""
    return font_paths()[SANS_FAMILY].parent


@functools.cache
def register_fonts() -> None:
    """Make the Chinese fonts known to matplotlib (once per process)."""
    for path in font_paths().values():
        font_manager.fontManager.addfont(str(path))


@contextlib.contextmanager
def chart_style() -> Iterator[None]:
    """The shared chart style, for creating *and* saving a figure."""
    register_fonts()
    with matplotlib.rc_context(CHART_RC):
        yield


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure on the Agg canvas, outside pyplot (nothing global to close)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_svg(fig: Figure) -> bytes:
    """The SVG of `fig`, with no date or software name inside. The chart's PNG is this SVG
    rasterised (report/render.py `chart_pngs`): one drawing, and the same picture as in
    the PDF."""
    with chart_style():
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return svg.getvalue()
