"""``generate_sample``: a county's monthly extracts, from its story to the files' bytes.

The month loop streams: each month the people are moved on, the three typed tables are
built, rendered in their files' forms, defects are planted and the files are written;
nothing of a month is kept once it is written. Everything random comes from generators
seeded with the seed and what they are for (plan, people, a month's rendering or
defects), so the same arguments give the same bytes and the same file times.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.sample import tables
from pipeline.sample.calendar import last_full_month, month_text, parse_month
from pipeline.sample.defects import plant
from pipeline.sample.figures import month_figures
from pipeline.sample.flags import plan_flags, plant_flags, story_events
from pipeline.sample.forms import KINDS, FileForm, render
from pipeline.sample.layout import Event, Layout, plan_layout
from pipeline.sample.manifest import Defect, FileEntry, SampleManifest
from pipeline.sample.people import Month, People
from pipeline.sample.planter import Planter, scheduled
from pipeline.sample.reference import County, read_county
from pipeline.sample.rules import FILE_EVENTS, RULES
from pipeline.sample.sheet import Sheet
from pipeline.sample.story import EPOCH, build_plan
from pipeline.sample.writers import csv_bytes, written_fast, xlsx_bytes

MISSING_HEADER = "criminal_record_check"  # the column left out of the rejected file


def delivered(month: int, kind: str, days_late: int = 0) -> dt.datetime:
    """When a month's file arrives: the 5th of the next month, a few minutes apart by kind."""
    following = month + 1
    base = dt.datetime(following // 12, following % 12 + 1, 5, 9, 0)
    return base + dt.timedelta(days=days_late, minutes=17 * KINDS.index(kind))


# The kinds as the clerk names them, for the progress lines of `tuoyu sample` and `tuoyu demo`.
_KIND_ZH = {"institutions": "托育机构", "enrollment": "在托幼儿", "staffing": "从业人员"}


class _Writer:
    """Writes files into the inbox and keeps the manifest's file list."""

    def __init__(self, inbox: Path, county: County, seed: int, manifest: SampleManifest) -> None:
        self.inbox, self.county, self.seed, self.manifest = inbox, county, seed, manifest

    def write(
        self,
        form: FileForm,
        cells: pl.DataFrame,
        numbers: dict,
        when: dt.datetime,
        status: str,
        drop: str | None = None,
    ) -> bytes:
        rng = np.random.default_rng([self.seed, 601, form.month, KINDS.index(form.kind)])
        if form.is_xlsx:
            data = xlsx_bytes(cells, form, self.county.name, rng, numbers, when, drop)
            form = replace(form, inline_strings=form.inline_strings or written_fast(cells.height))
        else:
            data = csv_bytes(cells, form, self.county.name, rng, drop)
        self.put(form.path, data, when)
        self.record(form, form.path, data, cells.height, when, status)
        return data

    def put(self, relative: str, data: bytes, when: dt.datetime) -> None:
        path = self.inbox / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stamp = _calendar.timegm(when.timetuple())
        os.utime(path, (stamp, stamp))

    def record(self, form: FileForm, relative: str, data: bytes, rows: int, when: dt.datetime, status: str) -> None:
        forms = {k: v for k, v in asdict(form).items() if k not in ("kind", "month", "folder", "name_suffix")}
        self.manifest.files.append(
            FileEntry(
                relative,
                form.kind,
                month_text(form.month),
                status,
                rows,
                hashlib.sha256(data).hexdigest(),
                when.isoformat() + "Z",
                forms,
            )
        )


def _event(kind: str, month: int, event: str, file: str | None, rule: str | None = None) -> Defect:
    severity, text = FILE_EVENTS[event]
    return Defect(kind, month_text(month), file, None, rule or text, severity, event, None)


def _earlier_version(typed: pl.DataFrame, form: FileForm, seed: int) -> pl.DataFrame:
    """The first delivery of a revised institutions file: two places figures and one video
    flag that the later delivery corrects; no planted row defects."""
    rng = np.random.default_rng([seed, 701, form.month])
    real = np.flatnonzero(typed["_copy"].to_numpy() == 0)
    rows = rng.choice(real, size=min(3, len(real)), replace=False) if len(real) else []
    places = typed["places"].to_numpy().copy()
    cctv = typed["cctv_full_coverage"].to_numpy().copy()
    for k, r in enumerate(rows):
        if k < 2:
            places[r] = max(5, places[r] + (10 if k == 0 else -10))
        else:
            cctv[r] = not cctv[r]
    changed = typed.with_columns(pl.Series("places", places), pl.Series("cctv_full_coverage", cctv))
    return render(changed, form, np.random.default_rng([seed, 702, form.month]))


def generate_sample(
    out_dir: Path,
    reference_folder: Path,
    *,
    scale: int = 1,
    seed: int = 7,
    start: str = "2021-09",
    end: str | None = None,
    progress: Callable[[str], None] | None = None,
    manifest_path: Path | None = None,
) -> SampleManifest:
    """Write synthetic monthly extracts of the county in ``reference_folder`` into
    ``out_dir`` (sub-folders by year) and the manifest to ``manifest_path`` (default
    ``out_dir.parent / "sample-manifest.json"``, outside the inbox).

    ``end`` defaults to the last full month before today. ``scale`` N gives N copies of
    every institution with their own children and staff. ``out_dir`` must be empty or
    absent: files of an earlier sample would mix with the new ones.
    """
    out_dir = Path(out_dir)
    if scale < 1:
        raise ValueError("scale must be 1 or more")
    first = parse_month(start)
    last = parse_month(end) if end else last_full_month(dt.date.today())
    if last < first:
        raise ValueError(f"end {month_text(last)} is before start {month_text(first)}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty: choose an empty folder for the sample inbox")
    manifest_path = Path(manifest_path) if manifest_path else out_dir.parent / "sample-manifest.json"
    if manifest_path.resolve().is_relative_to(out_dir.resolve()):
        raise ValueError("the manifest must not be written inside the inbox")
    county = read_county(Path(reference_folder))
    out_dir.mkdir(parents=True, exist_ok=True)

    months = list(range(first, last + 1))
    layout = plan_layout(months, seed)
    sim_first = min(first, EPOCH)
    plan = build_plan(county, sim_first, last, seed)
    people = People(plan, scale, seed)
    ident = tables.Identities(plan, scale, seed)
    manifest = SampleManifest(
        scale, seed, month_text(first), month_text(last), county.code, [month_text(m) for m in months]
    )
    writer = _Writer(out_dir, county, seed, manifest)
    pending: dict[str, list[str]] = {k: [] for k in KINDS}
    flag_plan = plan_flags(months, layout)
    opened = {g: plan.institutions[g // scale].open_month for g in range(len(plan.institutions) * scale)}
    area_of = [county.areas[plan.institutions[g // scale].area].code for g in range(len(plan.institutions) * scale)]
    previous_status = None

    for month in range(sim_first, last + 1):
        snapshot = people.step(month)
        if month < first:
            continue
        manifest.story.append(month_figures(plan, people, snapshot, county))
        typed = {
            "institutions": tables.institutions(plan, snapshot, ident, scale),
            "enrollment": tables.enrollment(snapshot, ident, scale),
            "staffing": tables.staffing(snapshot, ident, scale),
        }
        manifest.events += story_events(snapshot.status, previous_status, ident.ids, area_of, month)
        previous_status = snapshot.status
        typed, planting = plant_flags(flag_plan, month, typed, snapshot, county.code, county.id_prefix, opened)
        for kind in KINDS:
            planter_for = _planter_factory(planting, county, ident, scale, seed, month, kind)
            rules = pending[kind] + scheduled(kind, month)
            pending[kind] = _write_month_file(writer, layout, kind, month, typed[kind], rules, planter_for)
        if progress:
            progress(f"{month_text(month)}：" + "，".join(f"{_KIND_ZH[k]} {typed[k].height:,} 行" for k in KINDS))

    manifest.flags = flag_plan.to_list()
    manifest.files.sort(key=lambda f: (f.period, KINDS.index(f.kind), f.file))
    manifest.defects.sort(key=lambda d: (d.period, KINDS.index(d.kind), d.file or "", d.row_number or 0, d.rule_key))
    manifest.write(manifest_path, modified=_calendar.timegm(delivered(last + 1, KINDS[0]).timetuple()))
    return manifest


def _planter_factory(
    snapshot: Month, county: County, ident: tables.Identities, scale: int, seed: int, month: int, kind: str
) -> Callable[[Sheet], Planter]:
    rng = np.random.default_rng([seed, 501, month, KINDS.index(kind)])
    return lambda sheet: Planter(sheet, snapshot, county, ident.ids, scale, rng)


def _write_month_file(
    writer: _Writer,
    layout: Layout,
    kind: str,
    month: int,
    typed: pl.DataFrame,
    rules: list[str],
    planter_for: Callable[[Sheet], Planter],
) -> list[str]:
    """Writes one kind's file(s) of a month; returns the rules left for the next month."""
    manifest, here = writer.manifest, Event(kind, month)
    if here == layout.missing:
        manifest.defects.append(_event(kind, month, "missing", None))
        return rules
    form = layout.forms[(kind, month)]
    cells = render(typed, form, np.random.default_rng([writer.seed, 401, month, KINDS.index(kind)]))
    when = delivered(month, kind, days_late=14 if here == layout.revised else 0)

    if here == layout.missing_header:
        writer.write(form, cells, {}, when, "file_rejected", drop=MISSING_HEADER)
        text = f"{kind}: required header 无犯罪记录证明 ({MISSING_HEADER}) missing: whole file rejected"
        manifest.defects.append(_event(kind, month, "missing_header", form.path, text))
        return rules
    if here == layout.bad_encoding:
        writer.write(form, cells, {}, when, "file_rejected")
        manifest.defects.append(_event(kind, month, "bad_encoding", form.path))
        return rules

    sheet = Sheet(form, typed, cells)
    left = plant(planter_for(sheet), rules)
    final, row_numbers, numbers = sheet.finish()
    data = writer.write(form, final, numbers, when, "loaded")
    for p in sheet.planted:
        rule = RULES[p.rule]
        manifest.defects.append(
            Defect(
                kind, month_text(month), form.path, row_numbers[p.key], rule.text, rule.severity, rule.key, rule.column
            )
        )

    if here == layout.revised and layout.earlier is not None:
        earlier = layout.earlier
        writer.write(earlier, _earlier_version(typed, earlier, writer.seed), {}, delivered(month, kind), "superseded")
        text = f"re-delivered: superseded by {form.path} (modified later)"
        manifest.defects.append(_event(kind, month, "revised", earlier.path, text))
    if here == layout.unrecognised and layout.unrecognised_form is not None:
        copy = layout.unrecognised_form
        copy_when = when + dt.timedelta(hours=2)
        writer.put(copy.path, data, copy_when)
        writer.record(copy, copy.path, data, final.height, copy_when, "unrecognised")
        manifest.defects.append(_event(kind, month, "unrecognised", copy.path))
    return left
