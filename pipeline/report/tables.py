"""The report's tables, as plain data shared by the PDF, the phone card and the XLSX.

A table cell is either a string or a dict:

    {"text": "3.14", "num": 3.14, "fmt": "0.00"}       a figure (num None when "—")
    {"text": "需加快", "status": "needs_acceleration"}   a target status (word + colour)
    {"text": "未报送", "tone": "bad"}                    a word to print in colour

Every figure goes through `num` or `change`, i.e. through the handbook's rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.report.data import Indicator, ReportData
from pipeline.period import month_label, shift_month
from pipeline.report.formatting import (DASH, DASH_NOTE, KIND_ZH, STATUS_ZH, fmt_change, fmt_target, fmt_value,
                                        rounded)

MAX_AREA_COLUMNS = 6
MAX_REVISIONS_SHOWN = 40
# 镇街 rows of a table by 镇街 in the PDF (the XLSX holds them all), so that the report's
# pages, time and memory stay flat however many 镇街 the reference lists (10,000 towns once
# took the report > 220 s and > 6 GB). A county has under 100 镇街; 50 covers most whole.
MAX_AREA_ROWS = 50
MAX_FLAGS_SHOWN = 40
STATUS_NOTE = ("状态按《指标手册》判定：期限已到，达到目标为“已达成”，否则为“未达成”；期限未到，"
               "已达到目标为“已达成”，否则按近12个月实际进度与所需进度之比判定：≥0.95为“按期推进”，"
               "0.6～0.95为“需加快”，0～0.6为“进展有限”，小于0为“倒退”；有值月份不足两个为“数据不足”。")
CHANGE_NOTE = ("环比增减为本月与上月之差，同比增减为本月与上年同月之差，均按表中修约后的数值计算；"
               "百分比指标的增减单位为百分点。")
ROUNDING_NOTE = "数值修约：计数取整数，每千人口指标保留2位小数，百分比保留1位小数。"

@dataclass
class Table:
    key: str                      # sheet name / id
    title: str                    # "表1 …"
    header: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    widths: list[str] | None = None   # Typst column widths, e.g. ["auto", "1fr"]
    align: str | None = None          # one letter per column: l, c, r
    groups: list[tuple[str, int]] | None = None   # a header row above `header`: (label, span)
    max_rows: int | None = None   # rows shown in the PDF (the XLSX holds all)
    keep_last: int = 0            # of them, the last rows of `rows` (a total row) when cut

    def shown_rows(self) -> list[list[Any]]:
        """The rows the PDF shows: at most `max_rows`, the last `keep_last` kept."""
        if self.max_rows is None or len(self.rows) <= self.max_rows:
            return self.rows
        head = self.rows[:self.max_rows - self.keep_last]
        return head + (self.rows[-self.keep_last:] if self.keep_last else [])

    def flat_header(self) -> list[str]:
        """`header` with the group label in front (for a one-row spreadsheet header)."""
        if not self.groups:
            return list(self.header)
        labels = [g for g, span in self.groups for _ in range(span)]
        return [f"{g}·{h}" if g else h for g, h in zip(labels, self.header)]


def num(value: float | None, decimals: int) -> dict[str, Any]:
    return {"text": fmt_value(value, decimals), "num": rounded(value, decimals),
            "fmt": "0" if decimals == 0 else "0." + "0" * decimals}


def change(now: float | None, before: float | None, decimals: int) -> dict[str, Any]:
    text = fmt_change(now, before, decimals)
    return {"text": text, "num": None if text == DASH else float(text),
            "fmt": "+0;-0;0" if decimals == 0 else f"+0.{'0' * decimals};-0.{'0' * decimals};0.{'0' * decimals}"}


def status_cell(status: str | None) -> dict[str, Any]:
    status = status or "no_data"
    return {"text": STATUS_ZH.get(status, status), "status": status}


def name_with_unit(ind: Indicator) -> str:
    return f"{ind.name}（{ind.unit}）" if ind.unit else ind.name


def _has_dash(rows: list[list[Any]]) -> bool:
    return any((c.get("text") if isinstance(c, dict) else c) == DASH for row in rows for c in row)


def _with_dash_note(table: Table) -> Table:
    if _has_dash(table.rows):
        table.notes.append(DASH_NOTE)
    return table


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

def scorecard_table(data: ReportData) -> Table:
    p, prev, year_ago = data.period, shift_month(data.period, -1), shift_month(data.period, -12)
    rows = []
    for n, ind in enumerate((i for i in data.catalog if i.targeted), start=1):
        now = data.point(ind.indicator_id, p)
        rows.append([str(n), name_with_unit(ind), num(now.value, ind.decimals),
                     fmt_target(ind.target, ind.comparison, ind.unit), month_label(ind.deadline),
                     status_cell(now.status),
                     change(now.value, data.point(ind.indicator_id, prev).value, ind.decimals),
                     change(now.value, data.point(ind.indicator_id, year_ago).value, ind.decimals),
                     ind.lead_unit or DASH])
    table = Table("目标监测总表", "表1　目标指标监测总表",
                  ["序号", "指标（单位）", "本月值", "目标值", "期限", "状态", "环比增减", "同比增减",
                   "牵头单位"], rows, [CHANGE_NOTE, STATUS_NOTE],
                  ["auto", "1fr", "auto", "auto", "auto", "auto", "auto", "auto", "auto"],
                  "clrrcccrc")
    return _with_dash_note(table)


def other_indicators_table(data: ReportData) -> Table:
    p, prev, year_ago = data.period, shift_month(data.period, -1), shift_month(data.period, -12)
    rows = []
    for n, ind in enumerate((i for i in data.catalog if not i.targeted), start=1):
        now = data.point(ind.indicator_id, p).value
        before = data.point(ind.indicator_id, prev).value
        old = data.point(ind.indicator_id, year_ago).value
        rows.append([str(n), name_with_unit(ind), num(now, ind.decimals), num(before, ind.decimals),
                     change(now, before, ind.decimals), num(old, ind.decimals),
                     change(now, old, ind.decimals), ind.lead_unit or DASH])
    table = Table("其他监测指标", "表2　其他监测指标（未设目标）",
                  ["序号", "指标（单位）", "本月值", "上月值", "环比增减", "上年同月值", "同比增减",
                   "牵头单位"], rows, [], ["auto", "1fr"] + ["auto"] * 6, "clrrrrrc")
    return _with_dash_note(table)


def verdict_tables(data: ReportData, first_number: int) -> list[Table]:
    """One table per target deadline (marts.target_verdicts): the verdict at the deadline,
    or, for a deadline after the report month, the month's value and status.

    Values, verdicts, statuses and the gap (差距, marts.target_checks.shortfall: the target
    minus the value, 0 when it is met) are the marts'; nothing is compared here.
    """
    catalog = {i.indicator_id: i for i in data.catalog}
    targets = [v for v in data.verdicts if v["indicator_id"] in catalog]
    tables = []
    for k, deadline in enumerate(sorted({t["deadline"] for t in targets})):
        due = deadline <= data.period
        rows = []
        chosen = sorted((t for t in targets if t["deadline"] == deadline),
                        key=lambda t: catalog[t["indicator_id"]].sort_order)
        for t in chosen:
            ind = catalog[t["indicator_id"]]
            if due:
                value, shortfall = t["deadline_value"], t["shortfall"]
                # pending: the deadline is after the data's last month, so it has no value
                verdict = status_cell("no_data" if t["verdict"] == "pending" else t["verdict"])
                note = "超出规划数量区间" if t["beyond_planned_range"] else ""
            else:
                now = data.point(ind.indicator_id, data.period)
                value, shortfall = now.value, now.shortfall
                verdict = {"text": "未到期", "status": None}
                note = f"当前：{STATUS_ZH.get(now.status or 'no_data')}"
            rows.append([name_with_unit(ind), fmt_target(t["target_value"], t["comparison"], ind.unit),
                         num(value, ind.decimals), verdict, num(shortfall, ind.decimals), note])
        label = month_label(deadline)
        head = "期限时数值" if due else "本月值"
        title = (f"表{first_number + k}　{deadline[:4]}年目标完成情况（期限{label}）"
                 + ("" if due else "：尚未到期"))
        notes = [] if due else [f"期限未到，列示{month_label(data.period)}数值和当前状态。"]
        notes.append("差距为目标值与数值之差，已达到目标的为0。")
        tables.append(_with_dash_note(Table(
            f"{deadline[:4]}年目标", title, ["指标（单位）", "目标值", head, "结论", "差距", "说明"],
            rows, notes, ["1fr", "auto", "auto", "auto", "auto", "auto"], "lrrcrl")))
    return tables


def area_tables(data: ReportData, first_number: int) -> list[Table]:
    """镇街 × indicator in the report month, a few indicators per table, county last."""
    inds = [i for i in data.catalog if i.area_level]
    n_tables = max(1, -(-len(inds) // MAX_AREA_COLUMNS))
    base, extra = divmod(len(inds), n_tables)   # balanced: 16 indicators → 6, 5, 5
    chunks, start = [], 0
    for k in range(n_tables):
        end = start + base + (k < extra)
        chunks.append(inds[start:end])
        start = end
    tables = []
    for k, chunk in enumerate(chunks):
        rows = []
        for area in data.areas:
            rows.append([area["area_name"], area.get("area_type") or ""] +
                        [num(data.by_area.get(i.indicator_id, {}).get(area["area_code"]).value
                             if data.by_area.get(i.indicator_id, {}).get(area["area_code"]) else None,
                             i.decimals) for i in chunk])
        rows.append([f"{data.county_name}（全县）", ""] +
                    [num(data.point(i.indicator_id, data.period).value, i.decimals) for i in chunk])
        notes = []
        if len(data.areas) > MAX_AREA_ROWS:
            notes.append(f"共{len(data.areas)}个镇街，此处按代码顺序列出前{MAX_AREA_ROWS}个和全县合计，"
                         "全部见同期XLSX工作簿。")
        tables.append(_with_dash_note(Table(
            f"镇街比较{k + 1}", f"表{first_number + k}　各镇街主要指标（{month_label(data.period)}）"
            + (f"（{k + 1}）" if len(chunks) > 1 else ""),
            ["镇街", "类型"] + [f"{i.name}\n（{i.unit}）" if i.unit else i.name for i in chunk],
            rows, notes,
            ["auto", "auto"] + ["1fr"] * len(chunk), "lc" + "r" * len(chunk),
            max_rows=MAX_AREA_ROWS + 1, keep_last=1)))
    return tables


def mix_table(data: ReportData, number: int) -> Table:
    rows_now = [r for r in data.mix if r["period"] == data.period]
    total = sum(r["institutions"] or 0 for r in rows_now)
    places_total = sum(r["places"] or 0 for r in rows_now)
    has_places = any(r["places"] is not None for r in rows_now)
    rows = []
    for r in sorted(rows_now, key=lambda r: (-(r["institutions"] or 0), r["institution_type"])):
        share = 100 * (r["institutions"] or 0) / total if total else None
        row = [r["institution_type"], num(r["institutions"], 0), num(share, 1)]
        if has_places:
            pshare = 100 * (r["places"] or 0) / places_total if places_total else None
            row += [num(r["places"], 0), num(pshare, 1)]
        rows.append(row)
    header = ["机构类型", "机构数（家）", "占比（%）"] + (["核定托位数（个）", "托位占比（%）"]
                                                       if has_places else [])
    notes = ["仅统计正常运营的机构。"]
    if not rows:
        rows = [["本月无机构数据"] + [""] * (len(header) - 1)]
    return _with_dash_note(Table("机构类型", f"表{number}　正常运营机构类型构成（{month_label(data.period)}）",
                                 header, rows, notes, ["1fr"] + ["auto"] * (len(header) - 1),
                                 "l" + "r" * (len(header) - 1)))


def files_table(data: ReportData, number: int) -> Table:
    kinds = list(KIND_ZH)
    found = {(q.get("period"), q.get("kind")): q for q in data.quality}
    rows = []
    for k in range(11, -1, -1):
        month = shift_month(data.period, -k)
        if month < data.months[0]:
            continue
        row = [month_label(month)]
        for kind in kinds:
            q = found.get((month, kind))
            present = bool(q and q.get("file_present"))
            if present and q.get("status") == "file_rejected":
                state = {"text": "整份拒收", "tone": "bad"}
            elif present:
                state = "已修订" if q.get("revised") else "已报送"
            else:
                state = {"text": "未报送", "tone": "bad"}
            row += [state, num(q.get("rows_read"), 0) if present else DASH,
                    num(q.get("rows_rejected"), 0) if present else DASH]
        rows.append(row)
    header = ["月份"] + [h for _k in kinds for h in ("报送", "读入行", "拒收行")]
    received = sum(1 for r in rows for c in r[1::3] if isinstance(c, str))
    notes = [f"近{len(rows)}个月应报{len(rows) * len(kinds)}份，可用{received}份。"
             "“已修订”指该月报表曾重新报送，以最新一版为准；“整份拒收”指报表无法读取，"
             "该月按无数据处理。",
             "“—”表示该月未报送此报表。"]
    return Table("报表接收", f"表{number}　近12个月报表接收情况", header, rows, notes,
                 ["auto"] + ["1fr"] * 9, "l" + "crr" * 3,
                 groups=[("", 1)] + [(KIND_ZH[k], 3) for k in kinds])


def rejected_table(data: ReportData, number: int) -> Table:
    rows = [[KIND_ZH.get(r["kind"], r["kind"]), r["rule_id"], num(r["rows_this_month"], 0),
             num(r["rows_12_months"], 0), r["typical_message"] or ""] for r in data.rejected]
    if not rows:
        rows = [["近12个月无拒收行", "", "", "", ""]]
    return Table("拒收行", f"表{number}　拒收行按规则统计", ["报表", "规则编号", "本月行数",
                                                       "近12个月行数", "说明（示例）"], rows,
                 ["拒收行未计入任何指标；某机构被剔除的行用 tuoyu fix <机构编号> 查看。"],
                 ["auto", "auto", "auto", "auto", "1fr"], "llrrl")


def revisions_table(data: ReportData, published: list[tuple], number: int) -> tuple[Table, int]:
    """The county's figures that differ from what its previous report printed."""
    area_names = {a["area_code"]: a["area_name"] for a in data.areas}
    area_names[data.county_code] = data.county_name
    return revised_values_table(data.catalog, area_names, data.previous_report, data.previous_published,
                                published, number)


