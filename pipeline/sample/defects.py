"""How each rule of extract-format.md §2 is broken in a month's file (``PLANTERS``).

Rejected institution rows would take their children and staff down with them, so every
institution R defect is planted on an extra row of a made-up institution ("ghost") that
has no children or staff; institution W defects go on real rows. Child and staff
defects go on real rows, except the two warnings that need a second row (a child listed
twice, a child kept past 36 months), which add one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.sample.calendar import month_start
from pipeline.sample.codes import CREDIT_ALPHABET, id_number
from pipeline.sample.forms import flag_text, int_text, month_text
from pipeline.sample.names import CHILD_GIVEN, SURNAMES
from pipeline.sample.people import CARE_MODES, CLASS_TYPES
from pipeline.sample.planter import Planter
from pipeline.sample.rules import RULES

_BAD_FLAGS = {
    "affordable": "√",
    "demonstration": "有",
    "cctv_full_coverage": "是的",
    "fire_safety_passed": "2",
    "pre_service_training": "已培训",
    "criminal_record_check": "已查询",
}


# -- institutions ------------------------------------------------------------------------
def _institution_planters() -> dict[str, Callable[[Planter], bool]]:
    def ghost(rule: str, **changes: str | None) -> Callable[[Planter], bool]:
        def plant(p: Planter) -> bool:
            values = p.ghost()
            resolved = {k: (v(p) if callable(v) else v) for k, v in changes.items()}
            p.add_ghost(rule, values, **resolved)
            return True

        return plant

    def period_mismatch(p: Planter) -> str:
        return month_text(p.month - 1, p.form.period_form)

    def bad_period(p: Planter) -> str:
        return f"{p.month // 12}年13月" if p.form.period_form == "cn" else f"{p.month // 12}-13"

    def exact_duplicate(p: Planter) -> bool:
        row = p.pick(p.column("_status") == 1)
        if row is None:
            return False
        key = p.sheet.insert(row, p.sheet.row(row))
        p.sheet.plant(key, "institutions.institution_id.exact_duplicate")
        return True

    def conflicting(p: Planter) -> bool:
        first = p.ghost()
        second = {**first, "places": int_text(int(float(first["places"] or 0)) + 10, p.form.int_form)}
        rule = "institutions.institution_id.conflicting_duplicate"
        p.add_ghost(rule, first)
        p.add_ghost(rule, second)
        return True

    def credit(case: str) -> Callable[[Planter], bool]:
        def plant(p: Planter) -> bool:
            row = p.pick()
            if row is None:
                return False
            code = p.sheet.typed["credit_code"][row]
            if case == "format":
                value = code[:-1]  # 17 characters
            else:
                value = code[:-1] + CREDIT_ALPHABET[(CREDIT_ALPHABET.index(code[-1]) + 7) % 31]
            p.sheet.set(row, "credit_code", value)
            p.sheet.plant(row, f"institutions.credit_code.{case}")
            return True

        return plant

    def unknown_area(p: Planter) -> str:
        known = {a.code for a in p.county.areas}
        return next(f"{p.county.code}{n:03d}" for n in range(999, 0, -1) if f"{p.county.code}{n:03d}" not in known)

    def demo_missing(p: Planter) -> bool:
        return p.plant_edit(
            "institutions.demonstration_date.missing",
            "demonstration_date",
            None,
            p.column("demonstration").astype(bool),
        )

    def filing_missing(p: Planter) -> bool:
        return p.plant_edit(
            "institutions.filing_date.missing", "filing_date", None, p.column("filing_status") == "已备案"
        )

    def yes(p: Planter) -> str:
        return flag_text(True, p.form.flag_form)

    def filed_day(p: Planter) -> str | None:
        return p.date(p.end - 10)

    def thousands(p: Planter) -> str:
        return f"{int(p.rng.choice((1050, 1200, 1500))):,}"

    return {
        "institutions.period.missing": ghost("institutions.period.missing", period=None),
        "institutions.period.unparseable": ghost("institutions.period.unparseable", period=bad_period),
        "institutions.period.mismatch": ghost("institutions.period.mismatch", period=period_mismatch),
        "institutions.institution_id.missing": ghost("institutions.institution_id.missing", institution_id=None),
        "institutions.institution_id.exact_duplicate": exact_duplicate,
        "institutions.institution_id.conflicting_duplicate": conflicting,
        "institutions.name.missing": ghost("institutions.name.missing", name=None),
        "institutions.credit_code.format": credit("format"),
        "institutions.credit_code.check_character": credit("check_character"),
        "institutions.area_code.unknown": ghost("institutions.area_code.unknown", area_code=unknown_area),
        "institutions.institution_type.invalid": ghost(
            "institutions.institution_type.invalid", institution_type="民办幼儿园"
        ),
        "institutions.affordable.unparseable": ghost(
            "institutions.affordable.unparseable", affordable=_BAD_FLAGS["affordable"]
        ),
        "institutions.demonstration.unparseable": ghost(
            "institutions.demonstration.unparseable", demonstration=_BAD_FLAGS["demonstration"]
        ),
        "institutions.demonstration_date.missing": demo_missing,
        "institutions.demonstration_date.unparseable": ghost(
            "institutions.demonstration_date.unparseable", demonstration=yes, demonstration_date=lambda p: p.bad_date()
        ),
        "institutions.demonstration_date.after_month_end": ghost(
            "institutions.demonstration_date.after_month_end",
            demonstration=yes,
            demonstration_date=lambda p: p.date(p.end + 12),
        ),
        "institutions.registration_date.missing": ghost(
            "institutions.registration_date.missing", registration_date=None
        ),
        "institutions.registration_date.unparseable": ghost(
            "institutions.registration_date.unparseable", registration_date=lambda p: p.bad_date()
        ),
        "institutions.registration_date.after_month_end": ghost(
            "institutions.registration_date.after_month_end", registration_date=lambda p: p.date(p.end + 9)
        ),
        "institutions.filing_status.invalid": ghost("institutions.filing_status.invalid", filing_status="备案中"),
        "institutions.filing_date.missing": filing_missing,
        "institutions.filing_date.unparseable": ghost(
            "institutions.filing_date.unparseable", filing_status="已备案", filing_date=lambda p: p.bad_date()
        ),
        "institutions.filing_date.after_month_end": ghost(
            "institutions.filing_date.after_month_end", filing_status="已备案", filing_date=lambda p: p.date(p.end + 5)
        ),
        "institutions.places.missing": ghost("institutions.places.missing", places=None),
        "institutions.places.not_integer": ghost("institutions.places.not_integer", places="85.5"),
        "institutions.places.negative": ghost("institutions.places.negative", places="-30"),
        # A closed institution still listed with its old large figure: kept (W), and not
        # operating, so it moves no indicator. Written with a thousands separator.
        "institutions.places.above_200": ghost(
            "institutions.places.above_200", places=thousands, operating_status="已注销"
        ),
        "institutions.cctv_full_coverage.unparseable": ghost(
            "institutions.cctv_full_coverage.unparseable", cctv_full_coverage=_BAD_FLAGS["cctv_full_coverage"]
        ),
        "institutions.fire_safety_passed.unparseable": ghost(
            "institutions.fire_safety_passed.unparseable", fire_safety_passed=_BAD_FLAGS["fire_safety_passed"]
        ),
        "institutions.operating_status.invalid": ghost(
            "institutions.operating_status.invalid", operating_status="停业"
        ),
    }


# -- enrollment and staffing ------------------------------------------------------------------
def _person_planters(kind: str) -> dict[str, Callable[[Planter], bool]]:
    id_col = "child_id_number" if kind == "enrollment" else "staff_id_number"
    date_col = "enrollment_date" if kind == "enrollment" else "hire_date"

    def edit(
        rule: str,
        column: str,
        value: Callable[[Planter, int], str | None],
        ok: Callable[[Planter], np.ndarray] | None = None,
    ) -> Callable[[Planter], bool]:
        def plant(p: Planter) -> bool:
            row = p.pick(None if ok is None else ok(p))
            if row is None:
                return False
            p.sheet.set(row, column, value(p, row))
            p.sheet.plant(row, rule)
            return True

        return plant

    def period_value(case: str) -> Callable[[Planter, int], str | None]:
        def value(p: Planter, row: int) -> str | None:
            if case == "missing":
                return None
            if case == "mismatch":
                return month_text(p.month - 1, p.form.period_form)
            return f"{p.month // 12}年13月" if p.form.period_form == "cn" else f"{p.month // 12}-13"

        return value

    def unknown_institution(p: Planter, row: int) -> str:
        ident = p.sheet.typed["institution_id"][row]
        return ident[:2] + "0" + ident[2:]  # JG0012 → JG00012: a digit too many

    def id_case(case: str) -> Callable[[Planter], bool]:
        return lambda p: p.plant_id(f"{kind}.{id_col}.{case}", id_col, case)

    out: dict[str, Callable[[Planter], bool]] = {}
    for case in ("missing", "unparseable", "mismatch"):
        out[f"{kind}.period.{case}"] = edit(f"{kind}.period.{case}", "period", period_value(case))
    out[f"{kind}.institution_id.unknown"] = edit(
        f"{kind}.institution_id.unknown", "institution_id", unknown_institution
    )
    for case in ("missing", "format", "check_digit", "scientific"):
        out[f"{kind}.{id_col}.{case}"] = id_case(case)
    out[f"{kind}.{date_col}.missing"] = edit(f"{kind}.{date_col}.missing", date_col, lambda p, r: None)
    out[f"{kind}.{date_col}.unparseable"] = edit(f"{kind}.{date_col}.unparseable", date_col, lambda p, r: p.bad_date())
    out[f"{kind}.{date_col}.after_month_end"] = edit(
        f"{kind}.{date_col}.after_month_end", date_col, lambda p, r: p.date(p.end + int(p.rng.integers(3, 20)))
    )
    if kind == "staffing":
        out["staffing.role.invalid"] = edit("staffing.role.invalid", "role", lambda p, r: "教师")
        out["staffing.certificate.invalid"] = edit(
            "staffing.certificate.invalid", "certificate", lambda p, r: "教师资格证"
        )
        for col in ("pre_service_training", "criminal_record_check"):
            out[f"staffing.{col}.unparseable"] = edit(
                f"staffing.{col}.unparseable", col, lambda p, r, c=col: _BAD_FLAGS[c]
            )
        return out

    def birth_after_month_end(p: Planter) -> bool:
        row = p.pick()
        if row is None:
            return False
        born = p.end + int(p.rng.integers(5, 40))
        male = bool(p.sheet.typed["_male"][row])
        # The id number is made to agree with the impossible birth date, so the row breaks
        # this rule and, unavoidably, 入托日期 ≤ month end < 出生日期.
        p.sheet.set(row, "child_id_number", id_number(p.county.id_prefix, born, int(p.rng.integers(500)), male))
        p.sheet.set(row, "birth_date", p.date(born))
        p.sheet.plant(row, "enrollment.birth_date.after_month_end")
        p.sheet.plant(row, "enrollment.enrollment_date.before_birth")
        return True

    def differs(p: Planter, row: int) -> str | None:
        return p.date(int(p.sheet.typed["_birth"][row]) - int(p.rng.integers(3, 25)))

    def flip(p: Planter, row: int) -> str:
        return "女" if p.sheet.typed["sex"][row] == "男" else "男"

    def before_birth(p: Planter, row: int) -> str | None:
        return p.date(int(p.sheet.typed["_birth"][row]) - int(p.rng.integers(10, 60)))

    def aged_out(p: Planter) -> bool:
        gone = p.snapshot.aged_out
        present = p.snapshot.status[gone["inst"]] == 1 if len(gone["inst"]) else np.zeros(0, dtype=bool)
        options = np.flatnonzero(present)
        if len(options) == 0:
            return False
        i = int(options[p.rng.integers(len(options))])
        ident = p.ids[gone["inst"][i]]
        rows = np.flatnonzero(p.sheet.typed["institution_id"].to_numpy() == ident)
        after = int(rows[-1]) if len(rows) else p.sheet.cells.height - 1
        name = (
            SURNAMES[gone["sn"][i]]
            + CHILD_GIVEN[gone["g1"][i]]
            + (CHILD_GIVEN[gone["g2"][i]] if gone["g2"][i] >= 0 else "")
        )
        child_id = gone["id"][i].decode("ascii")
        key = p.sheet.insert(
            after,
            {
                "period": month_text(p.month, p.form.period_form),
                "institution_id": ident,
                "child_name": name,
                "child_id_number": child_id.replace("X", "x") if p.form.lower_x else child_id,
                "birth_date": p.date(int(gone["birth"][i])),
                "sex": "男" if gone["male"][i] else "女",
                "class_type": CLASS_TYPES[2],
                "care_mode": CARE_MODES[int(gone["mode"][i])],
                "enrollment_date": p.date(int(gone["enroll"][i])),
            },
        )
        p.sheet.plant(key, "enrollment.birth_date.age_36_months_or_more")
        return True

    def twice(p: Planter) -> bool:
        row = p.pick()
        if row is None:
            return False
        other = p.other_institution(row)
        values = p.sheet.row(row)
        start = max(month_start(p.month), int(p.sheet.typed["_birth"][row]) + 1)
        values.update(
            {"care_mode": "临时托", "enrollment_date": p.date(start + int(p.rng.integers(0, p.end - start + 1)))}
        )
        if other is not None:
            values["institution_id"] = other
        key = p.sheet.insert(row, values)
        p.sheet.plant(row, "enrollment.child_id_number.same_child_twice")
        p.sheet.plant(key, "enrollment.child_id_number.same_child_twice")
        return True

    young = lambda p: p.column("_age") <= 33  # noqa: E731 - stays under 36 months when moved back
    out.update(
        {
            "enrollment.birth_date.missing": edit("enrollment.birth_date.missing", "birth_date", lambda p, r: None),
            "enrollment.birth_date.unparseable": edit(
                "enrollment.birth_date.unparseable", "birth_date", lambda p, r: p.bad_date()
            ),
            "enrollment.birth_date.after_month_end": birth_after_month_end,
            "enrollment.birth_date.differs_from_id": edit(
                "enrollment.birth_date.differs_from_id", "birth_date", differs, young
            ),
            "enrollment.birth_date.age_36_months_or_more": aged_out,
            "enrollment.sex.invalid": edit("enrollment.sex.invalid", "sex", lambda p, r: "未知"),
            "enrollment.sex.disagrees_with_id": edit("enrollment.sex.disagrees_with_id", "sex", flip),
            "enrollment.class_type.invalid": edit("enrollment.class_type.invalid", "class_type", lambda p, r: "混龄班"),
            "enrollment.care_mode.invalid": edit("enrollment.care_mode.invalid", "care_mode", lambda p, r: "寄宿托"),
            "enrollment.enrollment_date.before_birth": edit(
                "enrollment.enrollment_date.before_birth", "enrollment_date", before_birth
            ),
            "enrollment.child_id_number.same_child_twice": twice,
        }
    )
    return out


PLANTERS: dict[str, Callable[[Planter], bool]] = {
    **_institution_planters(),
    **_person_planters("enrollment"),
    **_person_planters("staffing"),
}
assert set(PLANTERS) == set(RULES), sorted(set(RULES) ^ set(PLANTERS))


def plant(planter: Planter, rules: list[str]) -> list[str]:
    """Plants each rule once; returns the rules that could not be planted this month."""
    return [rule for rule in rules if not PLANTERS[rule](planter)]
