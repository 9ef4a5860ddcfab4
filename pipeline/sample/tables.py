"""Typed month tables: one row per listed institution, enrolled child and staff member.

These are the clean truth of a month, before file forms and planted defects. Columns are
the contract's (dates as ``pl.Date``, flags as ``pl.Boolean``); columns starting with
``_`` are bookkeeping for planting defects and are never written.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.sample.calendar import age_in_months
from pipeline.sample.institution_names import institution_identity
from pipeline.sample.names import ADULT_GIVEN, CHILD_GIVEN, name_series
from pipeline.sample.people import (
    CARE_MODES,
    CERTIFICATES,
    CLASS_TYPES,
    NO_CERTIFICATE,
    ROLES,
    Month,
    class_index,
)
from pipeline.sample.story import INSTITUTION_TYPES, STATUS_TEXT, Plan


class Identities:
    """机构编号, 名称 and 信用代码 of every institution copy, made once and kept."""

    def __init__(self, plan: Plan, scale: int, seed: int) -> None:
        n = len(plan.institutions) * scale
        self.plan, self.scale, self.seed = plan, scale, seed
        self.ids = np.empty(n, dtype=object)
        self.names = np.empty(n, dtype=object)
        self.codes = np.empty(n, dtype=object)
        self._done = np.zeros(n, dtype=bool)

    def fill(self, globals_: np.ndarray) -> None:
        for g in globals_[~self._done[globals_]]:
            inst = self.plan.institutions[g // self.scale]
            self.ids[g], self.names[g], self.codes[g] = institution_identity(
                self.plan.county, inst, int(g % self.scale), self.seed
            )
            self._done[g] = True


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]"))


def _optional_dates(days: np.ndarray, present: np.ndarray) -> pl.Series:
    return pl.Series(np.where(present, days, 0).astype("datetime64[D]")).set(pl.Series(~present), None)


def _text(values: np.ndarray) -> pl.Series:
    return pl.Series(values.astype("U18")) if values.dtype.kind == "S" else pl.Series(values, dtype=pl.String)


def institutions(plan: Plan, snapshot: Month, ident: Identities, scale: int) -> pl.DataFrame:
    month = snapshot.month
    g = np.flatnonzero(snapshot.status > 0)
    ident.fill(g)
    insts = [plan.institutions[i] for i in g // scale]
    county = plan.county
    demo_month = np.array([i.demonstration_month for i in insts], dtype=np.int64)
    filing_month = np.array([i.filing_month for i in insts], dtype=np.int64)
    demo = demo_month <= month
    filed = filing_month <= month
    return pl.DataFrame(
        {
            "institution_id": pl.Series(ident.ids[g].tolist(), dtype=pl.String),
            "name": pl.Series(ident.names[g].tolist(), dtype=pl.String),
            "credit_code": pl.Series(ident.codes[g].tolist(), dtype=pl.String),
            "area_code": pl.Series([county.areas[i.area].code for i in insts], dtype=pl.String),
            "institution_type": pl.Series([INSTITUTION_TYPES[i.type] for i in insts], dtype=pl.String),
            "affordable": pl.Series([i.affordable_month <= month for i in insts], dtype=pl.Boolean),
            "demonstration": pl.Series(demo, dtype=pl.Boolean),
            "demonstration_date": _optional_dates(
                np.array([i.demonstration_day or 0 for i in insts], dtype=np.int64), demo
            ),
            "registration_date": _dates(np.array([i.registration_day for i in insts], dtype=np.int64)),
            "filing_status": pl.Series(np.where(filed, "已备案", "未备案"), dtype=pl.String),
            "filing_date": _optional_dates(np.array([i.filing_day or 0 for i in insts], dtype=np.int64), filed),
            "places": pl.Series([i.places for i in insts], dtype=pl.Int64),
            "cctv_full_coverage": pl.Series([i.cctv_month <= month for i in insts], dtype=pl.Boolean),
            "fire_safety_passed": pl.Series([i.fire_month <= month for i in insts], dtype=pl.Boolean),
            "operating_status": pl.Series([STATUS_TEXT[int(s)] for s in snapshot.status[g]], dtype=pl.String),
            "_g": g,
            "_copy": g % scale,
            "_status": snapshot.status[g],
        }
    )


def enrollment(snapshot: Month, ident: Identities, scale: int) -> pl.DataFrame:
    c = snapshot.children
    age = age_in_months(c["birth"], snapshot.month)
    return pl.DataFrame(
        {
            "institution_id": pl.Series(ident.ids[c["inst"]].tolist(), dtype=pl.String),
            "child_name": name_series(c["sn"], c["g1"], c["g2"], CHILD_GIVEN),
            "child_id_number": _text(c["id"]),
            "birth_date": _dates(c["birth"]),
            "sex": pl.Series(np.where(c["male"], "男", "女"), dtype=pl.String),
            "class_type": pl.Series(np.array(CLASS_TYPES)[class_index(age)], dtype=pl.String),
            "care_mode": pl.Series(np.array(CARE_MODES)[c["mode"]], dtype=pl.String),
            "enrollment_date": _dates(c["enroll"]),
            "_g": c["inst"],
            "_copy": c["inst"] % scale,
            "_age": age,
            "_birth": c["birth"],
            "_male": c["male"],
        }
    )


def staffing(snapshot: Month, ident: Identities, scale: int) -> pl.DataFrame:
    s, month = snapshot.staff, snapshot.month
    cert = np.where(s["cert_month"] <= month, s["cert"], NO_CERTIFICATE)
    return pl.DataFrame(
        {
            "institution_id": pl.Series(ident.ids[s["inst"]].tolist(), dtype=pl.String),
            "staff_name": name_series(s["sn"], s["g1"], s["g2"], ADULT_GIVEN),
            "staff_id_number": _text(s["id"]),
            "role": pl.Series(np.array(ROLES)[s["role"]], dtype=pl.String),
            "certificate": pl.Series(np.array(CERTIFICATES)[cert], dtype=pl.String),
            "pre_service_training": pl.Series(s["train_month"] <= month, dtype=pl.Boolean),
            "criminal_record_check": pl.Series(s["check_month"] <= month, dtype=pl.Boolean),
            "hire_date": _dates(s["hire"]),
            "_g": s["inst"],
            "_copy": s["inst"] % scale,
            "_birth": s["birth"],
            "_male": s["male"],
        }
    )