def revised_values_table(catalog: list[Indicator], area_names: dict[str, str], previous_report: str | None,
                         previous_published: dict, published: list[tuple], number: int) -> tuple[Table, int]:
    """Every figure this report prints (`published`: indicator, month, area, value rounded,
    text) whose printed text differs from what the previous report (`previous_report`, whose
    figures are `previous_published`) printed for the same indicator, month and area; and
    how many there are. A county's report and a prefecture's alike."""
    names = {i.indicator_id: i for i in catalog}
    changed = []
    for ind, month, area, _value, text in published:
        old = previous_published.get((ind, month, area))
        if old is not None and old["value_text"] != text:
            changed.append((names[ind].sort_order if ind in names else 0, month, area, ind,
                            old["value_text"], text))
    changed.sort()
    rows = [[name_with_unit(names[ind]) if ind in names else ind, month_label(month),
             area_names.get(area, area), old, new]
            for _o, month, area, ind, old, new in changed]
    notes = []
    if previous_report is None:
        notes.append("此前没有已发布报告的记录，自本期起记录各期发布的数值。")
        rows = rows or [["无可比较的上期报告", "", "", "", ""]]
    else:
        notes.append(f"与{month_label(previous_report)}报告所发布数值相比。")
        if not rows:
            rows = [["上期报告发布的数值均未变动", "", "", "", ""]]
    if len(changed) > MAX_REVISIONS_SHOWN:
        notes.append(f"共{len(changed)}个数值变动，此处列出前{MAX_REVISIONS_SHOWN}个，"
                     "全部见同期XLSX工作簿“数值修订”表。")
    return Table("数值修订", f"表{number}　上期报告以来修订的数值",
                 ["指标（单位）", "月份", "地区", "上期报告数值", "本期数值"], rows, notes,
                 ["1fr", "auto", "auto", "auto", "auto"], "lllrr",
                 max_rows=MAX_REVISIONS_SHOWN), len(changed)


