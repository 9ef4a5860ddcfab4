"""`tuoyu status`: what has been received for each month, and whether the month is complete.

Read from `audit.load_log` (one row per file version seen, extract-format.md §5) and
`audit.runs` (one row per pipeline run, written by `record_run`), with the open data-quality
flags of each month (`marts.quality_flags`, `audit.quality_confirmations`). Works on the
warehouse or on the published copy, which has the same tables.

For each month (from the first month with a delivered file, or `first`, to the last, or to
`through`) and each kind:

- received: the `loaded` version is the one the indicators use; its `loaded_at` is when
  it was first read. Its rows rejected by the row rules are `rows_rejected`.
- revised: more than one distinct version (sha256) was delivered.
- missing: nothing of that kind for that month.
- rejected: the newest version delivered could not be read at all (`file_rejected`),
  whether or not an earlier version is still in use; or every row of the version in use
  was rejected. The office has to deliver that file again.

A month is incomplete when any kind is missing or rejected. Files whose names were not
recognised are listed with why and the name to give them, as far as they are still in the
inbox; one that looks like a missing kind of a month is named beside it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import duckdb

from pipeline.ingest.extracts.names import explain_name
from pipeline.ingest.extracts.spec import KIND_LABEL_ZH
from pipeline.marts.quality import FlagCounts, flag_counts, has_flags
from pipeline.settings import DEFAULT_MEMORY_LIMIT
from pipeline.warehouse.schema import KINDS
from pipeline.warehouse.connection import table_exists

RUNS_DDL = """
create table if not exists audit.runs (
    run_id varchar not null,
    started_at timestamp not null,
    finished_at timestamp,
    success boolean,
    summary varchar
)"""

# The states of one kind × month, and how `format_status` writes them.
LOADED, MISSING, REJECTED, ALL_ROWS_REJECTED = "loaded", "missing", "file_rejected", "all_rows_rejected"


@dataclass(frozen=True)
class KindStatus:
    """One kind × month: what was received and what became of it."""

    kind: str
    period: str
    state: str  # loaded | missing | file_rejected | all_rows_rejected
    versions: int = 0
    file_path: str | None = None  # the version in use (loaded), else the newest received
    received_at: datetime | None = None
    rows_read: int | None = None
    rows_rejected: int | None = None  # None: not validated yet
    fallback_path: str | None = None  # file_rejected while an earlier version is still in use
    message: str | None = None

    @property
    def revised(self) -> bool:
        return self.versions > 1

    @property
    def complete(self) -> bool:
        return self.state == LOADED


@dataclass(frozen=True)
class MonthStatus:
    period: str
    kinds: dict[str, KindStatus]
    # {kind: [(unrecognised file, what to do: rename or save as)]} of the files that look like a missing kind
    lookalikes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return all(k.complete for k in self.kinds.values())

    def problems_zh(self) -> list[str]:
        """Why the month is incomplete, one phrase per kind."""
        out = []
        for kind in KINDS:
            k = self.kinds[kind]
            label = KIND_LABEL_ZH[kind]
            if k.state == MISSING:
                out.append(f"缺{label}" + "".join(f"（收件箱中的 {path} 文件名无法识别，可能就是该报表：请{action}）"
                                                 for path, action in self.lookalikes.get(kind, [])))
            elif k.state == REJECTED:
                out.append(f"{label}文件被拒收" + ("（仍使用此前版本）" if k.fallback_path else ""))
            elif k.state == ALL_ROWS_REJECTED:
                out.append(f"{label}全部数据行被剔除")
        return out


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    success: bool | None  # None: still running, or stopped without recording its end
    summary: str | None


@dataclass(frozen=True)
class StatusReport:
    months: list[MonthStatus]
    last_run: RunRecord | None
    unrecognised: list[str] = field(default_factory=list)  # file paths whose names are not in the contract
    messages: dict[str, str] = field(default_factory=dict)  # {unrecognised file: why, and the name to give it}
    # open and confirmed data-quality flags per month (marts.quality_flags); None: a
    # warehouse not yet built with the quality checks
    flags: dict[str, FlagCounts] | None = None

    @property
    def incomplete_months(self) -> list[MonthStatus]:
        return [m for m in self.months if not m.complete]


# ---------------------------------------------------------------- reading


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _months(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _newest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return max(rows, key=lambda r: (r["loaded_at"], r.get("modified_at") or datetime.min))


def _kind_status(kind: str, period: str, rows: list[dict[str, Any]]) -> KindStatus:
    # `unchanged` rows are the same bytes as a version already counted.
    delivered = [r for r in rows if r["status"] in ("loaded", "superseded", "file_rejected")]
    if not delivered:
        return KindStatus(kind, period, MISSING)
    versions = len({r["sha256"] for r in delivered})
    loaded = next((r for r in delivered if r["status"] == "loaded"), None)
    newest = _newest([r for r in delivered if r["status"] in ("loaded", "file_rejected")] or delivered)
    if newest["status"] == "file_rejected":
        return KindStatus(kind, period, REJECTED, versions, newest["file_path"], newest["loaded_at"],
                          fallback_path=loaded["file_path"] if loaded else None, message=newest["message"])
    if loaded is None:  # only superseded rows: the loaded one was removed from the log
        return KindStatus(kind, period, MISSING, versions, newest["file_path"], newest["loaded_at"])
    read, rejected, accepted = loaded["rows_read"], loaded["rows_rejected"], loaded["rows_accepted"]
    state = ALL_ROWS_REJECTED if read and accepted == 0 and rejected else LOADED
    return KindStatus(kind, period, state, versions, loaded["file_path"], loaded["loaded_at"],
                      read, rejected, message=loaded["message"])


# The statuses of a file version that was delivered as a file of its kind and month.
DELIVERED = ("loaded", "superseded", "unchanged", "file_rejected")


def status(con: duckdb.DuckDBPyConnection, *, through: str | None = None, first: str | None = None,
           inbox: Path | None = None) -> StatusReport:
    """Months × kinds from `audit.load_log`, and the last run from `audit.runs` if present.

    The months start at the first one with a delivered file (or at `first`); `through`
    (YYYY-MM) extends them to one the office expects to have delivered, so that a month with
    nothing at all shows as missing. With `inbox`, only unrecognised files still in it are listed.
    """
    log = _rows(con, "select * from audit.load_log") if table_exists(con, "audit", "load_log") else []
    recognised = [r for r in log if r["status"] not in ("unrecognised", "withdrawn") and r["kind"] and r["period"]]
    latest = {r["file_path"]: r for r in sorted(log, key=lambda r: r["loaded_at"])}  # a renamed-in-place file is read
    messages = {path: r["message"] or "" for path, r in latest.items()
                if r["status"] == "unrecognised" and (inbox is None or _still_there(inbox, path))}
    unrecognised = sorted(messages)
    looks_like: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for path in unrecognised:
        advice = explain_name(path)
        if advice.suggestion:
            action = f"{'另存为' if advice.convert else '改名为'} {advice.suggestion}"
            looks_like.setdefault((advice.kind, advice.period), []).append((path, action))
    delivered = sorted(r["period"] for r in recognised if r["status"] in DELIVERED)
    start = first or (delivered[0] if delivered else through)
    end = max(p for p in (through, delivered[-1] if delivered else None, start) if p) if start else None
    months = []
    if start:
        by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in recognised:
            by_key.setdefault((r["kind"], r["period"]), []).append(r)
        for period in _months(start, end):
            kinds = {kind: _kind_status(kind, period, by_key.get((kind, period), [])) for kind in KINDS}
            lookalikes = {kind: looks_like[(kind, period)] for kind in KINDS
                          if kinds[kind].state == MISSING and (kind, period) in looks_like}
            months.append(MonthStatus(period, kinds, lookalikes))
    return StatusReport(months, last_run(con), unrecognised, messages,
                        flags=flag_counts(con) if has_flags(con) else None)


def _still_there(inbox: Path, rel_path: str) -> bool:
    path = Path(inbox) / rel_path
    return path.exists() or path.is_symlink()


def last_run(con: duckdb.DuckDBPyConnection) -> RunRecord | None:
    if not table_exists(con, "audit", "runs"):
        return None
    row = con.execute(
        "select run_id, started_at, finished_at, success, summary from audit.runs "
        "order by started_at desc, finished_at desc nulls first limit 1"
    ).fetchone()
    return RunRecord(*row) if row else None


def record_run(con: duckdb.DuckDBPyConnection, run_id: str, started_at: datetime,
               finished_at: datetime | None = None, success: bool | None = None,
               summary: str | None = None) -> None:
    """Record a run in `audit.runs` (local time, like audit.load_log.loaded_at).

    Call it when a run starts (no `finished_at`, `success` None) and again when it ends:
    the row of the same `run_id` is replaced.
    """
    con.execute("create schema if not exists audit")
    con.execute(RUNS_DDL)
    con.execute("begin transaction")
    try:
        con.execute("delete from audit.runs where run_id = ?", [run_id])
        con.execute("insert into audit.runs values (?, ?, ?, ?, ?)",
                    [run_id, started_at, finished_at, success, summary])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


# ---------------------------------------------------------------- writing


def chinese_part(message: str) -> str:
    """A load-log message without its closing English sentence (the clerk's part)."""
    return re.sub(r"(?<=[。）])\s+[A-Z][^。！？]*$", "", message or "")


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t else "—"


def _cell(k: KindStatus) -> str:
    if k.state == MISSING:
        return "缺失"
    if k.state == REJECTED:
        return "被拒收" + ("，沿用旧版" if k.fallback_path else "") + (f"，共{k.versions}版" if k.revised else "")
    text = f"{k.received_at:%Y-%m-%d} 收到" if k.received_at else "收到"
    if k.revised:
        text += f"，修订{k.versions}版"
    if k.state == ALL_ROWS_REJECTED:
        return text + "，全部行剔除"
    if k.rows_rejected is None:
        return text + "，待校验"
    if k.rows_rejected:
        text += f"，剔除{k.rows_rejected}行"
    return text


# So many months in a row with nothing at all are one line, not a line each.
EMPTY_STRETCH = 3


def _empty_stretches(months: list[MonthStatus]) -> list[list[MonthStatus]]:
    """The months in order, one per group, except runs of EMPTY_STRETCH or more months with
    nothing received (and no look-alike file), which are one group."""
    groups: list[list[MonthStatus]] = []
    run: list[MonthStatus] = []

    def flush() -> None:
        groups.extend([run[:]] if len(run) >= EMPTY_STRETCH else [[m] for m in run])
        run.clear()

    for m in months:
        if all(k.state == MISSING and not k.versions for k in m.kinds.values()) and not m.lookalikes:
            run.append(m)
        else:
            flush()
            groups.append([m])
    flush()
    return groups


def _stretch(group: list[MonthStatus]) -> str:
    return f"{group[0].period} 至 {group[-1].period}（{len(group)} 个月）"


def _flags_cell(counts: FlagCounts | None) -> str:
    if counts is None:
        return "0"
    return f"{counts.open}" + (f"（另已核实{counts.confirmed}）" if counts.confirmed else "")


def format_status(report: StatusReport) -> str:
    """The report as Chinese text for the terminal: a months × kinds table, then what to do."""
    from pipeline.analysts.export import display_width

    lines = ["数据接收情况（每月三类报表）"]
    if not report.months:
        lines.append("尚未收到任何可识别的报表文件。")
    else:
        flags = report.flags
        header = ["月份", *(KIND_LABEL_ZH[k] for k in KINDS), *(["待核实提示"] if flags is not None else []), "完整"]
        groups = _empty_stretches(report.months)

        def month_row(m: MonthStatus) -> list[str]:
            return [m.period, *(_cell(m.kinds[k]) for k in KINDS),
                    *([_flags_cell(flags.get(m.period))] if flags is not None else []),
                    "是" if m.complete else "否"]

        rows = [month_row(m) for group in groups if len(group) == 1 for m in group]
        widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            return "  ".join(c + " " * (w - display_width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

        lines += [line(header), line(["-" * w for w in widths])]
        for group in groups:
            m = group[0]
            lines.append(line(month_row(m)) if len(group) == 1 else f"{_stretch(group)}：三类报表均未收到")
        lines.append("")
        incomplete = report.incomplete_months
        if incomplete:
            lines.append(f"不完整的月份（{len(incomplete)} 个）：")
            for group in groups:
                if len(group) > 1:
                    lines.append(f"  {_stretch(group)}：三类报表均未收到")
                    continue
                m = group[0]
                if m.complete:
                    continue
                lines.append(f"  {m.period}：" + "；".join(m.problems_zh()))
                for kind in KINDS:
                    k = m.kinds[kind]
                    if k.state == REJECTED and k.message:
                        lines.append(f"      {k.file_path}：{chinese_part(k.message)}")
            lines.append("请补报缺失的报表；被拒收或数据行全部被剔除的，请按原因修正文件后重新放入收件箱。")
        else:
            lines.append(f"全部 {len(report.months)} 个月份的三类报表均已收到。")
    open_flags = sum(c.open for c in (report.flags or {}).values())
    if open_flags:
        lines.append(f"待核实的数据核查提示共 {open_flags} 条：用 tuoyu quality list 查看，"
                     "核实无误的用 tuoyu quality confirm 记为“已核实”。")
    if report.unrecognised:
        lines.append(f"收件箱中文件名无法识别、未读取的文件 {len(report.unrecognised)} 个（请按提示改名后重新运行）：")
        for path in report.unrecognised:
            lines.append(f"  {path}：{chinese_part(report.messages.get(path, ''))}".rstrip("："))
    lines.append("")
    run = report.last_run
    if run is None:
        lines.append("最近一次运行：无记录。")
    else:
        outcome = {True: "成功", False: "失败", None: "未结束（正在运行或中途停止）"}[run.success]
        lines.append(f"最近一次运行：{_when(run.started_at)} 开始，{_when(run.finished_at)} 结束，{outcome}。")
        if run.summary:
            lines.append(f"  {run.summary}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the command


def status_command(warehouse: Path, published_db: Path | None = None, *, through: str | None = None,
                   first: str | None = None, out: IO[str] | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT,
                   inbox: Path | None = None) -> int:
    """What `tuoyu status` does: read the warehouse, or the published copy while a run holds it."""
    from pipeline.warehouse.connection import WarehouseLocked, connect

    out = out or sys.stdout
    if not Path(warehouse).is_file():
        print(f"数据仓库 {warehouse} 还不存在：请先运行 tuoyu run。",
              file=out)
        return 1
    note = None
    try:
        con = connect(Path(warehouse), read_only=True, memory_limit=memory_limit)
    except WarehouseLocked:
        from pipeline.analysts.query import PublishedCopyMissing, open_published

        if published_db is None:
            raise
        try:
            con = open_published(published_db)
        except PublishedCopyMissing:
            print("数据仓库正被占用（可能正在运行），也没有发布副本；请稍后再试。"
                  " The warehouse is busy and there is no published copy yet.", file=out)
            return 1
        note = "（数据仓库正被占用，可能正在运行；以下是最近一次发布时的情况。）"
    try:
        report = status(con, through=through, first=first, inbox=inbox)
    finally:
        con.close()
    if note:
        print(note, file=out)
    print(format_status(report), file=out)
    return 0
