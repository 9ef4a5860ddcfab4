"""Which file each kind and month is delivered in, and the whole-file events of the range.

Each value form is dealt out over the files of the requested range like cards: the
values of a form, repeated to the number of files it applies to and shuffled, so any
range of six months or more shows every form, whatever the seed. Whole-file events sit
at fixed fractions of the range, so a short range has them too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pipeline.sample.calendar import year_of
from pipeline.sample.forms import (
    CONTAINERS,
    DATE_FORMS,
    FLAG_FORMS,
    KINDS,
    MONTH_FORMS,
    FileForm,
)

REVISION_FOLDER = "更正"


@dataclass(frozen=True)
class Event:
    kind: str
    month: int


@dataclass
class Layout:
    forms: dict[tuple[str, int], FileForm]  # the (current) file of each kind and month
    missing: Event | None
    missing_header: Event | None  # written without 无犯罪记录证明: rejected as a whole
    bad_encoding: Event | None  # written in UTF-16: rejected as a whole
    revised: Event | None  # written twice; ``earlier`` is the superseded first delivery
    earlier: FileForm | None
    unrecognised: Event | None  # a copy under a name the contract does not match
    unrecognised_form: FileForm | None


def _deal(rng: np.random.Generator, values: list, count: int) -> list:
    if count == 0:
        return []
    return list(np.array(values, dtype=object)[rng.permutation(np.resize(np.arange(len(values)), count))])


def plan_layout(months: list[int], seed: int) -> Layout:
    rng = np.random.default_rng([seed, 301])
    files = [(kind, m) for m in months for kind in KINDS]
    by_kind = {k: [f for f in files if f[0] == k] for k in KINDS}
    attrs: dict[tuple[str, int], dict] = {f: {} for f in files}

    def deal(name: str, values: list, subset: list[tuple[str, int]]) -> None:
        for f, v in zip(subset, _deal(rng, values, len(subset))):
            attrs[f][name] = v

    for kind in KINDS:
        deal("container", list(CONTAINERS), by_kind[kind])
        deal("stem", ["en", "zh"], by_kind[kind])
        deal("name_month", list(MONTH_FORMS), by_kind[kind])
        deal("period_form", list(MONTH_FORMS), by_kind[kind])
    xlsx = [f for f in files if attrs[f]["container"] == "xlsx"]
    csv = [f for f in files if attrs[f]["container"] != "xlsx"]
    deal("date_form", list(DATE_FORMS), files)
    deal("serial", [True, False], xlsx)
    deal("mixed_dates", [True, False, False, False, False], files)
    deal("flag_form", list(FLAG_FORMS), [f for f in files if f[0] != "enrollment"])
    deal("int_form", ["number", "dotzero"], [f for f in xlsx if f[0] == "institutions"])
    deal("int_form", ["plain", "plain", "dotzero"], [f for f in csv if f[0] == "institutions"])
    deal("headers", ["en", "zh", "zh"], files)
    deal("extra", ["none", "none", "seq", "remark"], files)
    deal("fullwidth", [True, False, False, False], files)
    deal("lower_x", [True, False, False], [f for f in files if f[0] != "institutions"])
    deal("names", [True, True, True, True, True, False], [f for f in files if f[0] != "institutions"])
    deal("shuffled", [True, False, False, False, False, False], files)
    deal("title", [True, False, False, False, False], csv)
    deal("crlf", [True, False], csv)
    deal("blank_rows", [True, True, False], xlsx)
    deal("inline_strings", [True, False], xlsx)
    deal("notes_sheet", [True, False, False], xlsx)

    forms: dict[tuple[str, int], FileForm] = {}
    for f in files:
        a = attrs[f]
        serial = a.pop("serial", False)
        if serial:
            a["date_form"] = "serial"
        if a.get("title"):
            a["blank_rows"] = True
        forms[f] = FileForm(kind=f[0], month=f[1], folder=str(year_of(f[1])), **a)

    n = len(months)

    def at(fraction: float) -> int:
        return months[min(n - 1, int(fraction * (n - 1) + 0.5))]

    # Never in the last month where avoidable: the rules dealt to a month whose file is
    # missing or rejected are planted the month after.
    unrecognised = Event("institutions", at(0.2))
    missing = Event("enrollment", at(0.4))
    missing_header = Event("staffing", at(0.6))
    revised = Event("institutions", at(0.7))
    bad_encoding = Event("enrollment", at(0.8))
    if bad_encoding == missing:
        bad_encoding = None
    if revised == unrecognised and n > 1:
        unrecognised = Event("institutions", months[0] if revised.month != months[0] else months[-1])

    current = forms[(revised.kind, revised.month)]
    earlier = replace(
        current,
        container="csv-utf8",
        stem="zh" if current.stem == "en" else "en",
        name_month="dash",
        title=False,
        blank_rows=False,
    )
    forms[(revised.kind, revised.month)] = replace(current, folder=f"{current.folder}/{REVISION_FOLDER}")
    if bad_encoding is not None:
        forms[(bad_encoding.kind, bad_encoding.month)] = replace(
            forms[(bad_encoding.kind, bad_encoding.month)], container="utf-16", title=False, blank_rows=False
        )
    source = forms[(unrecognised.kind, unrecognised.month)]
    copy_form = replace(source, name_suffix=" - 副本")
    return Layout(forms, missing, missing_header, bad_encoding, revised, earlier, unrecognised, copy_form)
