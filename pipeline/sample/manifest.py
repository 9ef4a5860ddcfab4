"""What a generated sample holds: its files, its months, every planted defect and every
planted data-quality flag.

The manifest carries no name and no id number, only file paths, row numbers and rules,
so that it can sit next to the inbox and be read by tests and people alike.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Defect:
    kind: str
    period: str  # YYYY-MM
    file: str | None  # path relative to the inbox; None for a missing extract
    row_number: int | None  # 1-based among data rows (blank rows not counted); None: whole file
    rule: str  # what is wrong, in the contract's words
    severity: str  # "R", "W", "file", "missing", "revised", "unrecognised"
    rule_key: str  # kind.column.case (pipeline.sample.rules) or the file event
    column: str | None  # the contract's English column name, for row defects


@dataclass(frozen=True)
class FileEntry:
    file: str  # path relative to the inbox
    kind: str
    period: str
    status: str  # expected load status: "loaded", "superseded", "file_rejected", "unrecognised"
    rows: int  # data rows written (blank rows not counted)
    sha256: str
    modified: str  # the mtime set on the file, ISO 8601 UTC
    forms: dict  # every value form the file uses (pipeline.sample.forms.FileForm)


@dataclass
class SampleManifest:
    scale: int
    seed: int
    start: str
    end: str
    county_code: str
    months: list[str]
    files: list[FileEntry] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    story: list[dict] = field(default_factory=list)  # clean county figures per month, before defects
    # the data-quality flags planted (pipeline/sample/flags.py), with what they may bring about
    flags: list[dict] = field(default_factory=list)
    # the story's changes: institutions opening, closing, suspended, resuming (by id and area)
    events: list[dict] = field(default_factory=list)
    path: Path | None = None  # where the JSON was written

    def to_dict(self) -> dict:
        return {
            "scale": self.scale,
            "seed": self.seed,
            "start": self.start,
            "end": self.end,
            "county_code": self.county_code,
            "months": self.months,
            "files": [asdict(f) for f in self.files],
            "defects": [asdict(d) for d in self.defects],
            "story": self.story,
            "flags": self.flags,
            "events": self.events,
        }

    def write(self, path: Path, modified: float | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if modified is not None:
            os.utime(path, (modified, modified))
        self.path = path

    def defects_in(self, file: str) -> list[Defect]:
        return [d for d in self.defects if d.file == file]
