"""What a prefecture clerk's inbox holds besides good bundles (docs/rollup.md §3): a bundle
renamed to `.xls` or with no extension, a zip of a zip, an empty file, a county's warehouse
sent by mistake, a bundle made "in the future". Each is received or rejected with a Chinese
message saying what to do; none is passed over in silence, and none is moved or deleted."""

from __future__ import annotations

import shutil
import zipfile
from datetime import datetime, timedelta

import duckdb

from pipeline.rollup.receive import UNKNOWN, current_manifest, read_receipts, receive_all
import pytest

from tests.rollup_fixtures import county_bundle, made
from tests.test_rollup_receive import Office  # the three counties of the fixture, received once


@pytest.fixture
def office(tmp_path):
    return Office(tmp_path)


def test_a_bundle_renamed_to_xls_or_without_extension_is_still_received(office):
    out = office.inbox / "tmp"
    a = county_bundle(out, "990101", {"2024-06": {"filing_rate": (10, 10)}}, made_at=made(4))
    b = county_bundle(out, "990102", {"2024-06": {"filing_rate": (1, 5)}}, made_at=made(4))
    shutil.move(a, office.inbox / "甲县汇总包.xls")
    shutil.move(b, office.inbox / "乙市汇总包")
    shutil.rmtree(out)
    received = office.run()
    assert sorted((r["bundle"], r["status"]) for r in received.receipts) == [
        ("乙市汇总包", "current"), ("甲县汇总包.xls", "current")]
    assert office.rows[("filing_rate", "990101")][0] == pytest.approx(100.0)


def test_a_zip_of_a_zip_says_to_take_the_inner_one_out(office):
    inner = county_bundle(office.inbox / "tmp", "990101", {"2024-06": {"filing_rate": (10, 10)}}, made_at=made(4))
    with zipfile.ZipFile(office.inbox / "甲县.zip", "w") as archive:
        archive.write(inner, inner.name)
    shutil.rmtree(office.inbox / "tmp")
    (receipt,) = office.run().unknown
    assert receipt["status"] == "rejected"
    assert f"请把里面的 {inner.name} 取出来" in receipt["message_zh"]


def test_an_empty_file_is_said_to_be_empty(office):
    (office.inbox / "空.zip").write_bytes(b"")
    (receipt,) = office.run().unknown
    assert receipt["status"] == "rejected" and "空文件" in receipt["message_zh"]


def test_a_warehouse_sent_by_mistake_is_rejected_unread(office, monkeypatch):
    sent = office.inbox / "warehouse.duckdb"
    con = duckdb.connect(str(sent))
    con.execute("create table children as select '110101201901010011' as id_number")
    con.close()
    before = sent.read_bytes()

    def never(*args, **kwargs):  # not opened as a zip, not read as a database
        raise AssertionError("the warehouse was opened")

    monkeypatch.setattr(zipfile, "ZipFile", never)
    monkeypatch.setattr(duckdb, "connect", never)
    received = receive_all(office.reference, office.inbox, office.store)
    (receipt,) = received.unknown
    assert receipt["status"] == "rejected" and receipt["bundle"] == "warehouse.duckdb"
    assert "这是数据仓库文件" in receipt["message_zh"] and "不要发送" in receipt["message_zh"]
    assert sent.read_bytes() == before  # kept as it was
    assert [r["bundle"] for r in read_receipts(office.store / UNKNOWN)] == ["warehouse.duckdb"]


def test_a_bundle_made_in_the_future_is_rejected_and_the_county_keeps_its_bundle(office):
    before = current_manifest(office.store, "990101")
    future = datetime.now().astimezone() + timedelta(days=400)
    county_bundle(office.inbox, "990101", {"2024-06": {"filing_rate": (10, 10)}}, made_at=future)
    (receipt,) = office.run().receipts
    assert receipt["status"] == "rejected" and "晚于本机当前时间" in receipt["message_zh"]
    assert current_manifest(office.store, "990101") == before
    # a bundle made now is accepted after it
    county_bundle(office.inbox, "990101", {"2024-06": {"filing_rate": (9, 10)}}, made_at=made(9))
    (receipt,) = office.run().receipts
    assert receipt["status"] == "current"
