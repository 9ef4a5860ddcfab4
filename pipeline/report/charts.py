"""The report's charts: one function per chart, plain data in, a matplotlib Figure out.

The functions know nothing of the warehouse or of files; `render.py` feeds them and
saves what they return (`style.figure_svg`, then `render.chart_pngs`). Months are 'YYYY-MM' strings, missing
values are None (drawn as a gap, never as 0). Charts are narrow (about 4 inches) with
large type, so that the same PNG reads on a phone and prints well in the PDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipeline.period import month_count, month_label, months_between
from pipeline.report.formatting import fmt_target, fmt_value
from pipeline.report.style import (ACCENT, GRID, INK, MUTED, SERIES, TARGET, chart_style,
                                   new_figure)

TREND_SIZE = (3.6, 2.5)
WIDE_WIDTH = 4.2
# Each chart bounds its own work, whatever the reference holds (docs/reliability.md):
# the month axis runs on to a target's deadline only when the deadline is at most this
# many months after the last month of data (three years: a target of the current plan
# period); a later deadline is named in the chart instead. A deadline of 9999-12 once made
# an axis of 96,000 months (> 9 GB, > 9 min).
DEADLINE_AXIS_MONTHS = 36
# At most this many bars in a bar chart by 镇街 (half the highest, half the lowest values;
# the others are counted in a note; every 镇街 is in the tables of the XLSX). A chart of
# 10,000 bars took minutes and gigabytes, and could not be read anyway.
MAX_AREA_BARS = 40


# What a chart of the demo says above its title, on a line of its own: a PNG sent on by itself is
# never taken for the county's (the PDF's title and running heads say more).
DEMO_CHART_MARK = "演示数据，非正式统计"
DEMO_CHART_GID = "demo-mark"


def mark_demo(fig: Figure) -> None:
    """The demo mark as the figure's super-title: top left, small, in red; the constrained
    layout makes room for it above the chart's own title."""
    fig.suptitle(DEMO_CHART_MARK, x=0.012, ha="left", fontsize=8, color="#c0392b").set_gid(DEMO_CHART_GID)


def demo_marks(fig: Figure) -> list:
    """The demo marks a figure carries (for tests)."""
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_gid() == DEMO_CHART_GID and t.get_text() == DEMO_CHART_MARK]


def _nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _month_axis(ax, months: list[str]) -> None:
    """Month ticks: every 3, 6 or 12 months by span; the year under January and the first tick."""
    span = len(months)
    step = 3 if span <= 18 else 6 if span <= 48 else 12
    ticks, labels = [], []
    for i, p in enumerate(months):
        month = int(p[5:7])
        if (month - 1) % step:
            continue
        ticks.append(i)
        labels.append(f"{month}月\n{p[:4]}年" if month == 1 or not ticks[:-1] else f"{month}月")
    ax.set_xticks(ticks, labels)
    ax.set_xlim(-0.6, span - 0.4)


def _value_axis(ax, decimals: int, kind: str) -> None:
    if kind == "count":
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    places = 0 if kind in ("count", "percent") else 1
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.{places}f}"))


def _no_data(ax, text: str = "暂无数据") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=MUTED)


def _upper(values: list[float], target: float | None, kind: str) -> float:
    finite = [v for v in values if not math.isnan(v)]
    top = max(finite + ([target] if target is not None else []) + [0.0])
    if kind == "percent":
        return 105.0 if top > 60 else max(top * 1.25, 1.0)
    return max(top * 1.2, 1.0)


def trend_chart(title: str, months: list[str], values: Sequence[float | None], *,
                kind: str, decimals: int, unit: str = "", target: float | None = None,
                comparison: str | None = None, deadline: str | None = None, demo: bool = False) -> Figure:
    """One indicator's county series by month, with its target line and deadline.

    The month axis runs to the deadline when the deadline is later than the last month,
    but at most DEADLINE_AXIS_MONTHS later, so the distance still to go shows; a deadline
    further away is written in the chart's corner instead.
    """
    axis = list(months)
    far_deadline = None
    if deadline and axis and deadline > axis[-1]:
        if month_count(axis[-1], deadline) - 1 <= DEADLINE_AXIS_MONTHS:
            axis = months_between(axis[0], deadline)
        else:
            far_deadline = deadline
    ys = _nan(values) + [math.nan] * (len(axis) - len(values))
    with chart_style():
        fig = new_figure(*TREND_SIZE)
        ax = fig.add_subplot()
        ax.set_title(title)
        _month_axis(ax, axis)
        _value_axis(ax, decimals, kind)
        ax.set_ylim(0, _upper(ys, target, kind))
        xs = list(range(len(axis)))
        ax.plot(xs, ys, color=ACCENT, marker="o", markersize=2.6, zorder=3)
        if target is not None:
            ax.axhline(target, color=TARGET, linestyle=(0, (4, 2)), linewidth=1.0, zorder=2)
            near_top = target > 0.85 * ax.get_ylim()[1]
            ax.text(0.01, target, f"目标{fmt_target(target, comparison, unit)}",
                    transform=ax.get_yaxis_transform(), ha="left",
                    va="top" if near_top else "bottom", color=TARGET, fontsize=8.5)
        if deadline and deadline in axis:
            x = axis.index(deadline)
            ax.axvline(x, color=MUTED, linestyle=(0, (1, 2)), linewidth=1.0, zorder=2)
            ax.text(x - 0.4, 0.03, f"期限\n{month_label(deadline)}",
                    transform=ax.get_xaxis_transform(), ha="right", va="bottom",
                    color=MUTED, fontsize=8)
        elif far_deadline:
            ax.text(0.99, 0.03, f"期限{month_label(far_deadline)}\n（在图示范围之外）",
                    transform=ax.transAxes, ha="right", va="bottom", color=MUTED, fontsize=8)
        last = next((i for i in range(len(values) - 1, -1, -1) if values[i] is not None), None)
        if last is None:
            _no_data(ax)
        else:
            high = ys[last] > 0.8 * ax.get_ylim()[1]
            ax.annotate(fmt_value(values[last], decimals), (last, ys[last]),
                        xytext=(0, -7 if high else 6), textcoords="offset points",
                        ha="center", va="top" if high else "bottom", color=INK, fontsize=9)
        if demo:
            mark_demo(fig)
    return fig


