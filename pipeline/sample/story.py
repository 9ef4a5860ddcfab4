"""The county's childcare story, 2021-09 onwards: which institutions exist each month.

The plan is the same for every scale copy; only people, names and codes differ per copy.
What it makes the indicators of indicator-handbook.md do:

- places per 1,000 residents climb from 1.8 (2021-09) to just above 4.5 at 2025-12, as
  new institutions open whenever places fall behind that curve; a few institutions
  suspend operation (暂停运营) for some months, a few close (已注销, listed three more
  months);
- 幼儿园托班 appear from 2022-03, 用人单位办托 from 2023-05, the first 妇幼保健机构办托
  in 2024-04 (service types: 3 → 6);
- every 街道 has an institution from the start, about half of the rural 镇街 too; the
  others get their first one between 2022 and mid-2024, except the smallest rural one,
  which waits until 2025-05;
- the first demonstration institution is recognised in 2023-03, then 2023-11, 2024-10,
  2025-09 (the fourth goes beyond the planned 1–3);
- filing (备案) catches up by 2023-11 and new institutions file on opening from 2023-07;
  fire-safety acceptance by 2023-10; video coverage only by 2024-02, after its 2023-12
  deadline; the affordable (普惠) share of places rises from about a fifth to over half.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.sample.calendar import (
    month_containing,
    month_end,
    month_start,
    parse_month,
)
from pipeline.sample.reference import County

EPOCH = parse_month("2021-09")
NEVER = 10**7  # a month number far in the future: "not (yet) the case"

INSTITUTION_TYPES = ("社会办托育机构", "幼儿园托班", "用人单位办托", "妇幼保健机构办托", "社区托育点", "家庭托育点")
SOCIAL, KINDERGARTEN, EMPLOYER, MCH, COMMUNITY, FAMILY = range(6)
STATUS_TEXT = {1: "正常运营", 2: "暂停运营", 3: "已注销"}

# Places per 1,000 residents the county aims at, by month (linear in between).
PLACES_RATE = (
    (parse_month("2021-09"), 1.80),
    (parse_month("2022-09"), 2.40),
    (parse_month("2023-09"), 3.15),
    (parse_month("2024-09"), 3.85),
    (parse_month("2025-12"), 4.58),
    (parse_month("2029-12"), 5.60),
)
TYPE_INTRODUCED = {KINDERGARTEN: parse_month("2022-03"), EMPLOYER: parse_month("2023-05"), MCH: parse_month("2024-04")}
TYPE_WEIGHTS = {SOCIAL: 0.34, KINDERGARTEN: 0.30, EMPLOYER: 0.06, MCH: 0.0, COMMUNITY: 0.18, FAMILY: 0.12}
TYPE_PLACES = {
    SOCIAL: (60, 80, 90, 100, 120, 150),
    KINDERGARTEN: (20, 25, 30, 40, 50, 60),
    EMPLOYER: (40, 50, 60, 80, 100),
    MCH: (60, 80, 100),
    COMMUNITY: (20, 25, 30, 40, 50),
    FAMILY: (5, 6, 8, 10),
}
AFFORDABLE_AT_OPENING = {KINDERGARTEN: 0.7, EMPLOYER: 0.4, MCH: 1.0, COMMUNITY: 0.5, FAMILY: 0.05}

FIRST_TOWN_OPENINGS = (parse_month("2022-04"), parse_month("2024-06"))  # spread over this span
LATE_TOWN_OPENING = parse_month("2025-05")
DEMONSTRATIONS = tuple(parse_month(m) for m in ("2023-03", "2023-11", "2024-10", "2025-09"))
CLOSURES = tuple(parse_month(m) for m in ("2022-06", "2023-04", "2024-08", "2025-07", "2026-05"))
SUSPENSIONS = tuple(
    parse_month(m) for m in ("2022-01", "2022-11", "2023-08", "2024-03", "2025-02", "2026-01", "2026-09")
)
FILING_SWEEP, FILING_AT_OPENING = parse_month("2023-11"), parse_month("2023-07")
FIRE_SWEEP, FIRE_AT_OPENING = parse_month("2023-10"), parse_month("2022-06")
CCTV_SWEEP, CCTV_AT_OPENING = parse_month("2024-02"), parse_month("2023-06")
CLOSED_LISTED_MONTHS = 3


def places_rate(month: int) -> float:
    """Places per 1,000 residents aimed at in ``month``."""
    knots = PLACES_RATE
    if month <= knots[0][0]:
        return max(1.0, knots[0][1] - 0.03 * (knots[0][0] - month))
    for (m0, r0), (m1, r1) in zip(knots, knots[1:]):
        if month <= m1:
            return r0 + (r1 - r0) * (month - m0) / (m1 - m0)
    return knots[-1][1]


def progress(month: int, begin: int, end: int) -> float:
    """0 at ``begin``, 1 at ``end``, linear and clipped."""
    return min(1.0, max(0.0, (month - begin) / (end - begin)))


@dataclass
class Institution:
    """One planned institution (the same in every scale copy)."""

    number: int
    area: int  # index into County.areas
    type: int
    places: int
    open_month: int
    registration_day: int
    maturity: float  # share of places filled once established
    affordable_month: int = NEVER
    filing_day: int | None = None
    cctv_month: int = NEVER
    fire_month: int = NEVER
    demonstration_day: int | None = None
    close_month: int = NEVER
    suspended: tuple[int, int] = (NEVER, NEVER)  # [from, to)

    @property
    def filing_month(self) -> int:
        return NEVER if self.filing_day is None else month_containing(self.filing_day)

    @property
    def demonstration_month(self) -> int:
        return NEVER if self.demonstration_day is None else month_containing(self.demonstration_day)

    def status(self, month: int) -> int:
        """0 not listed, 1 正常运营, 2 暂停运营, 3 已注销."""
        if month < self.open_month or month >= self.close_month + CLOSED_LISTED_MONTHS:
            return 0
        if month >= self.close_month:
            return 3
        if self.suspended[0] <= month < self.suspended[1]:
            return 2
        return 1


@dataclass
class Plan:
    county: County
    first: int
    last: int
    institutions: list[Institution] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """Plan columns as arrays, one element per planned institution."""
        cols = (
            "area",
            "type",
            "places",
            "open_month",
            "maturity",
            "affordable_month",
            "filing_month",
            "cctv_month",
            "fire_month",
            "demonstration_month",
            "close_month",
        )
        return {c: np.array([getattr(i, c) for i in self.institutions]) for c in cols}

    def status(self, month: int) -> np.ndarray:
        return np.array([i.status(month) for i in self.institutions], dtype=np.int8)


class _Builder:
    def __init__(self, county: County, first: int, last: int, rng: np.random.Generator) -> None:
        self.county, self.first, self.last, self.rng = county, first, last, rng
        self.plan = Plan(county, first, last)
        year = max(county.population_year(first // 12), min(county.population))
        urban = [i for i, a in enumerate(county.areas) if a.urban]
        rural = sorted(
            (i for i, a in enumerate(county.areas) if not a.urban),
            key=lambda i: (-county.residents(year, county.areas[i].code), county.areas[i].code),
        )
        self.weights = np.array(
            [max(1, county.residents(year, a.code)) * (1.6 if a.urban else 1.0) for a in county.areas], float
        )
        self.area_opens = {i: first for i in urban}
        late = rural[-1:] if rural else []
        early = rural[:-1] if rural else []
        covered = early[: (len(rural) + 1) // 2]
        later = early[len(covered) :]
        for i in covered:
            self.area_opens[i] = first
        lo, hi = FIRST_TOWN_OPENINGS
        for k, i in enumerate(later):
            self.area_opens[i] = max(
                first + 1, round(lo + (hi - lo) * k / max(1, len(later) - 1)) if len(later) > 1 else lo
            )
        for i in late:
            self.area_opens[i] = max(first + 1, LATE_TOWN_OPENING)

    # -- creation -------------------------------------------------------------------
    def _types_open(self, month: int) -> list[int]:
        return [t for t in range(6) if TYPE_INTRODUCED.get(t, -NEVER) <= month]

    def _draw_type(self, month: int, rural: bool) -> int:
        types = [t for t in self._types_open(month) if TYPE_WEIGHTS[t] > 0]
        weights = np.array([TYPE_WEIGHTS[t] * (0.5 if rural and t == SOCIAL else 1.0) for t in types])
        return int(types[self.rng.choice(len(types), p=weights / weights.sum())])

    def _draw_area(self, month: int) -> int:
        eligible = [i for i, m in self.area_opens.items() if m <= month]
        w = self.weights[eligible]
        return int(eligible[self.rng.choice(len(eligible), p=w / w.sum())])

    def create(self, month: int, area: int, kind: int, initial: bool) -> Institution:
        rng = self.rng
        places = int(rng.choice(TYPE_PLACES[kind]))
        if initial:
            open_month = month - int(rng.integers(1, 48))
        else:
            open_month = month
        reg_month = open_month - int(rng.integers(0, 3))
        registration = month_start(reg_month) + int(rng.integers(0, 27))
        inst = Institution(
            len(self.plan.institutions) + 1,
            area,
            kind,
            places,
            open_month,
            registration,
            maturity=float(rng.uniform(0.72, 0.95)),
        )
        ref = self.first if initial else month
        # Affordable (普惠): by type at opening, else converting at about 1% a month.
        p_affordable = AFFORDABLE_AT_OPENING.get(kind, 0.12 + 0.25 * progress(ref, EPOCH, parse_month("2025-12")))
        if rng.random() < p_affordable:
            inst.affordable_month = open_month
        else:
            inst.affordable_month = ref + 1 + int(rng.geometric(0.011))
        # Filing (备案).
        if initial:
            if rng.random() < 0.45:
                inst.filing_day = registration + int(rng.integers(0, max(1, month_end(ref) - registration)))
            else:
                inst.filing_day = self._day_in(int(rng.integers(ref + 1, max(ref + 2, FILING_SWEEP + 1))), registration)
        elif month >= FILING_AT_OPENING:
            inst.filing_day = self._day_in(month, registration)
        else:
            delay = int(rng.geometric(0.25)) - 1
            inst.filing_day = self._day_in(min(month + delay, max(FILING_SWEEP, month)), registration)
        inst.cctv_month = self._catch_up(initial, ref, 0.5 if initial else 0.6, CCTV_AT_OPENING, CCTV_SWEEP, 0.15)
        inst.fire_month = self._catch_up(initial, ref, 0.8 if initial else 0.75, FIRE_AT_OPENING, FIRE_SWEEP, 0.2)
        self.plan.institutions.append(inst)
        return inst

    def _day_in(self, month: int, not_before: int) -> int:
        lo = max(month_start(month), not_before)
        hi = month_end(month)
        return lo + int(self.rng.integers(0, max(1, hi - lo + 1)))

    def _catch_up(self, initial: bool, ref: int, p_done: float, at_opening: int, sweep: int, hazard: float) -> int:
        """Month from which a requirement is met: at once, or later, by ``sweep`` at the latest."""
        rng = self.rng
        if initial:
            return -NEVER if rng.random() < p_done else int(rng.integers(ref + 1, max(ref + 2, sweep + 1)))
        if ref >= at_opening or rng.random() < p_done:
            return ref
        return min(ref + int(rng.geometric(hazard)), max(sweep, ref + 1))

    # -- the month loop -------------------------------------------------------------
    def listed_places(self, month: int) -> int:
        return sum(i.places for i in self.plan.institutions if i.status(month) in (1, 2))

    def operating(self, month: int) -> list[Institution]:
        return [i for i in self.plan.institutions if i.status(month) == 1]

    def _area_count(self, month: int) -> dict[int, int]:
        counts: dict[int, int] = {}
        for i in self.operating(month):
            counts[i.area] = counts.get(i.area, 0) + 1
        return counts

    def _stoppable(self, month: int) -> list[Institution]:
        counts = self._area_count(month)
        return [
            i
            for i in self.operating(month)
            if i.type in (SOCIAL, COMMUNITY, FAMILY)
            and counts[i.area] >= 2
            and i.demonstration_day is None
            and i.close_month == NEVER
            and i.suspended[0] == NEVER
            and i.open_month <= month - 6
        ]

    def build(self) -> Plan:
        rng, first = self.rng, self.first
        target = places_rate(first) * self.county.residents(first // 12) / 1000
        for area, opens in sorted(self.area_opens.items()):
            if opens <= first:
                self.create(first, area, self._draw_type(first, not self.county.areas[area].urban), initial=True)
        while self.listed_places(first) + 30 < target:
            area = self._draw_area(first)
            self.create(first, area, self._draw_type(first, not self.county.areas[area].urban), initial=True)
        # The three kinds of the start are all there, however small the county.
        present = {i.type for i in self.plan.institutions}
        for kind in (SOCIAL, COMMUNITY, FAMILY):
            if kind not in present:
                self.create(first, int(np.argmax(self.weights)), kind, initial=True)
        for month in range(first + 1, self.last + 1):
            for area, opens in sorted(self.area_opens.items()):
                if opens == month:
                    kind = KINDERGARTEN if TYPE_INTRODUCED[KINDERGARTEN] <= month else COMMUNITY
                    self.create(month, area, kind, initial=False)
            for kind, intro in TYPE_INTRODUCED.items():
                if intro == month:
                    self.create(month, int(np.argmax(self.weights)), kind, initial=False)
            if month in CLOSURES and (pool := self._stoppable(month)):
                pool[int(rng.integers(len(pool)))].close_month = month
            if month in SUSPENSIONS and (pool := self._stoppable(month)):
                pool[int(rng.integers(len(pool)))].suspended = (month, month + int(rng.integers(2, 5)))
            if month in DEMONSTRATIONS:
                self._recognise(month)
            target = places_rate(month) * self.county.residents(month // 12) / 1000
            while self.listed_places(month) + 25 < target:
                area = self._draw_area(month)
                self.create(month, area, self._draw_type(month, not self.county.areas[area].urban), initial=False)
        self._last_camera(CCTV_SWEEP)
        return self.plan

    def _last_camera(self, sweep: int) -> None:
        """Make sure one institution still lacks full video coverage until the sweep month,
        so that the 2023-12 deadline of clause 15 is visibly missed."""
        if not self.first < sweep <= self.last:
            return
        operating = self.operating(sweep - 1)
        if any(i.cctv_month >= sweep for i in operating):
            return
        pool = [i for i in operating if i.demonstration_day is None and i.open_month < sweep - 6] or operating
        if pool:
            pool[int(self.rng.integers(len(pool)))].cctv_month = sweep

    def _recognise(self, month: int) -> None:
        pool = [
            i
            for i in self.operating(month)
            if i.type != FAMILY
            and i.demonstration_day is None
            and i.close_month == NEVER
            and i.suspended[1] <= month
            and i.filing_month <= month
        ]
        if not pool:
            return
        # Prefer a large, established urban institution; take what there is in a small county.
        for better in (
            lambda i: self.county.areas[i.area].urban,
            lambda i: i.open_month <= month - 12,
            lambda i: i.type in (SOCIAL, KINDERGARTEN) and i.places >= 40,
        ):
            pool = [i for i in pool if better(i)] or pool
        chosen = pool[int(self.rng.integers(len(pool)))]
        chosen.demonstration_day = self._day_in(month, chosen.registration_day)
        chosen.cctv_month = min(chosen.cctv_month, month)
        chosen.fire_month = min(chosen.fire_month, month)


def build_plan(county: County, first: int, last: int, seed: int) -> Plan:
    """The institutions of the county from ``first`` to ``last`` (month numbers)."""
    return _Builder(county, first, last, np.random.default_rng([seed, 101])).build()
