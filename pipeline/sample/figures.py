"""County figures of a month as the generator meant them, before any defect is planted.

They are written to the manifest's ``story`` so that a reader can see what the sample
is meant to show; the pipeline's own figures differ slightly, because rejected rows drop
out (and at scale N the county has N times the places for the same population).
"""

from __future__ import annotations

import numpy as np

from pipeline.sample.calendar import age_in_months, month_text
from pipeline.sample.people import CAREGIVER, Month, People
from pipeline.sample.reference import County
from pipeline.sample.story import Plan


def _pct(part: float, whole: float) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 1)


def month_figures(plan: Plan, people: People, snapshot: Month, county: County) -> dict:
    month, scale = snapshot.month, people.scale
    cols = plan.arrays()
    operating = snapshot.status == 1
    p = np.arange(people.size) // scale  # plan index of each global institution
    places = people.places[operating].sum()
    year = month // 12
    residents = county.residents(year)
    under3 = sum(u for _, u in county.population[county.population_year(year)].values())
    areas = {county.areas[a].code for a in cols["area"][p[operating]]}
    rural = {a.code for a in county.areas if not a.urban}
    ch, st = snapshot.children, snapshot.staff
    age = age_in_months(ch["birth"], month)
    at_work = operating[st["inst"]]
    care = (st["role"] == CAREGIVER) & at_work
    caregivers = np.bincount(st["inst"][care], minlength=people.size)
    required = people.required_caregivers(ch, month)
    with_children = np.bincount(ch["inst"], minlength=people.size) > 0
    certified = care & (st["cert_month"] <= month) & (st["cert"] <= 2)
    counted = operating & with_children
    op = p[operating]
    return {
        "period": month_text(month),
        "operating_institutions": int(operating.sum()),
        "places": int(places),
        "places_per_1000": round(1000.0 * places / residents, 2),
        "affordable_place_share": _pct(people.places[operating & (cols["affordable_month"][p] <= month)].sum(), places),
        "demo_institutions": int((cols["demonstration_month"][op] <= month).sum()),
        "filing_rate": _pct((cols["filing_month"][op] <= month).sum(), len(op)),
        "cctv_coverage": _pct((cols["cctv_month"][op] <= month).sum(), len(op)),
        "fire_safety_rate": _pct((cols["fire_month"][op] <= month).sum(), len(op)),
        "town_coverage": _pct(len(areas), len(county.areas)),
        "rural_town_coverage": _pct(len(areas & rural), len(rural)),
        "service_types": len(set(cols["type"][op].tolist())),
        "enrolled_children": len(ch["uid"]),
        "enrollment_rate": _pct(int((age < 36).sum()), under3),
        "place_utilization": _pct(len(ch["uid"]), places),
        "caregiver_certified_rate": _pct(certified.sum(), care.sum()),
        "staff_trained_rate": _pct((at_work & (st["train_month"] <= month)).sum(), at_work.sum()),
        "criminal_check_rate": _pct((at_work & (st["check_month"] <= month)).sum(), at_work.sum()),
        "ratio_compliance_rate": _pct((caregivers >= required)[counted].sum(), counted.sum()),
    }
