"""Children and staff of every institution, month by month, as columns of numpy arrays.

One ``People`` object carries the stock from one month to the next: children join and
leave (about a year and a half of attendance, always before their third birthday), staff
are hired to keep caregiver ratios and leave at a low rate. A person keeps their id
number, name and dates for as long as they stay. All copies of a scaled county live in
the same arrays: institution ``g`` is plan institution ``g // scale``, copy ``g % scale``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from pipeline.sample.calendar import (
    age_in_months,
    day_of,
    month_end,
    month_start,
    random_day_in_month,
)
from pipeline.sample.codes import SequenceBook, id_numbers
from pipeline.sample.names import ADULT_GIVEN, CHILD_GIVEN, draw_names
from pipeline.sample.story import EPOCH, FAMILY, NEVER, Plan, parse_month, progress

CLASS_TYPES = ("乳儿班", "托小班", "托大班")
CLASS_RATIO = np.array([3, 5, 7])  # children per caregiver (托育机构设置标准（试行）art. 20)
CARE_MODES = ("全日托", "半日托", "计时托", "临时托")
_CARE_P = (0.74, 0.14, 0.08, 0.04)
ROLES = ("保育人员", "保健人员", "管理人员", "保安人员", "炊事人员", "其他")
CAREGIVER, HEALTH, MANAGER, GUARD, COOK, OTHER = range(6)
CERTIFICATES = ("保育师", "育婴员", "幼儿园教师资格证", "护士执业证", "医师执业证", "无")
NO_CERTIFICATE = 5

CHILD_CHURN = 0.012  # leave for other reasons than age, per month
STAFF_CHURN = 0.012
CERT_SWEEP, TRAIN_SWEEP, CHECK_SWEEP = parse_month("2026-03"), parse_month("2025-09"), parse_month("2024-02")
SHORT_STAFFED = ((EPOCH, 0.26), (parse_month("2025-12"), 0.08))  # share of institutions short of caregivers

_FEMALE_P = np.array([0.96, 0.9, 0.75, 0.1, 0.55, 0.6])


def _empty(spec: dict[str, str]) -> dict[str, np.ndarray]:
    return {k: np.zeros(0, dtype=v) for k, v in spec.items()}


_CHILD = {
    "uid": "i8",
    "inst": "i8",
    "birth": "i8",
    "male": "?",
    "id": "S18",
    "sn": "i2",
    "g1": "i2",
    "g2": "i2",
    "mode": "i1",
    "enroll": "i8",
}
_STAFF = {
    "uid": "i8",
    "inst": "i8",
    "birth": "i8",
    "male": "?",
    "id": "S18",
    "sn": "i2",
    "g1": "i2",
    "g2": "i2",
    "role": "i1",
    "cert": "i1",
    "cert_month": "i8",
    "train_month": "i8",
    "check_month": "i8",
    "hire": "i8",
}


def _take(cols: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[index] for k, v in cols.items()}


def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def rank_within(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order 0, 1, 2, … of the elements within each group."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((rng.random(n), groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return ranks


def _month_of_days(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12


def _ramp(month: int, points: tuple[tuple[int, float], ...]) -> float:
    (m0, v0), (m1, v1) = points
    return v0 + (v1 - v0) * progress(month, m0, m1)


@dataclass
class Month:
    """The stock at the end of one month."""

    month: int
    status: np.ndarray  # per global institution: 0 not listed, 1 正常运营, 2 暂停运营, 3 已注销
    children: dict[str, np.ndarray]  # sorted by institution, enrollment day, uid
    staff: dict[str, np.ndarray]  # sorted by institution, role, hire day, uid
    aged_out: dict[str, np.ndarray]  # copy-0 children who left for age in the last 3 months (+ "left")


class People:
    def __init__(self, plan: Plan, scale: int, seed: int) -> None:
        self.plan, self.scale = plan, scale
        self.rng = np.random.default_rng([seed, 201])
        self.prefix = plan.county.id_prefix
        self.book = SequenceBook(day_of(dt.date(1950, 1, 1)), day_of(dt.date(2040, 12, 31)))
        cols = plan.arrays()
        self.plan_cols = cols
        n = len(plan.institutions) * scale
        self.size = n
        self.places = np.repeat(cols["places"], scale)
        self.open_month = np.repeat(cols["open_month"], scale)
        self.maturity = np.repeat(cols["maturity"], scale)
        self.registration = np.repeat(np.array([i.registration_day for i in plan.institutions], dtype=np.int64), scale)
        self.kind = np.repeat(cols["type"], scale)
        self.copy = np.tile(np.arange(scale), len(plan.institutions))
        self.short_draw = self.rng.random(n)
        self.spare = self.rng.random(n) < 0.35
        self.support = self._support_targets()
        self.children = _empty(_CHILD)
        self.staff = _empty(_STAFF)
        self.aged_out = _empty({**_CHILD, "left": "i8"})
        self.uid = 0
        self.started = False

    def _support_targets(self) -> np.ndarray:
        """Staff other than caregivers each institution keeps, by role (columns of ROLES)."""
        p, family = self.places, self.kind == FAMILY
        out = np.zeros((self.size, 6), dtype=np.int64)
        out[:, HEALTH] = (p >= 40) & ~family
        out[:, MANAGER] = ~family
        out[:, GUARD] = (p >= 50) & ~family
        out[:, COOK] = (p >= 30) & ~family
        out[:, OTHER] = p >= 100
        return out

    def _uids(self, n: int) -> np.ndarray:
        out = np.arange(self.uid, self.uid + n, dtype=np.int64)
        self.uid += n
        return out

    # -- one month ------------------------------------------------------------------
    def step(self, month: int) -> Month:
        status = np.repeat(self.plan.status(month), self.scale)
        initial = not self.started
        self.started = True
        self._children(month, status, initial)
        self._staff(month, status, initial)
        c, s = self.children, self.staff
        c_order = np.lexsort((c["uid"], c["enroll"], c["inst"]))
        s_order = np.lexsort((s["uid"], s["hire"], s["role"], s["inst"]))
        self.children, self.staff = _take(c, c_order), _take(s, s_order)
        return Month(month, status, self.children, self.staff, self.aged_out)

    def _children(self, month: int, status: np.ndarray, initial: bool) -> None:
        rng = self.rng
        operating = status == 1
        ch = self.children
        age = age_in_months(ch["birth"], month)
        at_work = operating[ch["inst"]]
        aged = at_work & (age >= 36) & (self.copy[ch["inst"]] == 0)
        left = {**_take(ch, np.flatnonzero(aged)), "left": np.full(int(aged.sum()), month, dtype=np.int64)}
        recent = self.aged_out["left"] > month - 3
        self.aged_out = _concat(_take(self.aged_out, np.flatnonzero(recent)), left)
        ch = _take(ch, np.flatnonzero(at_work & (age < 36) & (rng.random(len(age)) >= CHILD_CHURN)))

        age_factor = np.clip(0.35 + 0.65 * (month - self.open_month + 1) / 10, 0.35, 1.0)
        time_factor = 0.8 + 0.2 * progress(month, EPOCH, parse_month("2025-06"))
        target = np.where(operating, np.floor(self.places * self.maturity * age_factor * time_factor), 0).astype(
            np.int64
        )
        keep = rank_within(ch["inst"], rng) < target[ch["inst"]] + 2
        ch = _take(ch, np.flatnonzero(keep))
        counts = np.bincount(ch["inst"], minlength=self.size)
        need = np.maximum(0, target - counts)
        self.children = _concat(ch, self._new_children(month, np.repeat(np.arange(self.size), need), initial))

    def _new_children(self, month: int, inst: np.ndarray, initial: bool) -> dict[str, np.ndarray]:
        rng, n = self.rng, len(inst)
        start, end = month_start(month), month_end(month)
        if initial:
            ages = np.arange(6, 36)
            weights = np.interp(ages, (6, 12, 30, 35), (0.4, 1.0, 1.0, 0.6))
        else:
            ages = np.arange(6, 33)
            weights = np.interp(ages, (6, 12, 18, 24, 30, 32), (0.4, 1.0, 1.0, 0.7, 0.3, 0.15))
        age = rng.choice(ages, size=n, p=weights / weights.sum())
        birth = np.minimum(random_day_in_month(rng, month - age), end - 150)
        male = rng.random(n) < 0.52
        if initial:
            low = np.maximum.reduce([birth + 150, self.registration[inst] + 10, np.full(n, end - 720)])
            low = np.minimum(low, end)
        else:
            low = np.maximum(np.full(n, start), birth + 1)
        enroll = low + (rng.random(n) * (end - low + 1)).astype(np.int64)
        seq = self.book.take(birth, male)
        names = draw_names(rng, n, CHILD_GIVEN)
        return {
            "uid": self._uids(n),
            "inst": inst.astype(np.int64),
            "birth": birth.astype(np.int64),
            "male": male,
            "id": id_numbers(self.prefix, birth, seq, male),
            **names,
            "mode": rng.choice(4, size=n, p=_CARE_P).astype(np.int8),
            "enroll": enroll.astype(np.int64),
        }

    def required_caregivers(self, children: dict[str, np.ndarray], month: int) -> np.ndarray:
        """⌈乳儿班/3⌉ + ⌈托小班/5⌉ + ⌈托大班/7⌉ per institution (indicator-handbook.md)."""
        cls = class_index(age_in_months(children["birth"], month))
        by_class = np.bincount(children["inst"] * 3 + cls, minlength=self.size * 3).reshape(self.size, 3)
        return (-(-by_class // CLASS_RATIO)).sum(axis=1)

    def _staff(self, month: int, status: np.ndarray, initial: bool) -> None:
        rng = self.rng
        st = self.staff
        alive = (status[st["inst"]] == 1) | ((status[st["inst"]] == 2) & (st["role"] == MANAGER))
        st = _take(st, np.flatnonzero(alive & (rng.random(len(alive)) >= STAFF_CHURN)))

        required = self.required_caregivers(self.children, month)
        short = self.short_draw < _ramp(month, SHORT_STAFFED)
        very_short = self.short_draw < _ramp(month, SHORT_STAFFED) / 3
        caregivers = np.where(short, np.maximum(1, required - 1 - very_short), required + self.spare)
        target = self.support.copy()
        target[:, CAREGIVER] = np.where(status == 1, caregivers, 0)
        target[status == 2] = 0
        target[status == 2, MANAGER] = self.support[status == 2, MANAGER]
        target[(status != 1) & (status != 2)] = 0
        allowed = target.copy()
        allowed[:, CAREGIVER] += (~short) & (status == 1)  # keep one caregiver beyond need before dismissing
        groups = st["inst"] * 6 + st["role"]
        st = _take(st, np.flatnonzero(rank_within(groups, rng) < allowed.reshape(-1)[groups]))
        counts = np.bincount(st["inst"] * 6 + st["role"], minlength=self.size * 6)
        need = np.maximum(0, target.reshape(-1) - counts)
        slots = np.repeat(np.arange(self.size * 6), need)
        self.staff = _concat(st, self._new_staff(month, slots // 6, slots % 6, initial))

    def _new_staff(self, month: int, inst: np.ndarray, role: np.ndarray, initial: bool) -> dict[str, np.ndarray]:
        rng, n = self.rng, len(inst)
        start, end = month_start(month), month_end(month)
        if initial:
            low = np.minimum(np.maximum(self.registration[inst], end - 6 * 365), end)
        else:
            low = np.full(n, start)
        hire = low + (rng.random(n) * (end - low + 1)).astype(np.int64)
        hired = _month_of_days(hire)
        male = rng.random(n) >= _FEMALE_P[role]
        birth = hire - (rng.uniform(20.5, 52.0, n) * 365.25).astype(np.int64)
        seq = self.book.take(birth, male)
        names = draw_names(rng, n, ADULT_GIVEN)

        def catch_up(p_at_hire: np.ndarray, hazard: float, sweep: int) -> np.ndarray:
            later = hired + rng.geometric(hazard, n)
            return np.where(rng.random(n) < p_at_hire, hired, np.minimum(later, np.maximum(sweep, hired + 1)))

        def ramp(months: np.ndarray, begin: int, finish: int) -> np.ndarray:
            return np.clip((months - begin) / (finish - begin), 0.0, 1.0)

        p_cert = 0.45 + 0.45 * ramp(hired, parse_month("2019-01"), parse_month("2025-12"))
        p_train = 0.55 + 0.45 * ramp(hired, parse_month("2020-01"), parse_month("2025-06"))
        p_check = 0.6 + 0.4 * ramp(hired, parse_month("2020-06"), parse_month("2023-06"))
        cert = np.full(n, NO_CERTIFICATE, dtype=np.int8)
        cert_month = np.full(n, -NEVER, dtype=np.int64)
        care = role == CAREGIVER
        cert[care] = rng.choice(3, size=int(care.sum()), p=(0.5, 0.32, 0.18))
        cert_month[care] = catch_up(p_cert, 0.05, CERT_SWEEP)[care]
        for r, options, p in (
            (HEALTH, (3, 4), (0.7, 0.3)),
            (MANAGER, (2, 0, 5), (0.4, 0.3, 0.3)),
            (OTHER, (5, 1), (0.8, 0.2)),
        ):
            sel = role == r
            cert[sel] = rng.choice(options, size=int(sel.sum()), p=p)
        return {
            "uid": self._uids(n),
            "inst": inst.astype(np.int64),
            "birth": birth,
            "male": male,
            "id": id_numbers(self.prefix, birth, seq, male),
            **names,
            "role": role.astype(np.int8),
            "cert": cert,
            "cert_month": cert_month,
            "train_month": catch_up(p_train, 0.06, TRAIN_SWEEP),
            "check_month": catch_up(p_check, 0.07, CHECK_SWEEP),
            "hire": hire,
        }


def class_index(age: np.ndarray) -> np.ndarray:
    """0 乳儿班 (under 12 months), 1 托小班 (12–23), 2 托大班 (24 and over)."""
    return np.clip(age // 12, 0, 2).astype(np.int64)