def area_bar_chart(title: str, names: Sequence[str], values: Sequence[float | None],
                   meets: Sequence[bool | None], *, decimals: int, unit: str = "",
                   target: float | None = None, comparison: str | None = None, demo: bool = False) -> Figure:
    """One indicator by 镇街 in the report month, largest first, against the target.

    `meets`: whether each value meets its target, as the warehouse says (None where no
    target applies). Bars that meet it are dark, the others light, and every bar is dark
    without a target; every bar carries its value, and a 镇街 without data says so
    instead of showing an empty bar.
    """
    order = sorted(range(len(names)), key=lambda i: (values[i] is None, -(values[i] or 0), i))
    left_out = max(0, len(order) - MAX_AREA_BARS)
    if left_out:  # the highest and the lowest: the ends a reader looks for
        half = MAX_AREA_BARS // 2
        order = order[:half] + order[-(MAX_AREA_BARS - half):]
    labels = [names[i] for i in order]
    vals = [values[i] for i in order]
    met = [meets[i] for i in order]
    height = 1.1 + 0.34 * max(len(labels), 1)
    with chart_style():
        fig = new_figure(WIDE_WIDTH, height)
        ax = fig.add_subplot()
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        ys = list(range(len(labels)))
        finite = [v for v in vals if v is not None]
        top = max(finite + ([target] if target is not None else []) + [0.0]) * 1.22 or 1.0
        colours = [ACCENT if v is not None and m is not False else "#9db3c8" for v, m in zip(vals, met)]
        ax.barh(ys, [v or 0 for v in vals], color=colours, height=0.62, zorder=3)
        for y, v in zip(ys, vals):
            text = fmt_value(v, decimals) if v is not None else "无数据"
            ax.text((v or 0) + top * 0.01, y, text, va="center", ha="left",
                    color=INK if v is not None else MUTED, fontsize=8.5)
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.set_xlim(0, top)
        ax.tick_params(axis="y", length=0)
        if target is not None:
            ax.axvline(target, color=TARGET, linestyle=(0, (4, 2)), linewidth=1.0, zorder=4)
            ax.text(target, 1.0, f" 目标{fmt_target(target, comparison, unit)}",
                    transform=ax.get_xaxis_transform(), ha="left", va="bottom",
                    color=TARGET, fontsize=8.5)
        notes = []
        if target is not None:
            notes.append("深色：已达到目标　浅色：未达到目标")
        if left_out:
            notes.append(f"共{len(names)}个，列出最高和最低各{MAX_AREA_BARS // 2}个，"
                         f"其余{left_out}个见XLSX工作簿")
        if notes:
            ax.set_xlabel("\n".join(notes), color=MUTED, fontsize=8.5)
        if not labels:
            _no_data(ax)
        if demo:
            mark_demo(fig)
    return fig


def stacked_mix_chart(title: str, months: list[str], counts: dict[str, Sequence[float | None]],
                      *, demo: bool = False) -> Figure:
    """Operating institutions by type, stacked by month (a month without data stays empty)."""
    with chart_style():
        fig = new_figure(WIDE_WIDTH, 3.4)
        ax = fig.add_subplot()
        ax.set_title(title)
        _month_axis(ax, months)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        xs = list(range(len(months)))
        bottom = [0.0] * len(months)
        for k, (name, series) in enumerate(counts.items()):
            heights = [v or 0 for v in series]
            ax.bar(xs, heights, bottom=bottom, color=SERIES[k % len(SERIES)], width=0.72,
                   label=name, zorder=3, edgecolor="white", linewidth=0.4)
            bottom = [b + h for b, h in zip(bottom, heights)]
        if counts:
            fig.legend(loc="outside lower center", ncols=3, handlelength=1.0,
                       columnspacing=1.0)
        else:
            _no_data(ax)
        if demo:
            mark_demo(fig)
    return fig


def multi_line_chart(title: str, months: list[str], series: dict[str, Sequence[float | None]],
                     *, kind: str, decimals: int, target: float | None = None,
                     target_label: str | None = None, demo: bool = False) -> Figure:
    """Several indicators of one unit on one month axis (e.g. the workforce rates)."""
    with chart_style():
        fig = new_figure(WIDE_WIDTH, 3.3)
        ax = fig.add_subplot()
        ax.set_title(title)
        _month_axis(ax, months)
        _value_axis(ax, decimals, kind)
        everything = [v for s in series.values() for v in _nan(s)]
        ax.set_ylim(0, _upper(everything, target, kind))
        xs = list(range(len(months)))
        markers = ["o", "s", "^", "D", "v", "P"]
        for k, (name, values) in enumerate(series.items()):
            ax.plot(xs, _nan(values), color=SERIES[k % len(SERIES)], label=name,
                    marker=markers[k % len(markers)], markersize=2.8, zorder=3)
        if target is not None:
            ax.axhline(target, color=TARGET, linestyle=(0, (4, 2)), linewidth=1.0, zorder=2,
                       label=target_label)
        if series:
            fig.legend(loc="outside lower center", ncols=2, handlelength=1.6,
                       columnspacing=1.2)
        else:
            _no_data(ax)
        ax.grid(axis="y", color=GRID)
        if demo:
            mark_demo(fig)
    return fig
