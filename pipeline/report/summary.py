"""The report's opening summary: three to five Chinese sentences written from the data.

1. how many targeted indicators stand in each status;
2. which targets are attained;
3. which are behind (not attained at a passed deadline, regressing, limited progress,
   needs acceleration), with value, target and deadline;
4. what changed since last month (statuses that moved);
5. (only when there is something to say) months without data, files mostly rejected, open
   data-quality flags (how many touch the figures of the targeted indicators) and revised
   figures.

Every sentence is built from the same statuses the scorecard prints, so the two
cannot disagree; `Summary` also returns which indicators each sentence names, for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.marts.quality import touches_indicators
from pipeline.report.data import Indicator, ReportData
from pipeline.period import month_label, shift_month
from pipeline.report.formatting import BEHIND_STATUSES, STATUS_ORDER, STATUS_ZH, fmt_target, fmt_value

MAX_NAMED = 6


@dataclass
class Summary:
    sentences: list[str]
    attained: list[str] = field(default_factory=list)   # indicator ids named as attained
    behind: list[str] = field(default_factory=list)     # indicator ids named as behind
    changed: list[tuple[str, str | None, str | None]] = field(default_factory=list)


def value_with_unit(ind: Indicator, value: float | None) -> str:
    text = fmt_value(value, ind.decimals)
    if value is None:
        return "无数据"
    return f"{text}%" if ind.unit in ("%", "％") else f"{text}{ind.unit}"


def _names(items: list[str]) -> str:
    if len(items) <= MAX_NAMED:
        return "、".join(items)
    return "、".join(items[:MAX_NAMED]) + f"等{len(items)}项"


def write_summary(data: ReportData, revisions: int = 0) -> Summary:
    period = data.period
    previous = shift_month(period, -1)
    targeted = [i for i in data.catalog if i.targeted]
    status = {i.indicator_id: (data.point(i.indicator_id, period).status or "no_data")
              for i in targeted}

    counts = {s: sum(1 for v in status.values() if v == s) for s in STATUS_ORDER}
    parts = [f"{STATUS_ZH[s]}{n}项" for s, n in counts.items() if n]
    overview = "本月均无数据" if counts["no_data"] == len(targeted) else "，".join(parts)
    sentences = [f"截至{month_label(period)}底，{data.county_name}纳入监测的{len(targeted)}项"
                 f"目标指标中，{overview}。"]

    attained = [i for i in targeted if status[i.indicator_id] == "attained"]
    if attained:
        named = [f"{i.name}（{value_with_unit(i, data.point(i.indicator_id, period).value)}）"
                 for i in attained]
        sentences.append(f"已达成目标的有：{_names(named)}。")
    else:
        sentences.append("本月尚无指标达成目标。")

    rank = {s: k for k, s in enumerate(BEHIND_STATUSES)}
    behind = sorted((i for i in targeted if status[i.indicator_id] in rank),
                    key=lambda i: (rank[status[i.indicator_id]], i.sort_order))
    if behind:
        named = []
        for i in behind:
            st = status[i.indicator_id]
            word = "到期未达成" if st == "not_attained" else STATUS_ZH[st]
            named.append(f"{i.name}{value_with_unit(i, data.point(i.indicator_id, period).value)}"
                         f"，目标{fmt_target(i.target, i.comparison, i.unit)}"
                         f"（期限{month_label(i.deadline)}，{word}）")
        shown = named[:MAX_NAMED]
        tail = f"，另有{len(named) - MAX_NAMED}项详见目标监测总表" if len(named) > MAX_NAMED else ""
        sentences.append(f"进度落后的有：{'；'.join(shown)}{tail}。")
    else:
        sentences.append("没有进度落后的目标指标。")

    changed = []
    for i in targeted:
        before = data.point(i.indicator_id, previous).status if previous in data.months else None
        now = status[i.indicator_id]
        if previous in data.months and (before or "no_data") != now:
            changed.append((i.indicator_id, before or "no_data", now))
    if previous not in data.months:
        sentences.append("上月无监测数据，暂无上月情况可比。")
    elif changed:
        moves = [f"{data.indicator(k).name}由“{STATUS_ZH[a]}”变为“{STATUS_ZH[b]}”"
                 for k, a, b in changed]
        sentences.append(f"与上月相比，{'；'.join(moves[:MAX_NAMED])}"
                         f"{f'等{len(moves)}项' if len(moves) > MAX_NAMED else ''}。")
    else:
        sentences.append("与上月相比，各目标指标的状态均无变化。")

    caveats = []
    missing = [i.name for i in data.catalog if data.point(i.indicator_id, period).value is None]
    if missing:
        caveats.append(f"本月{_names(missing)}无数据（相关报表未报送或无可计算对象），"
                       "表中以“—”表示")
    # A file with most of its rows rejected still counts (docs/decisions.md): say so here.
    partial = [KIND_LABEL_ZH.get(kind, kind) for kind in data.untrusted_kinds]
    if partial:
        caveats.append(f"本月{_names(partial)}报表过半数据行未通过校验，相关指标仅依据其余数据行计算，"
                       "请谨慎使用，待更正后的报表重新报送后更新")
    open_flags = [f for f in data.flags if not f["confirmed"]]
    if open_flags:
        headline = {i.indicator_id for i in targeted}
        touching = sum(1 for f in open_flags if touches_indicators(f, headline))
        caveats.append(f"本月有{len(open_flags)}条数据核查提示待核实，其中{touching}条涉及目标指标所用的数字，"
                       "详见数据质量部分的数据核查表")
    if revisions:
        caveats.append(f"因报表修订，上期报告已发布的{revisions}个数值有变动，详见数据质量部分")
    if caveats:
        sentences.append("；".join(caveats) + "。")

    return Summary(sentences, [i.indicator_id for i in attained],
                   [i.indicator_id for i in behind], changed)
