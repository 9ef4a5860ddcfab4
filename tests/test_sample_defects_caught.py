"""Every defect the synthetic sample plants is caught by the whole pipeline, and nothing else.

The sample (`pipeline.sample.generate_test_sample`, six months for the shipped Qingzhou
reference) writes a manifest naming each planted defect: its file, its data row and the
contract rule it breaks (`rule_key`, e.g. `enrollment.child_id_number.check_digit`). The
pipeline is run once on it, end to end as `tuoyu run` runs it, and the audit tables are
held against the manifest:

- an R defect is a row of `audit.rejected_rows` for that file version and row, with our
  rule id for the contract rule (RULE_IDS below);
- a W defect is a row of `audit.row_warnings` with our rule id, and the row is not
  rejected unless the manifest plants an R on it too;
- a rejected file, a missing month, a revision and an unrecognised name show in the load
  log as the contract says, and the missing data leaves the indicators NULL;
- no row that the manifest does not name is rejected or warned about;
- every data-quality flag the sample plants (manifest `flags`, pipeline/sample/flags.py) is
  in marts.quality_flags, and every other flag there is one the manifest explains: a
  consequence of a plant it lists, or a change of the story it lists (`events`); a flag
  confirmed with `tuoyu quality confirm` stays confirmed after the next run.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from pipeline.period import shift_month
from pipeline.reference import default_reference_folder
from pipeline.commands.run import run_pipeline
from pipeline.sample import SampleManifest, generate_test_sample
from pipeline.sample.rules import RULES
from pipeline.settings import Settings

pytestmark = pytest.mark.heavy(seconds=8)

REPO = Path(__file__).resolve().parents[1]

# The sample's rule keys (pipeline.sample.rules.RULES) → the rule ids of expectations/*.json
# (listed in docs/validation.md) that must flag the planted row. One id unless noted.
RULE_IDS: dict[str, set[str]] = {
    "institutions.period.missing": {"INS-PERIOD"},
    "institutions.period.unparseable": {"INS-PERIOD"},
    "institutions.period.mismatch": {"INS-PERIOD"},
    "institutions.institution_id.missing": {"INS-ID"},
    "institutions.institution_id.exact_duplicate": {"INS-DUPLICATE"},
    "institutions.institution_id.conflicting_duplicate": {"INS-ID-CONFLICT"},
    "institutions.name.missing": {"INS-NAME"},
    "institutions.credit_code.format": {"INS-CREDIT-CODE"},
    "institutions.credit_code.check_character": {"INS-CREDIT-CODE"},
    "institutions.area_code.unknown": {"INS-AREA"},
    "institutions.institution_type.invalid": {"INS-TYPE"},
    "institutions.affordable.unparseable": {"INS-AFFORDABLE"},
    "institutions.demonstration.unparseable": {"INS-DEMONSTRATION"},
    "institutions.demonstration_date.missing": {"INS-DEMO-DATE-MISSING"},
    "institutions.demonstration_date.unparseable": {"INS-DEMO-DATE"},
    "institutions.demonstration_date.after_month_end": {"INS-DEMO-DATE"},
    "institutions.registration_date.missing": {"INS-REG-DATE"},
    "institutions.registration_date.unparseable": {"INS-REG-DATE"},
    "institutions.registration_date.after_month_end": {"INS-REG-DATE"},
    "institutions.filing_status.invalid": {"INS-FILING-STATUS"},
    "institutions.filing_date.missing": {"INS-FILING-DATE-MISSING"},
    "institutions.filing_date.unparseable": {"INS-FILING-DATE"},
    "institutions.filing_date.after_month_end": {"INS-FILING-DATE"},
    "institutions.places.missing": {"INS-PLACES"},
    "institutions.places.not_integer": {"INS-PLACES"},
    "institutions.places.negative": {"INS-PLACES"},
    "institutions.places.above_200": {"INS-PLACES-HIGH"},
    "institutions.cctv_full_coverage.unparseable": {"INS-CCTV"},
    "institutions.fire_safety_passed.unparseable": {"INS-FIRE"},
    "institutions.operating_status.invalid": {"INS-STATUS"},
    "enrollment.period.missing": {"ENR-PERIOD"},
    "enrollment.period.unparseable": {"ENR-PERIOD"},
    "enrollment.period.mismatch": {"ENR-PERIOD"},
    "enrollment.institution_id.unknown": {"ENR-INSTITUTION"},
    "enrollment.child_id_number.missing": {"ENR-CHILD-ID-MISSING"},
    "enrollment.child_id_number.format": {"ENR-CHILD-ID-FORMAT"},
    "enrollment.child_id_number.check_digit": {"ENR-CHILD-ID-CHECK"},
    # In a CSV the number arrives as Excel displayed it ("3.70781E+17"); in an XLSX it is a
    # numeric cell, which the reader turns into the same displayed form: -SCIENTIFIC both.
    "enrollment.child_id_number.scientific": {"ENR-CHILD-ID-SCIENTIFIC"},
    "enrollment.child_id_number.same_child_twice": {"ENR-CHILD-REPEAT"},
    "enrollment.birth_date.missing": {"ENR-BIRTH-DATE"},
    "enrollment.birth_date.unparseable": {"ENR-BIRTH-DATE"},
    "enrollment.birth_date.after_month_end": {"ENR-BIRTH-DATE"},
    "enrollment.birth_date.differs_from_id": {"ENR-BIRTH-DATE-ID"},
    "enrollment.birth_date.age_36_months_or_more": {"ENR-AGE-36"},
    "enrollment.sex.invalid": {"ENR-SEX"},
    "enrollment.sex.disagrees_with_id": {"ENR-SEX-ID"},
    "enrollment.class_type.invalid": {"ENR-CLASS-TYPE"},
    "enrollment.care_mode.invalid": {"ENR-CARE-MODE"},
    "enrollment.enrollment_date.missing": {"ENR-ENROLL-DATE"},
    "enrollment.enrollment_date.unparseable": {"ENR-ENROLL-DATE"},
    "enrollment.enrollment_date.after_month_end": {"ENR-ENROLL-DATE"},
    "enrollment.enrollment_date.before_birth": {"ENR-ENROLL-DATE"},
    "staffing.period.missing": {"STF-PERIOD"},
    "staffing.period.unparseable": {"STF-PERIOD"},
    "staffing.period.mismatch": {"STF-PERIOD"},
    "staffing.institution_id.unknown": {"STF-INSTITUTION"},
    "staffing.staff_id_number.missing": {"STF-STAFF-ID-MISSING"},
    "staffing.staff_id_number.format": {"STF-STAFF-ID-FORMAT"},
    "staffing.staff_id_number.check_digit": {"STF-STAFF-ID-CHECK"},
    # As for children: -SCIENTIFIC from a CSV, -CHECK from a numeric XLSX cell.
    "staffing.staff_id_number.scientific": {"STF-STAFF-ID-SCIENTIFIC"},
    "staffing.role.invalid": {"STF-ROLE"},
    "staffing.certificate.invalid": {"STF-CERTIFICATE"},
    "staffing.pre_service_training.unparseable": {"STF-TRAINING"},
    "staffing.criminal_record_check.unparseable": {"STF-CRIMINAL-CHECK"},
    "staffing.hire_date.missing": {"STF-HIRE-DATE"},
    "staffing.hire_date.unparseable": {"STF-HIRE-DATE"},
    "staffing.hire_date.after_month_end": {"STF-HIRE-DATE"},
}

# An exact duplicate is collapsed (rows_duplicate) and the warning goes on the copy that
# is kept, the first one (docs/validation.md); the manifest names the later copy.
EXACT_DUPLICATE = "institutions.institution_id.exact_duplicate"

# The indicators that use each extract (indicator-handbook.md): NULL in a month without it.
USES_ENROLLMENT = ("enrolled_children", "enrollment_rate", "place_utilization", "ratio_compliance_rate")
USES_STAFFING = ("caregiver_certified_rate", "staff_trained_rate", "criminal_check_rate",
                 "ratio_compliance_rate")
USES_INSTITUTIONS_ONLY = ("demo_institutions", "places_per_1000", "filing_rate", "town_coverage",
                          "service_type_count")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[SampleManifest, Path]:
    """The sample and the warehouse of one pipeline run on it."""
    base = tmp_path_factory.mktemp("sample_run")
    manifest = generate_test_sample(base / "sample", default_reference_folder())
    settings = Settings(inbox=base / "sample" / "inbox", reference=default_reference_folder(),
                        warehouse=base / "warehouse.duckdb", reports=base / "reports",
                        pseudonym_key=None, demo=True, lock_wait=0)
    outcome = run_pipeline(settings)
    assert outcome.success, outcome.text()
    return manifest, base / "warehouse.duckdb"


@pytest.fixture(scope="module")
def manifest(run) -> SampleManifest:
    return run[0]


@pytest.fixture
def con(run):
    connection = duckdb.connect(str(run[1]), read_only=True)
    yield connection
    connection.close()


def findings(con, table: str) -> dict[tuple[str, int], set[str]]:
    """(file path, row number) → rule ids of `audit.<table>` for the current file versions."""
    found: dict[tuple[str, int], set[str]] = defaultdict(set)
    for file_path, row_number, rule_id in con.execute(f"""
        select log.file_path, finding.row_number, finding.rule_id
        from audit.{table} as finding
        join audit.load_log as log
            on log.sha256 = finding.sha256 and log.kind = finding.kind and log.period = finding.period
        where log.status = 'loaded'
    """).fetchall():
        found[file_path, row_number].add(rule_id)
    return found


def row_defects(manifest: SampleManifest, severity: str) -> list:
    return [d for d in manifest.defects if d.severity == severity]


def planted_rows(manifest: SampleManifest, severity: str) -> set[tuple[str, int]]:
    return {(d.file, d.row_number) for d in row_defects(manifest, severity)}


def kept_copy(con, defect) -> int:
    """The row number of the copy that an exact duplicate row was collapsed into: the
    first non-duplicate row of the same file with the same 机构编号."""
    found = con.execute("""
        select min(s.row_number) from staging.institutions as s
        join audit.load_log as log on log.sha256 = s.sha256
        where log.file_path = ? and not s.is_duplicate and s.institution_id = (
            select d.institution_id from staging.institutions as d
            where d.sha256 = s.sha256 and d.row_number = ? and d.is_duplicate)
    """, [defect.file, defect.row_number]).fetchone()[0]
    assert found is not None, f"{defect.file} row {defect.row_number} was not collapsed as a duplicate"
    return found


# ---------------------------------------------------------------- the mapping itself


def test_rule_mapping_covers_every_planted_rule_and_names_real_rules(manifest):
    suites = {}
    for path in sorted((REPO / "expectations").glob("*.json")):
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            suites[expectation["meta"]["rule_id"]] = expectation["meta"]["severity"]
    planted = {d.rule_key for d in manifest.defects if d.severity in ("R", "W")}
    assert planted <= set(RULE_IDS), sorted(planted - set(RULE_IDS))
    assert set(RULE_IDS) == set(RULES), sorted(set(RULE_IDS) ^ set(RULES))
    for rule_key, rule_ids in RULE_IDS.items():
        assert rule_ids <= set(suites), (rule_key, rule_ids - set(suites))
        # an R rule of the contract is enforced by R rules, a W rule by W rules
        assert {suites[r] for r in rule_ids} == {RULES[rule_key].severity}, rule_key
    # The six months plant every rule of the contract at least once.
    assert planted == set(RULES), sorted(set(RULES) - planted)


# ---------------------------------------------------------------- row defects


def test_row_defects_are_in_loaded_files(manifest):
    # Row defects are planted in files that are read; a rejected, superseded or
    # unrecognised file has none (it is the file that is wrong).
    status = {f.file: f.status for f in manifest.files}
    for defect in row_defects(manifest, "R") + row_defects(manifest, "W"):
        assert status[defect.file] == "loaded", defect


def test_every_rejecting_defect_is_rejected_by_its_rule(manifest, con):
    rejected = findings(con, "rejected_rows")
    missed = []
    for defect in row_defects(manifest, "R"):
        got = rejected.get((defect.file, defect.row_number), set())
        if not got & RULE_IDS[defect.rule_key]:
            missed.append((defect.file, defect.row_number, defect.rule_key, sorted(got)))
    assert missed == []


def test_every_warning_defect_is_warned_and_kept(manifest, con):
    warned = findings(con, "row_warnings")
    rejected = findings(con, "rejected_rows")
    also_rejected = planted_rows(manifest, "R")
    missed = []
    for defect in row_defects(manifest, "W"):
        row = kept_copy(con, defect) if defect.rule_key == EXACT_DUPLICATE else defect.row_number
        if not warned.get((defect.file, row), set()) & RULE_IDS[defect.rule_key]:
            missed.append((defect.file, row, defect.rule_key, sorted(warned.get((defect.file, row), set()))))
        if (defect.file, row) not in also_rejected:
            assert (defect.file, row) not in rejected, (defect, rejected[defect.file, row])
    assert missed == []


def test_no_clean_row_is_rejected(manifest, con):
    rejected = findings(con, "rejected_rows")
    unexpected = {key: rules for key, rules in rejected.items() if key not in planted_rows(manifest, "R")}
    assert unexpected == {}


def test_no_clean_row_is_warned(manifest, con):
    # Whole-file warnings (*-ROW-COUNT) have row number 0 and belong to no row.
    expected = planted_rows(manifest, "R") | planted_rows(manifest, "W")
    expected |= {(d.file, kept_copy(con, d)) for d in row_defects(manifest, "W") if d.rule_key == EXACT_DUPLICATE}
    warned = findings(con, "row_warnings")
    unexpected = {key: rules for key, rules in warned.items() if key[1] != 0 and key not in expected}
    assert unexpected == {}


def test_every_loaded_file_reconciles(manifest, con):
    written = {f.file: f.rows for f in manifest.files}
    duplicates = defaultdict(int)
    for defect in row_defects(manifest, "W"):
        duplicates[defect.file] += defect.rule_key == EXACT_DUPLICATE
    rejected_rows = defaultdict(set)
    for defect in row_defects(manifest, "R"):
        rejected_rows[defect.file].add(defect.row_number)
    rows = con.execute("""
        select file_path, rows_read, rows_accepted, rows_rejected, rows_duplicate
        from audit.load_log where status = 'loaded' order by file_path
    """).fetchall()
    assert rows
    for file_path, read, accepted, rejected, duplicate in rows:
        assert read == accepted + rejected + duplicate, file_path
        assert read == written[file_path], file_path
        assert (rejected, duplicate) == (len(rejected_rows[file_path]), duplicates[file_path]), file_path


# ---------------------------------------------------------------- whole-file events


def test_every_file_has_its_expected_load_status(manifest, con):
    got = {path: (status, sha) for path, status, sha in con.execute(
        "select file_path, status, sha256 from audit.load_log").fetchall()}
    assert got == {f.file: (f.status, f.sha256) for f in manifest.files}


def test_rejected_files_say_why(manifest, con):
    events = [d for d in manifest.defects if d.severity == "file"]
    assert {d.rule_key for d in events} == {"missing_header", "bad_encoding"}
    for defect in events:
        status, message = con.execute(
            "select status, message from audit.load_log where file_path = ?", [defect.file]).fetchone()
        assert status == "file_rejected", defect
        if defect.rule_key == "missing_header":
            # The manifest names the header left out: "required header 无犯罪记录证明 (criminal_record_check)".
            header = re.search(r"header (\S+) \(", defect.rule).group(1)
            assert f"缺少必填列：{header}" in message, message
        else:
            assert "编码无法识别" in message and "UTF-8" in message, message
        # No month's data of that kind comes from the rejected file.
        assert con.execute(
            "select count(*) from audit.current_files where kind = ? and period = ?",
            [defect.kind, defect.period]).fetchone()[0] == 0


def test_months_without_an_extract_have_null_indicators(manifest, con):
    # A missing extract and a rejected one leave the month without that kind of data.
    gaps = [(d.kind, d.period) for d in manifest.defects if d.severity in ("missing", "file")]
    assert ("enrollment", "2023-03") in gaps  # the missing month of the test sample
    for kind, period in gaps:
        if any(d.severity == "missing" and (d.kind, d.period) == (kind, period) for d in manifest.defects):
            assert con.execute("select count(*) from audit.load_log where kind = ? and period = ?",
                               [kind, period]).fetchone()[0] == 0
        uses = {"enrollment": USES_ENROLLMENT, "staffing": USES_STAFFING}[kind]
        values = con.execute(
            "select indicator_id, count(*), count(value) from marts.indicator_values "
            "where period = ? group by indicator_id", [period]).fetchall()
        by_indicator = {i: (rows, with_value) for i, rows, with_value in values}
        for indicator_id in uses:
            rows, with_value = by_indicator[indicator_id]
            assert rows > 0 and with_value == 0, (kind, period, indicator_id)
        # The institutions extract of that month is there: its indicators are not NULL.
        for indicator_id in USES_INSTITUTIONS_ONLY:
            assert by_indicator[indicator_id][1] > 0, (kind, period, indicator_id)


def test_a_revision_supersedes_the_earlier_file(manifest, con):
    revisions = [d for d in manifest.defects if d.severity == "revised"]
    assert revisions
    for defect in revisions:
        rows = dict(con.execute("select file_path, status from audit.load_log where kind = ? and period = ?",
                                [defect.kind, defect.period]).fetchall())
        assert rows[defect.file] == "superseded"
        loaded = [path for path, status in rows.items() if status == "loaded"]
        assert len(loaded) == 1 and loaded[0] != defect.file, rows
        current = con.execute("select file_path from audit.current_files where kind = ? and period = ?",
                              [defect.kind, defect.period]).fetchall()
        assert current == [(loaded[0],)]


def test_an_unrecognised_name_is_logged_and_not_read(manifest, con):
    events = [d for d in manifest.defects if d.severity == "unrecognised"]
    assert events
    for defect in events:
        row = con.execute("select status, kind, period, rows_read from audit.load_log where file_path = ?",
                          [defect.file]).fetchone()
        assert row == ("unrecognised", None, None, None), defect


# ---------------------------------------------------------------- data-quality flags


def _flag(check_id, period, area_code, institution_id, measure) -> tuple:
    return (check_id, period, area_code, institution_id, measure)


def _explained_by_the_story(flag: tuple, events: list[dict], county: str) -> bool:
    """A flag that the story's own changes bring about:
    - AREA-JUMP of an area (the county: of any area) with an institution opened, closed,
      suspended or resumed there in the month or the five before (the mean looks back three
      months, and a new institution's children and staff grow for months after it opens);
    - OUT-SERIES of the children, staff or caregivers of an institution opened in the twelve
      months up to the month (its history is its first months, when it fills up)."""
    check_id, period, area_code, institution_id, measure = flag
    since = shift_month(period, -5 if check_id == "AREA-JUMP" else -12)
    recent = [e for e in events if since <= e["period"] <= period]
    if check_id == "AREA-JUMP":
        return any(e["area_code"] == area_code or area_code == county for e in recent)
    if check_id == "OUT-SERIES" and measure in ("children", "staff", "caregivers"):
        return any(e["institution_id"] == institution_id and e["event"] == "opened" for e in recent)
    return False


def test_every_planted_flag_is_found_and_every_other_flag_is_explained(manifest, con):
    found = {_flag(*row) for row in con.execute(
        "select check_id, period, area_code, institution_id, measure from marts.quality_flags").fetchall()}
    planted = {_flag(f["check_id"], f["period"], f["area_code"], f["institution_id"], f["measure"])
               for f in manifest.flags if f["planted"]}
    # One plant of each kind, all found.
    assert {f[0] for f in planted} == {"OUT-SERIES", "CON-OVERCAPACITY", "CON-NO-CAREGIVER", "CON-VANISHED",
                                       "AREA-JUMP"}
    assert planted <= found, sorted(planted - found)
    consequences = {_flag(f["check_id"], f["period"], f["area_code"], f["institution_id"], f["measure"])
                    for f in manifest.flags if not f["planted"]}
    unexplained = [f for f in found - planted - consequences if not _explained_by_the_story(f, manifest.events, manifest.county_code)]
    assert unexplained == []


def test_a_confirmed_flag_stays_confirmed_after_a_run(run, manifest):
    from pipeline.marts.quality import confirm_flag, read_flags

    base = run[1].parent
    settings = Settings(inbox=base / "sample" / "inbox", reference=default_reference_folder(),
                        warehouse=run[1], reports=base / "reports", pseudonym_key=None, demo=True, lock_wait=0)
    plant = next(f for f in manifest.flags if f["planted"] and f["check_id"] == "OUT-SERIES")
    with duckdb.connect(str(run[1])) as con:
        key = next(f["flag_key"] for f in read_flags(con, plant["period"])
                   if (f["check_id"], f["institution_id"]) == ("OUT-SERIES", plant["institution_id"]))
        confirm_flag(con, key, "已与机构核实")
    outcome = run_pipeline(settings)  # nothing new: the marts are built again
    assert outcome.success, outcome.text()
    with duckdb.connect(str(run[1]), read_only=True) as con:
        assert con.execute("select confirmed from marts.quality_flags where flag_key = ?", [key]).fetchall() == [(True,)]
        assert [f["flag_key"] for f in read_flags(con, plant["period"])].count(key) == 0
        assert con.execute("select note from audit.quality_confirmations").fetchall() == [("已与机构核实",)]
