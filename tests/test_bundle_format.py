"""The aggregate bundle's own checks (pipeline/rollup/bundle_format.py, docs/rollup.md sections 1
and 3): a bundle that says something untrue about itself is refused with a Chinese message."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from pipeline.rollup.bundle_format import FILES, MANIFEST, SCHEMAS, BundleError, read_bundle, write_bundle

COUNTY = "370781"
TOWN = "370781001"
MADE_AT = datetime(2026, 12, 5, 10, 30, tzinfo=timezone(timedelta(hours=8)))
_CJK = re.compile(r"[\u4e00-\u9fff]")


def small_tables() -> dict[str, pl.DataFrame]:
    """A county of one 镇街 over two months: one row or two of every member."""
    def frame(name: str, rows: list[dict]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=SCHEMAS[name])

    values = [dict(indicator_id="places_per_1000", period=period, area_code=area, is_county=area == COUNTY,
                   value=3.5, numerator=35.0, denominator=10.0, target_value=4.5, target_deadline="2025-12",
                   status="on_track" if area == COUNTY else None)
              for period in ("2024-01", "2024-02") for area in (COUNTY, TOWN)]
    return {
        "indicator_values.parquet": frame("indicator_values.parquet", values),
        "institution_types.parquet": frame("institution_types.parquet", [
            dict(period="2024-01", area_code=area, institution_type="社区托育点", institutions=2)
            for area in (COUNTY, TOWN)]),
        "reporting_rates.parquet": frame("reporting_rates.parquet", [
            dict(kind="institutions", period="2024-01", window_months=1, first_period="2024-01", expected=1,
                 received=1, on_time=1, late=0, backfilled=0, missing=0, received_rate=100.0, on_time_rate=100.0)]),
        "data_quality.parquet": frame("data_quality.parquet", [
            dict(period="2024-01", kind="institutions", file_present=True, rows_read=3, rows_accepted=3,
                 rows_rejected=0, rows_duplicate=0, rows_warned=0, quality_flags=None, quality_flags_open=None),
            dict(period="2024-01", kind="all", file_present=None, rows_read=None, rows_accepted=None,
                 rows_rejected=None, rows_duplicate=None, rows_warned=None, quality_flags=2, quality_flags_open=1)]),
    }


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "out", county_code=COUNTY, county_name="青州市", tables=small_tables(),
                        made_at=MADE_AT, version="0.1.0")


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def rezip(path: Path, contents: dict[str, bytes]) -> Path:
    out = path.with_name("改过的.zip")
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return out


def refused(path: Path, *words: str) -> str:
    with pytest.raises(BundleError) as info:
        read_bundle(path)
    message = str(info.value)
    assert message.startswith(f"汇总包 {path.name} 无法使用："), message
    assert len(_CJK.findall(message)) >= 10, message
    for word in words:
        assert word in message, message
    return message


def test_a_bundle_reads_back_as_written(bundle):
    read = read_bundle(bundle)
    assert bundle.name == f"汇总包-370781-青州市-{MADE_AT.astimezone():%Y%m%dT%H%M%S}.zip"  # the machine's time
    assert read.manifest.county_code == COUNTY and read.manifest.periods == ("2024-01", "2024-02")
    assert read.manifest.made_at == MADE_AT
    for name, frame in small_tables().items():
        assert read.tables[name].equals(frame), name
        assert read.manifest.files[name]["rows"] == frame.height
    assert set(members(bundle)) == {MANIFEST, *FILES}


def test_the_unpacked_folder_is_accepted(bundle, tmp_path):
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(folder)
    read = read_bundle(folder)
    assert read.manifest.county_code == COUNTY
    assert read.manifest_sha256 == read_bundle(bundle).manifest_sha256


def test_a_tampered_member_is_refused(bundle):
    contents = members(bundle)
    values = pl.read_parquet(contents["indicator_values.parquet"]).with_columns(pl.col("numerator") * 2)
    tampered = parquet_bytes(values)
    assert tampered != contents["indicator_values.parquet"]
    contents["indicator_values.parquet"] = tampered
    refused(rezip(bundle, contents), "indicator_values.parquet", "SHA-256")


def test_a_missing_member_is_refused(bundle):
    contents = members(bundle)
    del contents["reporting_rates.parquet"]
    refused(rezip(bundle, contents), "缺少文件", "reporting_rates.parquet")


def test_a_missing_manifest_is_refused(bundle):
    contents = members(bundle)
    del contents[MANIFEST]
    refused(rezip(bundle, contents), "没有 manifest.json")


def test_an_extra_member_is_refused(bundle):
    contents = members(bundle)
    contents["children.csv"] = b"child_pseudonym\nabc\n"
    refused(rezip(bundle, contents), "清单以外的文件", "children.csv")


def _with_manifest(bundle: Path, change) -> Path:
    contents = members(bundle)
    manifest = json.loads(contents[MANIFEST])
    change(manifest)
    contents[MANIFEST] = json.dumps(manifest, ensure_ascii=False).encode("utf-8")
    return rezip(bundle, contents)


def test_manifest_periods_disagreeing_with_the_values_are_refused(bundle):
    path = _with_manifest(bundle, lambda m: m.update(periods=["2024-01", "2024-02", "2024-03"]))
    refused(path, "月份列表", "不一致")


def test_a_wrong_format_version_is_refused(bundle):
    refused(_with_manifest(bundle, lambda m: m.update(format_version=2)), "格式版本", "升级")


def test_a_wrong_row_count_is_refused(bundle):
    def change(manifest):
        manifest["files"]["data_quality.parquet"]["rows"] += 1

    refused(_with_manifest(bundle, change), "data_quality.parquet", "行")


def test_a_truncated_zip_is_refused(bundle):
    data = bundle.read_bytes()
    cut = bundle.with_name("没传完.zip")
    cut.write_bytes(data[: len(data) // 2])
    refused(cut, "不是完整的 zip")


def test_a_member_with_another_schema_is_refused_even_with_its_hash(bundle):
    """A member whose hash is right but whose columns are not the format's: one more column
    (e.g. a pseudonym) is not a bundle of format version 1."""
    contents = members(bundle)
    values = pl.read_parquet(contents["indicator_values.parquet"]).with_columns(pl.lit("x").alias("child_pseudonym"))
    data = parquet_bytes(values)
    contents["indicator_values.parquet"] = data

    def change(manifest):
        manifest["files"]["indicator_values.parquet"]["sha256"] = hashlib.sha256(data).hexdigest()

    manifest = json.loads(contents[MANIFEST])
    change(manifest)
    contents[MANIFEST] = json.dumps(manifest).encode("utf-8")
    refused(rezip(bundle, contents), "indicator_values.parquet", "列")


def test_a_folder_missing_a_member_is_refused(bundle, tmp_path):
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(folder)
    (folder / "institution_types.parquet").unlink()
    refused(folder, "缺少文件", "institution_types.parquet")
