"""Receiving bundles (docs/rollup.md §3): a revised bundle of one county changes only its
rows and the prefecture's; one made earlier is superseded; the same bytes again change
nothing; a tampered or unknown one is rejected whole with a Chinese message, the county's
previous figures kept; inbox files are never moved or deleted."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from pipeline.reference import load_prefecture_reference
from pipeline.rollup.build import build
from pipeline.rollup.receive import UNKNOWN, current_manifest, read_receipts, receive_all, receive_county
from tests.rollup_fixtures import county_bundle, made, prefecture_folder

# One month, 2024-06, filing_rate (numerator / denominator) and demo_institutions per county.
FIRST = {
    "990101": {"filing_rate": (8, 10), "demo_institutions": (2, None)},
    "990102": {"filing_rate": (5, 5), "demo_institutions": (1, None)},
    "990103": {"filing_rate": (3, 5), "demo_institutions": (0, None)},
}
# 乙市's revision: 4 of 5 filed, 2 demonstration institutions.
REVISED = {"filing_rate": (4, 5), "demo_institutions": (2, None)}


class Office:
    def __init__(self, tmp_path: Path):
        self.reference = load_prefecture_reference(prefecture_folder(tmp_path))
        self.inbox = tmp_path / "inbox"
        self.store = tmp_path / "store"
        for code, figures in FIRST.items():
            county_bundle(self.inbox, code, {"2024-06": figures}, made_at=made(1))
        self.run()

    def run(self):
        received = receive_all(self.reference, self.inbox, self.store)
        con = duckdb.connect()
        build(con, self.reference, self.store)
        self.rows = {(i, a): (v, n, d) for i, a, v, n, d in con.execute(
            "select indicator_id, area_code, value, numerator, denominator from marts.indicator_values "
            "where period = '2024-06' and indicator_id in ('filing_rate', 'demo_institutions')").fetchall()}
        self.receipts = con.execute("select bundle, county_code, status, status_on_arrival, message_zh "
                                    "from rollup.bundle_receipts order by received_at, bundle").fetchall()
        con.close()
        return received


@pytest.fixture
def office(tmp_path):
    return Office(tmp_path)


def test_first_bundles_are_current_and_the_prefecture_sums_them(office):
    assert [status for _, _, status, _, _ in office.receipts] == ["current"] * 3
    # 100 × (8 + 5 + 3) ÷ (10 + 5 + 5) = 80
    assert office.rows[("filing_rate", "990100")] == pytest.approx((80.0, 16, 20))


def test_a_revised_bundle_changes_only_its_county_and_the_prefecture(office):
    before = dict(office.rows)
    county_bundle(office.inbox, "990102", {"2024-06": REVISED}, made_at=made(2))
    received = office.run()
    assert [r["status"] for r in received.counties["990102"].receipts] == ["current"]
    changed = {key for key in office.rows if office.rows[key] != before[key]}
    # 乙市 80 %, 2; the prefecture 100 × (8 + 4 + 3) ÷ 20 = 75, 2 + 2 + 0 = 4
    assert changed == {("filing_rate", "990102"), ("demo_institutions", "990102"),
                       ("filing_rate", "990100"), ("demo_institutions", "990100")}
    assert office.rows[("filing_rate", "990102")] == pytest.approx((80.0, 4, 5))
    assert office.rows[("filing_rate", "990100")] == pytest.approx((75.0, 15, 20))
    assert office.rows[("demo_institutions", "990100")][0] == pytest.approx(4)
    # the first bundle of 乙市 is now superseded (it was current on arrival)
    statuses = {(b, s, a) for b, c, s, a, _ in office.receipts if c == "990102"}
    assert len(statuses) == 2 and {s for _, s, _ in statuses} == {"current", "superseded"}


def test_a_bundle_made_earlier_than_the_current_one_is_superseded_on_arrival(office):
    county_bundle(office.inbox, "990102", {"2024-06": REVISED}, made_at=made(2))
    office.run()
    after_revision = dict(office.rows)
    older = county_bundle(office.inbox / "late", "990102", {"2024-06": {"filing_rate": (1, 5)}},
                          made_at=made(1, hour=12))  # after the first, before the revision
    received = office.run()
    assert [(r["bundle"], r["status"]) for r in received.counties["990102"].receipts] == \
        [(f"late/{older.name}", "superseded")]
    assert office.rows == after_revision


def test_the_same_bytes_again_are_unchanged(office):
    before = dict(office.rows)
    first = next(office.inbox.glob("汇总包-990101-*.zip"))
    (office.inbox / "again").mkdir()
    shutil.copy(first, office.inbox / "again" / "甲县再次发送.zip")
    received = office.run()
    assert [r["status"] for r in received.receipts] == ["unchanged"]
    assert office.rows == before
    # and a run with nothing new reads nothing and records nothing
    assert office.run().receipts == []


def test_an_unpacked_folder_is_a_bundle_too(office):
    revised = county_bundle(office.inbox / "zips", "990103", {"2024-06": {"filing_rate": (5, 5)}}, made_at=made(3))
    folder = office.inbox / "丙区汇总包"
    with zipfile.ZipFile(revised) as archive:
        archive.extractall(folder)
    revised.unlink()
    received = office.run()
    assert [(r["bundle"], r["status"]) for r in received.receipts] == [("丙区汇总包", "current")]
    assert office.rows[("filing_rate", "990103")][0] == pytest.approx(100.0)


def _tampered_copy(bundle: Path, out: Path) -> Path:
    """The bundle re-zipped (valid zip, valid CRC) with one byte of indicator_values.parquet changed."""
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = bytearray(members["indicator_values.parquet"])
    data[len(data) // 2] ^= 0x01
    members["indicator_values.parquet"] = bytes(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    out.write_bytes(buffer.getvalue())
    return out


def test_a_tampered_bundle_is_rejected_and_the_county_keeps_its_figures(office):
    before = dict(office.rows)
    current_before = current_manifest(office.store, "990102")
    revised = county_bundle(office.inbox / "tmp", "990102", {"2024-06": REVISED}, made_at=made(5))
    tampered = _tampered_copy(revised, office.inbox / "乙市-改动.zip")
    shutil.rmtree(office.inbox / "tmp")
    received = office.run()
    (receipt,) = received.receipts
    assert receipt["status"] == "rejected" and receipt["county_code"] == "990102"
    assert "汇总包 乙市-改动.zip 无法使用" in receipt["message_zh"]
    assert "indicator_values.parquet 的 SHA-256 与清单不符" in receipt["message_zh"]
    assert office.rows == before
    assert current_manifest(office.store, "990102") == current_before
    assert tampered.exists()  # never moved or deleted
    assert ("乙市-改动.zip", "990102", "rejected", "rejected", receipt["message_zh"]) in office.receipts
    # not read again while it stays as it is
    assert office.run().receipts == []


def test_a_bundle_of_no_county_of_the_prefecture_is_rejected(office):
    stranger = county_bundle(office.inbox, "990199", {"2024-06": FIRST["990101"]}, made_at=made(5))
    received = office.run()
    (receipt,) = received.unknown
    assert receipt["status"] == "rejected" and receipt["county_code"] == "990199"
    assert "县级区划代码 990199" in receipt["message_zh"] and "areas.csv" in receipt["message_zh"]
    assert [r["bundle"] for r in read_receipts(office.store / UNKNOWN)] == [stranger.name]
    assert not (office.store / "990199").exists()
    assert office.run().unknown == []


def test_a_broken_zip_is_rejected_with_a_chinese_message(office):
    (office.inbox / "半截.zip").write_bytes(b"PK\x03\x04 not a whole zip")
    (receipt,) = office.run().unknown
    assert receipt["status"] == "rejected" and "不是完整的 zip 压缩包" in receipt["message_zh"]


def test_receiving_one_county_touches_only_its_folder(office):
    county_bundle(office.inbox, "990101", {"2024-06": {"filing_rate": (10, 10)}}, made_at=made(4))
    county_bundle(office.inbox, "990103", {"2024-06": {"filing_rate": (5, 5)}}, made_at=made(4))
    other = (office.store / "990103" / "receipts.jsonl").read_bytes()
    result = receive_county(office.reference, office.inbox, office.store, "990101")
    assert [r["status"] for r in result.receipts] == ["current"]
    assert (office.store / "990103" / "receipts.jsonl").read_bytes() == other
    current = office.store / "990101" / "current"
    assert current.is_symlink() and json.loads((current / "manifest.json").read_text())["county_code"] == "990101"
    assert len([p for p in (office.store / "990101").iterdir() if p.name.startswith("v-")]) == 1


def test_a_bundle_of_a_county_added_to_areas_csv_later_is_received_then(office):
    county_bundle(office.inbox, "990199", {"2024-06": FIRST["990101"]}, made_at=made(5))
    assert [r["status"] for r in office.run().unknown] == ["rejected"]
    areas = office.reference.folder / "areas.csv"
    areas.write_text(areas.read_text(encoding="utf-8") + "990199,新县,县,,990100\n", encoding="utf-8")
    office.reference = load_prefecture_reference(office.reference.folder)
    received = office.run()
    assert [r["status"] for r in received.counties["990199"].receipts] == ["current"]
    assert office.rows[("filing_rate", "990199")][0] == pytest.approx(80.0)
