"""marts.quality_flags and marts.reporting_rates on small hand-made warehouses, and the
validation of quality.toml.

Every planted value is commented and every expected median, MAD and score is worked out
by hand beside it, with the shipped parameters (quality.toml): |H| ≥ 4, MAD* = max(MAD,
0.1 × |med|, 2), z = 0.6745 × (x − med) ÷ MAD*, flag when |z| > 3.5, expected range
med ∓ 3.5 × MAD* ÷ 0.6745; AREA-JUMP against the mean m of M−3…M−1 (≥ 2 present), flag
when m > 0, |x − m| ≥ 10 and |x ÷ m − 1| > 0.33; reporting deadline day 10.
The warehouse (tests/quality_fixtures.py) has one county (990000) and three 镇街:
TOWN_A 甲街道, TOWN_B 乙镇, TOWN_C 丙镇.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from pipeline.period import months_between
from pipeline.reference import ReferenceDataError, default_reference_folder, load_reference
from tests.indicator_fixtures import COUNTY, TOWN_A, TOWN_B, TOWN_C
from tests.quality_fixtures import QualityWarehouse, on_day

BIRTH = date(2023, 1, 1)

pytestmark = pytest.mark.heavy(seconds=6)


@pytest.fixture
def w(tmp_path):
    warehouse = QualityWarehouse(tmp_path / "warehouse.duckdb")
    yield warehouse
    warehouse.close()


def close(actual, expected):
    return actual is not None and math.isclose(actual, expected, rel_tol=0, abs_tol=1e-9)


def assert_out_series(flag, x, med, mad_star, threshold=3.5):
    """An OUT-SERIES flag of value x against the hand-computed med and MAD*."""
    assert flag["value"] == x
    assert close(flag["score"], 0.6745 * (x - med) / mad_star)
    assert close(flag["expected_low"], med - threshold * mad_star / 0.6745)
    assert close(flag["expected_high"], med + threshold * mad_star / 0.6745)


def staff(w, period, institution_id, caregivers, others=0):
    """`caregivers` 保育人员 rows and `others` 管理人员 rows (the same people every month)."""
    for i in range(caregivers):
        w.staff(period, institution_id, f"{institution_id}-s{i}")
    for i in range(others):
        w.staff(period, institution_id, f"{institution_id}-m{i}", role="管理人员", certificate="无")


def children(w, period, institution_id, count):
    for i in range(count):
        w.child(period, institution_id, f"{institution_id}-c{i}", BIRTH)


def test_columns_and_no_personal_data(w):
    w.files("2024-01", "institutions")
    w.institution("2024-01", "P1", TOWN_A)
    w.build()
    columns = [r[0] for r in w.query(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'quality_flags' order by ordinal_position")]
    assert columns == ["period", "area_code", "institution_id", "check_id", "measure", "value", "expected_low",
                       "expected_high", "score", "message_zh", "confirmed", "flag_key"]
    assert w.flags() == set()  # a first month: nothing to compare with


# ---------------------------------------------------------------- OUT-SERIES


def test_typed_ten_times_even_history_and_median_floor(w):
    # P1 (甲街道) places: 100 in 2023-01…06, 104 in 2023-07…12, then 1000 (typed for 100).
    for period in months_between("2023-01", "2024-01"):
        w.files(period, "institutions")
        places = 1000 if period == "2024-01" else 100 if period <= "2023-06" else 104
        w.institution(period, "P1", TOWN_A, places=places)
    w.build()
    # 2024-01: H = six 100s and six 104s (12 months, an even count):
    #   med = (100 + 104) ÷ 2 = 102; |h − 102| = 2 for all 12, MAD = 2;
    #   MAD* = max(2, 0.1 × 102 = 10.2, 2) = 10.2;
    #   z = 0.6745 × (1000 − 102) ÷ 10.2 = 605.701 ÷ 10.2 = 59.3824…;
    #   range 102 ∓ 3.5 × 10.2 ÷ 0.6745 = 102 ∓ 52.9281… = 49.0719…–154.9281…
    # Earlier months stay below 3.5: e.g. 2023-07, H = six 100s: med 100, MAD 0,
    # MAD* = max(0, 10, 2) = 10, z = 0.6745 × 4 ÷ 10 = 0.27.
    assert w.flags("OUT-SERIES") == {("2024-01", "OUT-SERIES", TOWN_A, "P1", "places")}
    flag = w.flag("OUT-SERIES", "2024-01", "P1", "places")
    assert_out_series(flag, 1000, med=102, mad_star=10.2)
    assert flag["message_zh"].startswith("本月核定托位数为 1000，该机构此前 12 个月的中位数为 102")
    assert flag["confirmed"] is False
    assert flag["flag_key"] == "OUT-SERIES/2024-01/P1/places/1000"
    # The same month's area totals jump too (P1 is the only institution):
    # m = (104 + 104 + 104) ÷ 3 = 104, x = 1000, score = 1000 ÷ 104 − 1 = 8.6153…
    assert w.flags() == {
        ("2024-01", "OUT-SERIES", TOWN_A, "P1", "places"),
        ("2024-01", "AREA-JUMP", TOWN_A, None, "places"),
        ("2024-01", "AREA-JUMP", COUNTY, None, "places"),
    }
    assert close(w.flag("AREA-JUMP", "2024-01", TOWN_A, "places")["score"], 1000 / 104 - 1)


def _caregiver_months(w):
    """Q1 (乙镇) and Q2 (丙镇), institutions and staffing 2024-01…05, 10 places each.
    Q1: 5 caregivers + 12 managers (17 staff) in 01–04, 17 caregivers in 05 (still 17 staff).
    Q2: 5 caregivers + 10 managers (15 staff) in 01–04, 15 caregivers in 05 (still 15 staff)."""
    for period in months_between("2024-01", "2024-05"):
        w.files(period, "institutions", "staffing")
        w.institution(period, "Q1", TOWN_B)
        w.institution(period, "Q2", TOWN_C)
        last = period == "2024-05"
        staff(w, period, "Q1", 17 if last else 5, 0 if last else 12)
        staff(w, period, "Q2", 15 if last else 5, 0 if last else 10)


def test_mad_zero_uses_the_floor_of_two(w):
    _caregiver_months(w)
    w.build()
    # 2024-05 caregivers, H = [5, 5, 5, 5] (|H| = 4): med = 5, MAD = 0,
    #   MAD* = max(0, 0.1 × 5 = 0.5, 2) = 2.
    #   Q1: z = 0.6745 × (17 − 5) ÷ 2 = 4.047 > 3.5: flagged.
    #   Q2: z = 0.6745 × (15 − 5) ÷ 2 = 3.3725 ≤ 3.5: not flagged.
    #   range 5 ∓ 3.5 × 2 ÷ 0.6745 = 5 ∓ 10.3780… = −5.3780…–15.3780…
    # Staff (17 and 15) and places never change; no enrollment extract: nothing else.
    assert w.flags() == {("2024-05", "OUT-SERIES", TOWN_B, "Q1", "caregivers")}
    assert_out_series(w.flag("OUT-SERIES", "2024-05", "Q1", "caregivers"), 17, med=5, mad_star=2)


def test_the_threshold_comes_from_quality_toml(tmp_path):
    # As above with threshold 3.0: Q2's z = 3.3725 > 3.0 is flagged too.
    w = QualityWarehouse(tmp_path / "warehouse.duckdb", out_series_threshold=3.0)
    _caregiver_months(w)
    w.build()
    assert w.flags() == {("2024-05", "OUT-SERIES", TOWN_B, "Q1", "caregivers"),
                         ("2024-05", "OUT-SERIES", TOWN_C, "Q2", "caregivers")}
    assert_out_series(w.flag("OUT-SERIES", "2024-05", "Q2", "caregivers"), 15, med=5, mad_star=2, threshold=3.0)
    w.close()


def test_three_months_of_history_are_not_enough(w):
    # R1 (甲街道) places 10, 10, 10 in 2024-01…03, then 100 in 04 and 05.
    for period, places in zip(months_between("2024-01", "2024-05"), (10, 10, 10, 100, 100)):
        w.files(period, "institutions")
        w.institution(period, "R1", TOWN_A, places=places)
    w.build()
    # 2024-04: H = [10, 10, 10], |H| = 3 < 4: no OUT-SERIES flag however far 100 is.
    # 2024-05: H = [10, 10, 10, 100]: med = (10 + 10) ÷ 2 = 10; |h − 10| = 0, 0, 0, 90,
    #   MAD = (0 + 0) ÷ 2 = 0; MAD* = max(0, 1, 2) = 2; z = 0.6745 × 90 ÷ 2 = 30.35.
    assert w.flags("OUT-SERIES") == {("2024-05", "OUT-SERIES", TOWN_A, "R1", "places")}
    assert close(w.flag("OUT-SERIES", "2024-05", "R1", "places")["score"], 0.6745 * 90 / 2)
    # The area jumps in 04 (m = 10, x = 100) and again in 05 (m = (10 + 10 + 100) ÷ 3 = 40,
    # x = 100: |x − m| = 60, x ÷ m − 1 = 1.5 > 0.33).
    assert w.flags("AREA-JUMP") == {
        ("2024-04", "AREA-JUMP", TOWN_A, None, "places"), ("2024-04", "AREA-JUMP", COUNTY, None, "places"),
        ("2024-05", "AREA-JUMP", TOWN_A, None, "places"), ("2024-05", "AREA-JUMP", COUNTY, None, "places"),
    }
    assert close(w.flag("AREA-JUMP", "2024-05", COUNTY, "places")["score"], 100 / 40 - 1)


def test_a_first_month_has_nothing_to_compare_with(w):
    # 2024-01 is the first month; in 2024-02 N1 opens with 500 places (no history of its
    # own) and the areas have one earlier month only (AREA-JUMP needs 2 present).
    w.files("2024-01", "institutions")
    w.institution("2024-01", "A1", TOWN_A, places=10)
    w.files("2024-02", "institutions")
    w.institution("2024-02", "A1", TOWN_A, places=10)
    w.institution("2024-02", "N1", TOWN_A, places=500)
    w.build()
    assert w.flags() == set()


def _history_with_gaps(w):
    """P1 (甲街道) places, with B0 (甲街道, 200 places every month) keeping the area steady:

    | month   | P1                                     |
    | 2022-12 | 18  (M−13 for 2024-01: outside H)      |
    | 2023-01…05 | 20, 22, 24, 26, 28                  |
    | 2023-06 | no institutions extract at all         |
    | 2023-07, 08 | 30, 32                             |
    | 2023-09 | 暂停运营 with 0 places: not in O(M)     |
    | 2023-10…12 | 34, 36, 38                          |
    | 2024-01 | 60                                     |
    """
    values = {"2022-12": 18, "2023-01": 20, "2023-02": 22, "2023-03": 24, "2023-04": 26, "2023-05": 28,
              "2023-07": 30, "2023-08": 32, "2023-10": 34, "2023-11": 36, "2023-12": 38, "2024-01": 60}
    w.file("enrollment", "2023-06")  # the month is in the calendar, without institutions
    for period in months_between("2022-12", "2024-01"):
        if period == "2023-06":
            continue
        w.files(period, "institutions")
        w.institution(period, "B0", TOWN_A, places=200)
        if period == "2023-09":
            w.institution(period, "P1", TOWN_A, places=0, operating_status="暂停运营")
        else:
            w.institution(period, "P1", TOWN_A, places=values[period])


def test_missing_months_inside_the_history(w):
    _history_with_gaps(w)
    w.build()
    # 2024-01: H = 2023-01…12 without 06 (no extract) and 09 (not in O(M)); 2022-12 is M−13:
    #   H = [20, 22, 24, 26, 28, 30, 32, 34, 36, 38] (10 months): med = (28 + 30) ÷ 2 = 29;
    #   |h − 29| = 9, 7, 5, 3, 1, 1, 3, 5, 7, 9 → sorted 1, 1, 3, 3, 5, 5, 7, 7, 9, 9:
    #   MAD = (5 + 5) ÷ 2 = 5; MAD* = max(5, 2.9, 2) = 5; z = 0.6745 × (60 − 29) ÷ 5 = 4.18190.
    #   (With 2022-12's 18 or the paused month's 0 in H, 11 values: med 28, MAD 6,
    #   z = 0.6745 × 32 ÷ 6 = 3.597: still flagged, with another score.)
    #   range 29 ∓ 3.5 × 5 ÷ 0.6745 = 29 ∓ 25.9451…
    # The trend of +2 a month stays below 3.5 elsewhere (e.g. 2023-12: H = 18…36 without
    # 0 → med 27, MAD 5, z = 0.6745 × 11 ÷ 5 = 1.48). The area (with B0's 200) moves by
    # less than a third: 2023-09 200 against (230 + 232) ÷ 2 = 231; 2024-01 260 against 236.
    assert w.flags() == {("2024-01", "OUT-SERIES", TOWN_A, "P1", "places")}
    flag = w.flag("OUT-SERIES", "2024-01", "P1", "places")
    assert_out_series(flag, 60, med=29, mad_star=5)
    assert "此前 10 个月的中位数为 29" in flag["message_zh"]


def test_a_revised_month_recomputes_the_flags_and_keeps_confirmations(w):
    _history_with_gaps(w)
    w.build()
    key = "OUT-SERIES/2024-01/P1/places/60"
    w.confirm(key, "机构扩建，已电话核实")
    w.build()  # nothing new: the confirmation alone shows
    assert w.flag("OUT-SERIES", "2024-01", "P1", "places")["confirmed"] is True

    # 2023-12 is revised: P1 now has 0 places (B0 still 200).
    w.revise("institutions", "2023-12", seen=datetime(2024, 3, 1, 9))
    w.institution("2023-12", "B0", TOWN_A, places=200)
    w.institution("2023-12", "P1", TOWN_A, places=0)
    w.build()
    # 2023-12: H = [18, 20, 22, 24, 26, 28, 30, 32, 34, 36]: med = (26 + 28) ÷ 2 = 27;
    #   |h − 27| sorted 1, 1, 3, 3, 5, 5, 7, 7, 9, 9: MAD = 5; MAD* = max(5, 2.7, 2) = 5;
    #   z = 0.6745 × (0 − 27) ÷ 5 = −3.6423: flagged (downwards).
    # 2024-01: H = [20, …, 36, 0] sorted 0, 20, 22, 24, 26, 28, 30, 32, 34, 36: med 27;
    #   |h − 27| sorted 1, 1, 3, 3, 5, 5, 7, 7, 9, 27: MAD = 5; z = 0.6745 × 33 ÷ 5 = 4.4517
    #   (was 4.1819): recomputed, and still confirmed: its value, 60, did not change.
    # The area: 2023-12 200 against (200 + 234 + 236) ÷ 3 = 223.3 (−10 %); 2024-01 260
    # against the same 223.3 (+16 %): no AREA-JUMP.
    assert w.flags() == {("2023-12", "OUT-SERIES", TOWN_A, "P1", "places"),
                         ("2024-01", "OUT-SERIES", TOWN_A, "P1", "places")}
    december = w.flag("OUT-SERIES", "2023-12", "P1", "places")
    assert_out_series(december, 0, med=27, mad_star=5)
    assert december["confirmed"] is False
    january = w.flag("OUT-SERIES", "2024-01", "P1", "places")
    assert_out_series(january, 60, med=27, mad_star=5)
    assert january["confirmed"] is True

    # 2024-01 itself is revised to 61: a different figure, so the flag is open again.
    w.revise("institutions", "2024-01", seen=datetime(2024, 3, 2, 9))
    w.institution("2024-01", "B0", TOWN_A, places=200)
    w.institution("2024-01", "P1", TOWN_A, places=61)
    w.build()
    january = w.flag("OUT-SERIES", "2024-01", "P1", "places")
    assert_out_series(january, 61, med=27, mad_star=5)  # the same H: z = 0.6745 × 34 ÷ 5
    assert january["flag_key"] == "OUT-SERIES/2024-01/P1/places/61"
    assert january["confirmed"] is False


# ---------------------------------------------------------------- consistency


def test_over_capacity_and_no_caregiver(w):
    # 2024-03: all three extracts; 2024-04: no staffing; 2024-05: no enrollment.
    #   O1 (甲街道) 2 places, children c0, c1, c2 and c2 again (4 rows, 3 distinct), 1 caregiver
    #   O2 (甲街道) 3 places, 3 children: equal, not over; 1 caregiver
    #   N1 (乙镇) 10 places, 1 child, one 管理人员 and no caregiver
    #   N2 (乙镇) 10 places, 1 child, no staff row at all
    #   N3 (丙镇) 10 places, no child, no staff: nothing to care for
    #   X1 (丙镇) 暂停运营, 1 place, 5 children, no staff: not in O(M)
    for period in ("2024-03", "2024-04", "2024-05"):
        w.files(period, "institutions")
        w.institution(period, "O1", TOWN_A, places=2)
        w.institution(period, "O2", TOWN_A, places=3)
        w.institution(period, "N1", TOWN_B, places=10)
        w.institution(period, "N2", TOWN_B, places=10)
        w.institution(period, "N3", TOWN_C, places=10)
        w.institution(period, "X1", TOWN_C, places=1, operating_status="暂停运营")
        if period != "2024-05":
            w.files(period, "enrollment")
            children(w, period, "O1", 3)
            w.child(period, "O1", "O1-c2", BIRTH, "托大班")
            children(w, period, "O2", 3)
            children(w, period, "N1", 1)
            children(w, period, "N2", 1)
            children(w, period, "X1", 5)
        if period != "2024-04":
            w.files(period, "staffing")
            staff(w, period, "O1", 1)
            staff(w, period, "O2", 1)
            staff(w, period, "N1", 0, others=1)
    w.build()
    assert w.flags() == {
        ("2024-03", "CON-OVERCAPACITY", TOWN_A, "O1", "children"),
        ("2024-03", "CON-NO-CAREGIVER", TOWN_B, "N1", "caregivers"),
        ("2024-03", "CON-NO-CAREGIVER", TOWN_B, "N2", "caregivers"),
        ("2024-04", "CON-OVERCAPACITY", TOWN_A, "O1", "children"),  # 2024-04 has no staffing extract
    }
    over = w.flag("CON-OVERCAPACITY", "2024-03", "O1", "children")
    assert (over["value"], over["expected_low"], over["expected_high"], over["score"]) == (3, 0, 2, None)
    assert over["message_zh"].startswith("在托幼儿 3 人，超过核定托位数 2 个")
    none = w.flag("CON-NO-CAREGIVER", "2024-03", "N1", "caregivers")
    assert (none["value"], none["expected_low"], none["expected_high"], none["score"]) == (0, 1, None, None)
    assert none["flag_key"] == "CON-NO-CAREGIVER/2024-03/N1/caregivers/0"


def test_vanished_institutions(w):
    # 2024-01: V1 (丙镇), V3, V4 (乙镇), K (甲街道) operating; V5 (丙镇) 暂停运营.
    # 2024-02: K; V3 only as a quarantined row; V4 已注销; V1 and V5 have no row.
    # 2024-03: no institutions extract (an enrollment file only). 2024-04: K only.
    w.files("2024-01", "institutions")
    for institution_id, area in (("V1", TOWN_C), ("V3", TOWN_B), ("V4", TOWN_B), ("K", TOWN_A)):
        w.institution("2024-01", institution_id, area, places=1)
    w.institution("2024-01", "V5", TOWN_C, places=1, operating_status="暂停运营")
    w.files("2024-02", "institutions")
    w.institution("2024-02", "K", TOWN_A, places=1)
    w.quarantined("2024-02", "V3")
    w.institution("2024-02", "V4", TOWN_B, places=1, operating_status="已注销")
    w.file("enrollment", "2024-03")
    w.files("2024-04", "institutions")
    w.institution("2024-04", "K", TOWN_A, places=1)
    w.build()
    # Only V1 in 2024-02, in its 2024-01 area. V3 has a row (quarantined), V4 says 已注销,
    # V5 was not in O(2024-01). 2024-04: O(2024-03) is empty (no extract), so nothing.
    # Places move by less than 10 everywhere: no AREA-JUMP.
    assert w.flags() == {("2024-02", "CON-VANISHED", TOWN_C, "V1", None)}
    flag = w.flag("CON-VANISHED", "2024-02", "V1", None)
    assert (flag["value"], flag["expected_low"], flag["expected_high"], flag["score"]) == (None, None, None, None)
    assert flag["message_zh"].startswith("上月（2024-01）正常运营，本月托育机构表中没有该机构的任何记录")
    assert flag["flag_key"] == "CON-VANISHED/2024-02/V1/-/-"


# ---------------------------------------------------------------- AREA-JUMP


def test_area_jumps_up_and_down(w):
    # Institutions every month 2024-01…05; enrollment in all but 03; staffing 01…04.
    #   A1 甲街道 100 places, 1 caregiver; children 20, 22, —, 24, 40
    #   B1 乙镇    50 places, staff (caregivers) 30, 30, 30, 15; no children
    #   D1 丙镇    opens in 04: 50 places, 1 caregiver; children 12 (04), 30 (05)
    children_of = {"A1": (20, 22, None, 24, 40), "D1": (0, 0, None, 12, 30)}
    staff_of = {"A1": (1, 1, 1, 1), "B1": (30, 30, 30, 15), "D1": (0, 0, 0, 1)}
    for i, period in enumerate(months_between("2024-01", "2024-05")):
        w.files(period, "institutions")
        w.institution(period, "A1", TOWN_A, places=100)
        w.institution(period, "B1", TOWN_B, places=50)
        if i >= 3:
            w.institution(period, "D1", TOWN_C, places=50)
        if period != "2024-03":
            w.files(period, "enrollment")
            for institution_id, counts in children_of.items():
                children(w, period, institution_id, counts[i])
        if i < 4:
            w.files(period, "staffing")
            for institution_id, counts in staff_of.items():
                staff(w, period, institution_id, counts[i])
    w.build()
    # m = mean of the present months among M−3…M−1; a month without the extract is absent,
    # an area without institutions counts 0.
    expected = {
        # 04 county children 24 + 12 = 36; m = (20 + 22) ÷ 2 = 21 (03 absent): +15, 0.714
        ("2024-04", COUNTY, "children"): (36, 21),
        # 04 county places 100 + 50 + 50 = 200; m = 150: +50, 0.3333 > 0.33
        ("2024-04", COUNTY, "places"): (200, 150),
        # 04 county staff 1 + 15 + 1 = 17; m = 31: −14, −0.4516 (down)
        ("2024-04", COUNTY, "staff"): (17, 31),
        # 04 乙镇 staff 15; m = 30: −15, −0.5 (down)
        ("2024-04", TOWN_B, "staff"): (15, 30),
        # 05 county children 40 + 30 = 70; m = (22 + 36) ÷ 2 = 29: +41, 1.4138
        ("2024-05", COUNTY, "children"): (70, 29),
        # 05 甲街道 children 40; m = (22 + 24) ÷ 2 = 23: +17, 0.7391
        ("2024-05", TOWN_A, "children"): (40, 23),
        # 05 丙镇 children 30; m = (0 + 12) ÷ 2 = 6 (02 counts 0: no institution): +24, 4.0
        ("2024-05", TOWN_C, "children"): (30, 6),
        # 05 丙镇 places 50; m = (0 + 0 + 50) ÷ 3 = 16.67 (03 has the institutions extract): 2.0
        ("2024-05", TOWN_C, "places"): (50, 50 / 3),
    }
    # Not flagged: 04 丙镇 children 12 and places 50 (m = 0); 04 甲街道 children 24 (m = 21,
    # +3 < 10); 05 county places 200 (m = 166.7, +20 %); 05 staff (no extract).
    assert w.flags() == {(period, "AREA-JUMP", area, None, measure) for period, area, measure in expected}
    for (period, area, measure), (x, m) in expected.items():
        flag = w.flag("AREA-JUMP", period, area, measure)
        assert flag["value"] == x
        assert close(flag["score"], x / m - 1), (period, area, measure)
        tolerance = max(10, 0.33 * m)
        assert close(flag["expected_low"], max(m - tolerance, 0))
        assert close(flag["expected_high"], m + tolerance)
    assert w.flag("AREA-JUMP", "2024-04", TOWN_B, "staff")["message_zh"] == (
        "乙镇本月从业人员数合计为 15，前 3 个月平均为 30，变化 -50%：请核实是否有机构漏报、重复报送或数字填错。")
    assert w.flag("AREA-JUMP", "2024-05", TOWN_A, "children")["message_zh"].startswith(
        "甲街道本月在托幼儿数合计为 40，前 3 个月中有数据的 2 个月平均为 23，变化 +74%")


# ---------------------------------------------------------------- reporting rates


def test_reporting_rates_on_time_late_and_backfill(w):
    # The pipeline's first run is on 2024-03-01 and loads 2023-12…2024-02 at once.
    first_run = datetime(2024, 3, 1, 9)
    for period in ("2023-12", "2024-01", "2024-02"):
        for kind in ("institutions", "enrollment", "staffing"):
            w.file(kind, period, seen=first_run)
    # 2023-11's institutions arrive later still, on 2024-06-01: due before the first run.
    w.file("institutions", "2023-11", seen=datetime(2024, 6, 1, 9))
    # 2024-02 staffing is revised on 2024-04-20: first seen stays 2024-03-01.
    w.revise("staffing", "2024-02", seen=datetime(2024, 4, 20, 9))
    # 2024-03: institutions on day 10 at 23:00 (on time), enrollment on day 11 (late), no staffing.
    w.file("institutions", "2024-03", seen=datetime(2024, 4, 10, 23))
    w.file("enrollment", "2024-03", seen=datetime(2024, 4, 11, 8))
    # 2024-04: institutions on time; the enrollment file was rejected whole; staffing on day 20.
    w.file("institutions", "2024-04", seen=on_day("2024-04", 3))
    w.file("enrollment", "2024-04", status="file_rejected", seen=on_day("2024-04", 2))
    w.file("staffing", "2024-04", seen=on_day("2024-04", 20))
    w.build()

    def month(kind, period):
        r = w.rates(kind, period, 1)
        return next(k for k in ("on_time", "late", "backfilled", "missing") if r[k] == 1)

    # Deadlines: day 10 of the next month. Due before 2024-03-01 (2023-11…2024-01): backfilled.
    # 2024-02 is due 2024-03-10, after the first run: judged, and on time.
    assert [month("institutions", p) for p in months_between("2023-11", "2024-04")] == [
        "backfilled", "backfilled", "backfilled", "on_time", "on_time", "on_time"]
    assert [month("enrollment", p) for p in months_between("2023-11", "2024-04")] == [
        "missing", "backfilled", "backfilled", "on_time", "late", "missing"]
    assert [month("staffing", p) for p in months_between("2023-11", "2024-04")] == [
        "missing", "backfilled", "backfilled", "on_time", "missing", "late"]

    # Three months 2024-02…04, enrollment: expected 3, received 2 (02, 03), on time 1, late 1,
    # missing 1 (04 rejected): received 66.7 %, on time 1 ÷ (3 − 0) = 33.3 %.
    r = w.rates("enrollment", "2024-04", 3)
    assert (r["first_period"], r["expected"], r["received"], r["on_time"], r["late"], r["backfilled"],
            r["missing"]) == ("2024-02", 3, 2, 1, 1, 0, 1)
    assert close(r["received_rate"], 100 * 2 / 3) and close(r["on_time_rate"], 100 * 1 / 3)
    # Twelve months ending 2024-04 reach back only to 2023-11, the first month: expected 6.
    # Enrollment: received 4 (12, 01, 02, 03), 2 backfilled: on time 1 ÷ (6 − 2) = 25 %.
    r = w.rates("enrollment", "2024-04", 12)
    assert (r["first_period"], r["expected"], r["received"], r["on_time"], r["late"], r["backfilled"],
            r["missing"]) == ("2023-11", 6, 4, 1, 1, 2, 2)
    assert close(r["received_rate"], 100 * 4 / 6) and close(r["on_time_rate"], 25.0)
    # Institutions over the same window: 6 received, 3 backfilled, 3 on time: 3 ÷ 3 = 100 %.
    r = w.rates("institutions", "2024-04", 12)
    assert (r["received"], r["on_time"], r["backfilled"]) == (6, 3, 3)
    assert close(r["on_time_rate"], 100.0)
    # A window of backfilled months only has no on-time rate.
    assert w.rates("institutions", "2024-01", 1)["on_time_rate"] is None
    # 6 months × 3 kinds × windows (1, 3, 12)
    assert w.query("select count(*) from marts.reporting_rates") == [(6 * 3 * 3,)]


def test_the_deadline_day_comes_from_quality_toml(tmp_path):
    # First run 2024-01-02 (2023-12 due 2024-01-10: judged); 2024-01 seen on 2024-02-11.
    w = QualityWarehouse(tmp_path / "warehouse.duckdb", reporting_deadline_day=15, reporting_windows=(1,))
    w.file("institutions", "2023-12", seen=datetime(2024, 1, 2, 9))
    w.file("institutions", "2024-01", seen=datetime(2024, 2, 11, 9))
    w.build()
    # Day 15: 2024-02-11 is on time (with the default day 10 it would be late).
    assert w.rates("institutions", "2024-01", 1)["on_time"] == 1
    assert w.query("select distinct window_months from marts.reporting_rates") == [(1,)]
    w.close()


# ---------------------------------------------------------------- quality.toml


def _folder_with_quality(tmp_path: Path, text: str | None) -> Path:
    folder = shutil.copytree(default_reference_folder(), tmp_path / "county")
    (folder / "quality.toml").unlink()
    if text is not None:
        (folder / "quality.toml").write_text(text, encoding="utf-8")
    return folder


SHIPPED = (default_reference_folder() / "quality.toml").read_text(encoding="utf-8")


def _line_of(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), start=1) if line.startswith(start))


def test_a_folder_without_quality_toml_uses_the_shipped_one(tmp_path):
    ref = load_reference(_folder_with_quality(tmp_path, None))
    assert ref.quality_file == default_reference_folder() / "quality.toml"
    assert ref.quality.out_series_threshold == 3.5
    assert ref.quality.reporting_deadline_day == 10
    assert ref.quality.reporting_windows == (1, 3, 12)


def test_a_folders_own_quality_toml_is_used(tmp_path):
    text = SHIPPED.replace("deadline_day = 10", "deadline_day = 15")
    ref = load_reference(_folder_with_quality(tmp_path, text))
    assert ref.quality_file.parent.name == "county"
    assert ref.quality.reporting_deadline_day == 15


@pytest.mark.parametrize(("old", "new", "line_of", "zh", "en"), [
    ("threshold = 3.5", "threshold = 0", "threshold", "threshold 应为大于 0 的数", "threshold must be a number above 0"),
    ("mad_floor = 2", 'mad_floor = "2"', "mad_floor =", "mad_floor 应为大于 0 的数", "not '2'"),
    ("deadline_day = 10", "deadline_day = 31", "deadline_day", "1 到 28 之间的整数", "not 31"),
    ("windows = [1, 3, 12]", "windows = [1, 1]", "windows", "互不相同", "distinct"),
    ("min_history = 4", "min_history = 13", "min_history", "min_history 不能大于 history_months",
     "cannot exceed"),
    ("history_months = 12", "history_months = 12.5", "history_months", "1 到 60 之间的整数", "not 12.5"),
    ("min_present = 2", "min_present = 2\nminimum = 3", "minimum", "[area_jump] 中未知的键“minimum”",
     "unknown key 'minimum'"),
    ("[reporting]", "[reports]", "[reports]", "未知的段“reports”", "unknown section 'reports'"),
    ("min_difference = 10", "# min_difference removed", "[area_jump]", "[area_jump] 缺少 min_difference",
     "missing key min_difference"),
    ("months = 3", "months = 3 3", None, "TOML 格式错误", "TOML syntax error"),
])
def test_quality_toml_errors_name_the_file_and_line(tmp_path, old, new, line_of, zh, en):
    assert old in SHIPPED
    text = SHIPPED.replace(old, new, 1)
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(_folder_with_quality(tmp_path, text))
    error = caught.value
    assert error.file == "quality.toml"
    expected_line = _line_of(text, line_of) if line_of else _line_of(text, "months = 3 3")
    assert error.line == expected_line
    assert zh in error.problem_zh and en in error.problem_en
    assert str(error).startswith(f"参考数据错误：quality.toml 第 {expected_line} 行：")