def series_table(data: ReportData) -> Table:
    """Every indicator's county value by month (what the trend charts draw); XLSX only."""
    rows = [[name_with_unit(i)] + [num(data.point(i.indicator_id, m).value, i.decimals)
                                    for m in data.months] for i in data.catalog]
    return _with_dash_note(Table("月度数值", f"全县各指标月度数值（{month_label(data.months[0])}至"
                                 f"{month_label(data.period)}）", ["指标（单位）"] + data.months,
                                 rows, []))


def definitions_table(data: ReportData) -> Table:
    rows = []
    for ind in data.catalog:
        levels = "县、镇街" if ind.area_level else "县"
        target = (f"{fmt_target(ind.target, ind.comparison, ind.unit)}\n{month_label(ind.deadline)}"
                  if ind.targeted else "未设")
        rows.append([ind.name, ind.unit, levels, ind.definition, ind.clause or DASH, target,
                     ind.lead_unit or DASH])
    return Table("指标定义", "附表1　指标定义", ["指标", "单位", "层级", "定义", "政策条款", "目标",
                                         "牵头单位"], rows, [ROUNDING_NOTE],
                 ["auto", "auto", "auto", "1fr", "auto", "auto", "auto"], "lcclccc")


def measures_table(data: ReportData) -> Table:
    names = {i.indicator_id: i.name for i in data.catalog}
    rows = []
    for m in data.measures:
        ids = [s.strip() for s in (m.get("indicator_ids") or "").split(",") if s.strip()]
        rows.append([str(m["measure_no"]), m["title_zh"], m.get("lead_unit") or DASH,
                     "、".join(names.get(i, i) for i in ids) or "未监测",
                     m.get("coverage_note_zh") or ""])
    return Table("政策措施覆盖", "附表2　政策措施监测覆盖情况",
                 ["序号", "工作措施", "牵头单位", "监测指标", "说明"], rows,
                 ["“未监测”的措施，月度报表不含反映其进展的数据。"],
                 ["auto", "1fr", "auto", "1fr", "1fr"], "clcll")


