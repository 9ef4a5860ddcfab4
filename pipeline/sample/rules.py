"""The row rules of extract-format.md §2 that the sample plants, one entry per way to break them.

Each key is ``kind.column.case``; ``text`` is what the manifest says about a planted row.
Whole-file events (missing month, rejected file, revision, unrecognised name) are listed
in ``FILE_EVENTS``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    key: str
    severity: str  # "R" reject the row, "W" keep it with a warning
    text: str

    @property
    def kind(self) -> str:
        return self.key.split(".")[0]

    @property
    def column(self) -> str:
        return self.key.split(".")[1]


def _rules(kind: str, items: tuple[tuple[str, str, str], ...]) -> list[Rule]:
    return [Rule(f"{kind}.{key}", severity, f"{kind}.{key.split('.')[0]}: {text}") for key, severity, text in items]


_PERIOD = (
    ("period.missing", "R", "missing"),
    ("period.unparseable", "R", "unparseable"),
    ("period.mismatch", "R", "not the file's month"),
)
_ID_NUMBER = (
    ("missing", "R", "missing"),
    ("format", "R", "not 17 digits plus a digit or X"),
    ("check_digit", "R", "wrong check digit"),
    ("scientific", "R", "in scientific notation"),
)

RULES: dict[str, Rule] = {
    r.key: r
    for r in [
        *_rules(
            "institutions",
            _PERIOD
            + (
                ("institution_id.missing", "R", "missing"),
                ("institution_id.exact_duplicate", "W", "identical duplicate row (collapsed)"),
                ("institution_id.conflicting_duplicate", "R", "same id with different content"),
                ("name.missing", "R", "missing"),
                ("credit_code.format", "W", "not 18 characters of the GB 32100 alphabet"),
                ("credit_code.check_character", "W", "wrong GB 32100 check character"),
                ("area_code.unknown", "R", "not an area of the reference"),
                ("institution_type.invalid", "R", "not one of the six types"),
                ("affordable.unparseable", "R", "unparseable flag"),
                ("demonstration.unparseable", "R", "unparseable flag"),
                ("demonstration_date.missing", "W", "missing while 是否示范 = 是"),
                ("demonstration_date.unparseable", "R", "unparseable"),
                ("demonstration_date.after_month_end", "R", "after month end"),
                ("registration_date.missing", "R", "missing"),
                ("registration_date.unparseable", "R", "unparseable"),
                ("registration_date.after_month_end", "R", "after month end"),
                ("filing_status.invalid", "R", "not 已备案 or 未备案"),
                ("filing_date.missing", "W", "missing while 已备案"),
                ("filing_date.unparseable", "R", "unparseable"),
                ("filing_date.after_month_end", "R", "after month end"),
                ("places.missing", "R", "missing"),
                ("places.not_integer", "R", "not an integer"),
                ("places.negative", "R", "negative"),
                ("places.above_200", "W", "above 200"),
                ("cctv_full_coverage.unparseable", "R", "unparseable flag"),
                ("fire_safety_passed.unparseable", "R", "unparseable flag"),
                ("operating_status.invalid", "R", "not 正常运营, 暂停运营 or 已注销"),
            ),
        ),
        *_rules(
            "enrollment",
            _PERIOD
            + (
                ("institution_id.unknown", "R", "no accepted institution with this id in the month"),
                *((f"child_id_number.{k}", s, t) for k, s, t in _ID_NUMBER),
                ("birth_date.missing", "R", "missing"),
                ("birth_date.unparseable", "R", "unparseable"),
                ("birth_date.after_month_end", "R", "after month end"),
                ("birth_date.differs_from_id", "W", "differs from digits 7-14 of the id number"),
                ("birth_date.age_36_months_or_more", "W", "child 36 months or older at month end"),
                ("sex.invalid", "R", "not 男 or 女"),
                ("sex.disagrees_with_id", "W", "disagrees with the id number"),
                ("class_type.invalid", "R", "not 乳儿班, 托小班 or 托大班"),
                ("care_mode.invalid", "R", "not 全日托, 半日托, 计时托 or 临时托"),
                ("enrollment_date.missing", "R", "missing"),
                ("enrollment_date.unparseable", "R", "unparseable"),
                ("enrollment_date.after_month_end", "R", "after month end"),
                ("enrollment_date.before_birth", "R", "before birth_date"),
                ("child_id_number.same_child_twice", "W", "same child more than once in the month"),
            ),
        ),
        *_rules(
            "staffing",
            _PERIOD
            + (
                ("institution_id.unknown", "R", "no accepted institution with this id in the month"),
                *((f"staff_id_number.{k}", s, t) for k, s, t in _ID_NUMBER),
                ("role.invalid", "R", "not one of the six roles"),
                ("certificate.invalid", "R", "not one of the six certificates"),
                ("pre_service_training.unparseable", "R", "unparseable flag"),
                ("criminal_record_check.unparseable", "R", "unparseable flag"),
                ("hire_date.missing", "R", "missing"),
                ("hire_date.unparseable", "R", "unparseable"),
                ("hire_date.after_month_end", "R", "after month end"),
            ),
        ),
    ]
}

# Whole-file events: (severity, manifest text).
FILE_EVENTS = {
    "missing": ("missing", "no extract of this kind for the month"),
    "missing_header": ("file", "a required header is missing: the whole file is rejected"),
    "bad_encoding": ("file", "encoded in UTF-16, neither UTF-8 nor GB18030: the whole file is rejected"),
    "revised": ("revised", "re-delivered: this earlier version is superseded by a later one"),
    "unrecognised": ("unrecognised", "file name does not match the contract: not read"),
}
