"""The tools for planting defects into one month's file: picking rows, made-up
institutions, rendered values; and which rules each month gets.

Every rule of ``rules.RULES`` comes round once every ``CYCLE`` months (each kind's rules
are dealt out over the months in turn); a rule that cannot be planted in its month (no
demonstration institution yet, say) waits for the next month. Defects go only into
scale copy 0, so their number does not grow with the scale.
"""

from __future__ import annotations

import numpy as np

from pipeline.sample.calendar import month_end
from pipeline.sample.codes import ID_CHECK, credit_code
from pipeline.sample.forms import FileForm, date_text, flag_text, int_text, month_text
from pipeline.sample.institution_names import BRANDS, area_short
from pipeline.sample.people import Month
from pipeline.sample.reference import County
from pipeline.sample.rules import RULES
from pipeline.sample.sheet import Sheet
from pipeline.sample.story import EPOCH

CYCLE = 6
_BAD_DATES = ("不详", "{y}-02-30", "{y}年13月1日")


def scheduled(kind: str, month: int) -> list[str]:
    """Rule keys of ``kind`` dealt to ``month``."""
    keys = [k for k, r in RULES.items() if r.kind == kind]
    slot = (month - EPOCH) % CYCLE
    return [k for i, k in enumerate(keys) if i % CYCLE == slot]


class Planter:
    """Plants defects into one sheet (one kind, one month)."""

    def __init__(
        self, sheet: Sheet, snapshot: Month, county: County, ids: np.ndarray, scale: int, rng: np.random.Generator
    ) -> None:
        self.sheet, self.snapshot, self.county, self.ids, self.rng = sheet, snapshot, county, ids, rng
        self.scale = scale
        self.form: FileForm = sheet.form
        self.month = sheet.form.month
        self.end = month_end(self.month)
        typed = sheet.typed
        self.used = np.asarray(typed["_copy"].to_numpy() != 0)
        self.ghosts = 0

    # -- helpers ----------------------------------------------------------------------
    def date(self, day: int | None) -> str | None:
        return date_text(day, self.form.date_form)

    def bad_date(self) -> str:
        return _BAD_DATES[int(self.rng.integers(len(_BAD_DATES)))].format(y=self.month // 12)

    def pick(self, ok: np.ndarray | None = None) -> int | None:
        """A random unused row of copy 0 (among those where ``ok``); marks it used."""
        free = ~self.used if ok is None else (~self.used & ok)
        rows = np.flatnonzero(free)
        if len(rows) == 0:
            return None
        row = int(rows[self.rng.integers(len(rows))])
        self.used[row] = True
        return row

    def column(self, name: str) -> np.ndarray:
        return self.sheet.typed[name].to_numpy()

    def plant_edit(self, rule: str, column: str, value: str | None, ok: np.ndarray | None = None) -> bool:
        row = self.pick(ok)
        if row is None:
            return False
        self.sheet.set(row, column, value)
        self.sheet.plant(row, rule)
        return True

    def ghost(self) -> dict[str, str | None]:
        """A valid row of a made-up institution that no child or staff row refers to."""
        rng, form = self.rng, self.form
        number = 5000 + ((self.month - EPOCH) % 300) * 16 + self.ghosts
        self.ghosts += 1
        area = self.county.areas[int(rng.integers(len(self.county.areas)))]
        code = credit_code("52", self.county.id_prefix, "".join(str(d) for d in rng.integers(0, 10, 8)))
        return {
            "period": month_text(self.month, form.period_form),
            "institution_id": f"JG{number}",
            "name": f"{area_short(area.name)}{BRANDS[int(rng.integers(len(BRANDS)))]}托育中心",
            "credit_code": code,
            "area_code": area.code,
            "institution_type": "社会办托育机构",
            "affordable": flag_text(False, form.flag_form),
            "demonstration": flag_text(False, form.flag_form),
            "demonstration_date": None,
            "registration_date": self.date(self.end - int(rng.integers(20, 200))),
            "filing_status": "未备案",
            "filing_date": None,
            "places": int_text(int(rng.choice((30, 40, 50, 60, 80))), form.int_form),
            "cctv_full_coverage": flag_text(True, form.flag_form),
            "fire_safety_passed": flag_text(True, form.flag_form),
            "operating_status": "正常运营",
        }

    def add_ghost(self, rule: str, values: dict[str, str | None], **changes: str | None) -> float:
        values = {**values, **changes}
        after = int(self.rng.integers(-1, max(0, self.sheet.cells.height)))
        key = self.sheet.insert(after, values)
        self.sheet.plant(key, rule)
        return key

    def other_institution(self, row: int) -> str | None:
        """The id of another operating copy-0 institution, if there is one."""
        status = self.snapshot.status
        operating = np.flatnonzero((status == 1) & (np.arange(len(status)) % self.scale == 0))
        current = self.sheet.typed["institution_id"][row]
        options = [self.ids[g] for g in operating if self.ids[g] != current]
        return options[int(self.rng.integers(len(options)))] if options else None

    # -- id numbers -----------------------------------------------------------------------
    def plant_id(self, rule: str, column: str, case: str) -> bool:
        ids = self.sheet.typed[column].to_numpy().astype(str)
        ok = None
        if case == "scientific":
            ok = np.char.isdigit(ids) & ~self.used  # an id ending in X cannot be typed as a number
        row = self.pick(ok)
        if row is None:
            return False
        value = ids[row]
        if case == "missing":
            self.sheet.set(row, column, None)
        elif case == "format":
            self.sheet.set(row, column, value[:7] + value[8:])  # a digit lost: 17 characters
        elif case == "check_digit":
            wrong = ID_CHECK[(ID_CHECK.index(value[17]) + 1 + int(self.rng.integers(9))) % 11]
            self.sheet.set(row, column, value[:17] + wrong)
        elif self.form.is_xlsx:
            # Typed into Excel as a number: 15 significant digits survive.
            self.sheet.set(row, column, None)
            self.sheet.set_number(row, column, float(value[:15] + "000"))
        else:
            # Saved from Excel to CSV: the displayed scientific form.
            self.sheet.set(row, column, f"{float(value):.5E}")
        self.sheet.plant(row, rule)
        return True