def quality_flags_table(data: ReportData, number: int) -> Table:
    """The month's data-quality flags (marts.quality_flags, docs/quality.md): what to verify
    before the figures are used; the confirmed ones last, marked 已核实 with their note."""
    from pipeline.marts.quality import CONFIRMED_ZH, MEASURES_ZH, check_zh, expected_text, value_text, verify_zh, who_zh

    rows = []
    for f in data.flags:
        check = check_zh(f["check_id"]) + (f"\n{MEASURES_ZH[f['measure']]}" if f["measure"] in MEASURES_ZH else "")
        todo = ({"text": f"{CONFIRMED_ZH}：{f['note']}", "tone": "done"} if f["confirmed"]
                else verify_zh(f["check_id"]))
        rows.append([who_zh(f, "\n"), check, value_text(f), expected_text(f), todo])
    open_ = sum(1 for f in data.flags if not f["confirmed"])
    notes = ["数据核查提示不改变任何指标数值，只提示需要向机构核实的数字；“正常范围”内的数值不会被提示。"
             "核实后数字无误的，由统计局用 tuoyu quality confirm 记为“已核实”。"]
    if data.flags:
        notes.insert(0, f"本月共{len(data.flags)}条提示，其中待核实{open_}条、已核实{len(data.flags) - open_}条。")
    else:
        rows = [["本月没有数据核查提示", "", "", "", ""]]
    if len(data.flags) > MAX_FLAGS_SHOWN:
        notes.append(f"此处列出前{MAX_FLAGS_SHOWN}条，全部见同期XLSX工作簿“数据核查”表。")
    return Table("数据核查", f"表{number}　数据核查：需核实的数字（{month_label(data.period)}）",
                 ["机构或地区", "核查", "数值", "正常范围", "核实要点"], rows, notes,
                 ["1.2fr", "auto", "auto", "auto", "1.5fr"], "llrrl", max_rows=MAX_FLAGS_SHOWN)


def quality_flags_sheet(data: ReportData) -> Table:
    """The month's flags with everything the office needs to follow them up (XLSX only):
    the message with its figures and the flag's key for `tuoyu quality confirm`."""
    from pipeline.marts.quality import CONFIRMED_ZH, MEASURES_ZH, OPEN_ZH, check_zh, expected_text

    rows = [[f["period"], f["institution_id"] or DASH, f.get("institution_name") or DASH,
             f.get("area_name") or f["area_code"], check_zh(f["check_id"]), MEASURES_ZH.get(f["measure"], DASH),
             num(f["value"], 0), expected_text(f), f["message_zh"],
             f"{CONFIRMED_ZH}：{f['note']}" if f["confirmed"] else OPEN_ZH, f["flag_key"]] for f in data.flags]
    if not rows:
        rows = [["本月没有数据核查提示"] + [""] * 10]
    return Table("数据核查", f"数据核查提示（{month_label(data.period)}）",
                 ["月份", "机构编号", "机构名称", "镇街", "核查", "数字", "数值", "正常范围", "说明", "状态", "提示键"],
                 rows, ["核实后数字无误的，运行 tuoyu quality confirm <提示键> --note \"核实说明\" 记为“已核实”。"])
