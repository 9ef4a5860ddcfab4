"""The data-quality flags the sample plants (docs/quality.md), one of each kind:

- OUT-SERIES: a small institution's 核定托位数 typed ten times (8 → 80), in a month with at
  least four earlier months of its history;
- CON-VANISHED: an operating institution missing for one month from all three files,
  without a 已注销 or 暂停运营 row;
- CON-OVERCAPACITY: an institution's places typed below its enrolled children;
- CON-NO-CAREGIVER: an institution with children whose caregivers' rows are left out;
- AREA-JUMP: a 镇街 whose enrolment doubles (every child listed again under a new id number).

They change the typed month tables before the files are rendered, so no row rule is
broken and the clean story (`manifest.story`) is untouched. Each plant is listed in the
manifest (`flags`, `planted: true`) with what it may bring about besides (`planted:
false`: the area's totals move, a doubled institution is over capacity …). The story's
own changes (institutions opening, closing, suspending) are listed as `events`, which
explain the area jumps and the early growth of new institutions that the checks also see.
Plants go only into scale copy 0, except the doubled 镇街, which doubles in every copy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import polars as pl

from pipeline.sample.calendar import month_text
from pipeline.sample.codes import id_number
from pipeline.sample.layout import Event, Layout
from pipeline.sample.people import Month

MEASURES = ("places", "children", "staff")


@dataclass(frozen=True)
class PlantedFlag:
    check_id: str
    period: str
    area_code: str
    institution_id: str | None  # None for AREA-JUMP
    measure: str | None
    planted: bool  # True: the flag must be raised; False: it may be, as a consequence
    why: str


@dataclass
class FlagPlan:
    """The month of each plant (month numbers), chosen from the layout."""

    months: dict[str, int]
    planted: list[PlantedFlag]
    used_areas: set[str]

    def to_list(self) -> list[dict]:
        return [asdict(f) for f in self.planted]


def plan_flags(months: list[int], layout: Layout) -> FlagPlan:
    """The month of each plant: the first month far enough into the sample whose files the
    check needs are delivered and read (not missing, not rejected whole)."""
    lost = {layout.missing, layout.missing_header, layout.bad_encoding}

    def usable(kind: str, month: int) -> bool:
        return month in months and Event(kind, month) not in lost

    first = months[0]

    def first_month(start: int, ok) -> int | None:
        return next((m for m in months if m >= start and ok(m)), None)

    chosen = {
        "OUT-SERIES": first_month(first + 5, lambda m: usable("institutions", m) and sum(
            usable("institutions", h) for h in range(max(first, m - 12), m)) >= 4),
        "CON-VANISHED": first_month(first + 1, lambda m: usable("institutions", m) and usable("institutions", m - 1)),
        "CON-OVERCAPACITY": first_month(first + 1, lambda m: usable("institutions", m) and usable("enrollment", m)),
        "CON-NO-CAREGIVER": first_month(first + 1, lambda m: usable("enrollment", m) and usable("staffing", m)),
        "AREA-JUMP": first_month(first + 3, lambda m: usable("enrollment", m) and usable("institutions", m) and sum(
            usable("enrollment", h) and usable("institutions", h) for h in range(m - 3, m)) >= 2),
    }
    return FlagPlan({k: m for k, m in chosen.items() if m is not None}, [], set())


def _consequences(plan: FlagPlan, county: str, area: str, month: int, why: str) -> None:
    """The area's and the county's totals of the month and the next may jump."""
    for period in (month, month + 1):
        for code in (area, county):
            for measure in MEASURES:
                plan.planted.append(PlantedFlag("AREA-JUMP", month_text(period), code, None, measure, False, why))


def _candidates(inst: pl.DataFrame, plan: FlagPlan, opened: dict[int, int], month: int) -> pl.DataFrame:
    """Operating copy-0 institutions open for a year, outside the areas of other plants."""
    old = [g for g in inst["_g"].to_list() if opened.get(g, month) <= month - 12]
    return inst.filter((pl.col("_copy") == 0) & (pl.col("_status") == 1) & pl.col("_g").is_in(old)
                       & ~pl.col("area_code").is_in(sorted(plan.used_areas)))


def _area_places(inst: pl.DataFrame) -> dict[str, int]:
    totals = inst.filter(pl.col("_status") == 1).group_by("area_code").agg(pl.col("places").sum())
    return dict(zip(totals["area_code"], totals["places"]))


def plant_flags(plan: FlagPlan, month: int, typed: dict[str, pl.DataFrame], snapshot: Month,
                county: str, id_prefix: str, opened: dict[int, int]) -> tuple[dict[str, pl.DataFrame], Month]:
    """The month's typed tables with this month's plants, and the snapshot the row-defect
    planters see (a vanished institution is not operating in it)."""
    todo = [check for check, m in plan.months.items() if m == month]
    if not todo:
        return typed, snapshot
    inst, enr, stf = typed["institutions"], typed["enrollment"], typed["staffing"]
    period = month_text(month)
    children = dict(enr.group_by("institution_id").len().iter_rows())
    carers = dict(stf.filter(pl.col("role") == "保育人员").group_by("institution_id").len().iter_rows())
    places_by_area = _area_places(inst)

    def biggest_area_first(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col("area_code").replace_strict(places_by_area, default=0).alias("_area_places")) \
            .sort(["_area_places", "institution_id"], descending=[True, False])

    def flag(check_id: str, row: dict, measure: str | None, why: str) -> None:
        plan.planted.append(PlantedFlag(check_id, period, row["area_code"], row["institution_id"], measure, True, why))
        plan.used_areas.add(row["area_code"])
        _consequences(plan, county, row["area_code"], month, f"{check_id} 植入的结果")

    if "AREA-JUMP" in todo:
        # The 镇街 with the fewest enrolled children, at least 10 (a change of 10 is needed).
        by_area = (enr.join(inst.select("institution_id", "area_code"), on="institution_id")
                   .group_by("area_code").len().filter(pl.col("len") >= 10)
                   .filter(~pl.col("area_code").is_in(sorted(plan.used_areas))).sort(["len", "area_code"]))
        if by_area.height:
            area = by_area["area_code"][0]
            ids = inst.filter(pl.col("area_code") == area)["institution_id"].to_list()
            enr = pl.concat([enr, _listed_again(enr.filter(pl.col("institution_id").is_in(ids)), enr, id_prefix)])
            plan.planted.append(PlantedFlag("AREA-JUMP", period, area, None, "children", True,
                                            "镇街在托幼儿名单重复报送（每名幼儿换了身份证号再列一次），在托幼儿数翻倍"))
            plan.used_areas.add(area)
            _consequences(plan, county, area, month, "AREA-JUMP 植入的结果")
            for institution_id in ids:
                for check_id in ("CON-OVERCAPACITY", "OUT-SERIES"):
                    plan.planted.append(PlantedFlag(check_id, period, area, institution_id, "children", False,
                                                    "在托幼儿翻倍的结果"))

    if "OUT-SERIES" in todo:
        pool = _candidates(inst, plan, opened, month)
        pool = biggest_area_first(pool.filter(pl.col("places") <= (10 if (pool["places"] <= 10).any() else 20)))
        if pool.height:
            row = pool.row(0, named=True)
            inst = inst.with_columns(pl.when(pl.col("institution_id") == row["institution_id"])
                                     .then(pl.col("places") * 10).otherwise(pl.col("places")).alias("places"))
            flag("OUT-SERIES", row, "places", f"核定托位数 {row['places']} 误填为 {row['places'] * 10}（多打一位数）")

    if "CON-VANISHED" in todo:
        pool = biggest_area_first(_candidates(inst, plan, opened, month))
        if pool.height:
            row = pool.row(0, named=True)
            gone = row["institution_id"]
            inst = inst.filter(pl.col("institution_id") != gone)
            enr = enr.filter(pl.col("institution_id") != gone)
            stf = stf.filter(pl.col("institution_id") != gone)
            status = snapshot.status.copy()
            status[row["_g"]] = 0
            snapshot = replace(snapshot, status=status)
            flag("CON-VANISHED", row, None, "机构本月三类报表中都没有记录，也没有报已注销或暂停运营")

    if "CON-OVERCAPACITY" in todo:
        pool = biggest_area_first(_candidates(inst, plan, opened, month).filter(
            pl.col("institution_id").replace_strict(children, default=0) >= 6))
        if pool.height:
            row = pool.row(0, named=True)
            fewer = children[row["institution_id"]] - 2
            inst = inst.with_columns(pl.when(pl.col("institution_id") == row["institution_id"])
                                     .then(pl.lit(fewer, dtype=pl.Int64)).otherwise(pl.col("places")).alias("places"))
            flag("CON-OVERCAPACITY", row, "children",
                 f"核定托位数 {row['places']} 误填为 {fewer}，少于在托幼儿 {children[row['institution_id']]} 人")

    if "CON-NO-CAREGIVER" in todo:
        pool = biggest_area_first(_candidates(inst, plan, opened, month).filter(
            (pl.col("institution_id").replace_strict(children, default=0) >= 1)
            & pl.col("institution_id").replace_strict(carers, default=0).is_between(1, 3)))
        if pool.height:
            row = pool.row(0, named=True)
            stf = stf.filter(~((pl.col("institution_id") == row["institution_id"]) & (pl.col("role") == "保育人员")))
            flag("CON-NO-CAREGIVER", row, "caregivers", "机构有在托幼儿，保育人员的数据行漏报")

    return {"institutions": inst, "enrollment": enr, "staffing": stf}, snapshot


def _listed_again(rows: pl.DataFrame, everyone: pl.DataFrame, id_prefix: str) -> pl.DataFrame:
    """`rows` once more, each child under a new, valid id number of the same birth date and
    sex (sequence numbers from 499 down, skipping any in use), so that no rule is broken."""
    taken = set(everyone["child_id_number"].to_list())
    ids, sequence = [], {}
    for birth, male in zip(rows["_birth"].to_list(), rows["_male"].to_list()):
        while True:
            k = sequence.get((birth, male), 499)
            sequence[(birth, male)] = k - 1
            candidate = id_number(id_prefix, int(birth), k, bool(male))
            if candidate not in taken:
                break
        taken.add(candidate)
        ids.append(candidate)
    return rows.with_columns(pl.Series("child_id_number", ids, dtype=rows["child_id_number"].dtype))


def story_events(plan_status: np.ndarray, previous: np.ndarray | None, ids: np.ndarray, areas: list[str],
                 month: int) -> list[dict]:
    """The story's changes of a month: institutions that opened (or were listed for the first
    time), closed, were suspended or resumed, by institution id and area."""
    if previous is None:
        return []
    events = []
    names = {(0, 1): "opened", (2, 1): "resumed", (1, 2): "suspended", (1, 3): "closed", (2, 3): "closed",
             (0, 2): "opened"}
    for g in np.flatnonzero(plan_status != previous):
        event = names.get((int(previous[g]), int(plan_status[g])))
        if event:
            events.append({"period": month_text(month), "area_code": areas[g], "institution_id": ids[g],
                           "event": event})
    return events
