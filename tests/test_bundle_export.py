"""`tuoyu export-bundle` (pipeline/rollup/export.py): the county's aggregate bundle from a real
warehouse (the session's shared `tuoyu run` of the small sample, copied: never modified).

- round trip: the bundle reads back, its county rows are marts.indicator_values' county rows;
- the byte test: no pseudonym, id number, name, institution id or name, credit code, inbox
  file name or file hash of the warehouse and its inbox occurs in any member of the bundle,
  read as raw bytes (the zip and each member) and as values (each Parquet file read back,
  every column, whatever its name); a control shows the search finds a pseudonym smuggled
  into a bundle, in a column of the format and in a column added to it;
- the command before the first run: a Chinese sentence, exit non-zero, nothing created.
"""

from __future__ import annotations

import errno
import io
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.commands import cli
from pipeline.reference import default_reference_folder
from pipeline.rollup.bundle_format import FILES, MANIFEST, read_bundle, write_bundle
from pipeline.rollup.export import bundle_tables, default_bundle_folder, export_bundle, month_ranges_zh
from pipeline.settings import Settings
from tests.hostile_fixtures import sample_run
from tests.personal_data import clear_identifiers

pytestmark = pytest.mark.heavy(seconds=8)

COUNTY = "370781"


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    """A copy of the sample run's warehouse, its bundle, and everything personal it came from."""
    run = sample_run(tmp_path_factory)
    here = tmp_path_factory.mktemp("bundle-export")
    warehouse = here / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(run.warehouse, warehouse)
    settings = Settings(inbox=run.inbox, reference=default_reference_folder(), warehouse=warehouse,
                        reports=here / "reports", pseudonym_key=None, lock_wait=5)
    path = export_bundle(settings)
    return settings, path, secrets_of(warehouse, readable_inbox(run.inbox, here / "inbox-as-utf8"))


def secrets_of(warehouse: Path, inbox: Path) -> set[str]:
    """What must never leave the county: every pseudonym, institution id, name and credit code
    of the warehouse, the inbox's file names and hashes, and the inbox's clear id numbers
    and names (read from the files themselves)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        found = set()
        for query in ("select child_pseudonym from staging.enrollment",
                      "select staff_pseudonym from staging.staffing",
                      "select institution_id from staging.institutions",
                      "select name from staging.institutions",
                      "select credit_code from staging.institutions",
                      "select file_path from audit.load_log",
                      "select sha256 from audit.load_log"):
            found |= {v for (v,) in con.execute(query).fetchall() if isinstance(v, str) and len(v.strip()) >= 2}
    finally:
        con.close()
    found |= {Path(name).name for name in found if "/" in name}  # an inbox file's own name
    found |= clear_identifiers(inbox)
    return found


def readable_inbox(inbox: Path, copy: Path) -> Path:
    """The inbox copied to `copy` (the shared one is never modified), its UTF-16 file (rejected
    by the pipeline) as UTF-8: tests/personal_data.py reads UTF-8 or GB18030, as in
    tests/test_privacy_audit.py."""
    shutil.copytree(inbox, copy)
    for path in copy.rglob("*.csv"):
        raw = path.read_bytes()
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            path.write_bytes(raw.decode("utf-16").encode("utf-8"))
    return copy


class Detector:
    """The secrets occurring anywhere in a text: every window of the length of a secret is
    looked up (a secret inside a longer run of letters or characters is found too)."""

    def __init__(self, secrets: set[str]):
        self.secrets = secrets
        self.windows = [re.compile(f"(?=(.{{{n}}}))", re.S) for n in sorted({len(s) for s in secrets})]

    def __call__(self, text: str) -> set[str]:
        found: set[str] = set()
        for window in self.windows:
            found |= set(window.findall(text)) & self.secrets
        return found


def bundle_texts(path: Path) -> dict[str, str]:
    """Every readable form of a bundle: the zip's raw bytes, each member's raw bytes, and each
    Parquet member's values (every column, cast to text) with its schema's names."""
    data = path.read_bytes()
    forms = {"zip bytes": data.decode("utf-8", errors="replace")}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            member = archive.read(name)
            forms[f"{name} bytes"] = member.decode("utf-8", errors="replace")
            if name.endswith(".parquet"):
                frame = pl.read_parquet(io.BytesIO(member))
                cells = frame.select(pl.all().cast(pl.String)).rows()
                forms[f"{name} values"] = "\n".join(
                    [" ".join(frame.columns)] + ["\t".join("" if v is None else v for v in row) for row in cells])
    return forms


def leaks(path: Path, detector: Detector) -> dict[str, list[str]]:
    found = {where: sorted(detector(text))[:5] for where, text in bundle_texts(path).items()}
    return {where: hits for where, hits in found.items() if hits}


# ---------------------------------------------------------------- round trip


def test_the_bundle_goes_beside_the_reports(county):
    settings, path, _ = county
    assert path.parent == default_bundle_folder(settings) == settings.reports / "bundles"
    assert path.name.startswith(f"汇总包-{COUNTY}-青州市-") and path.suffix == ".zip"


def test_the_bundle_reads_back_with_the_warehouse_figures(county):
    settings, path, _ = county
    bundle = read_bundle(path)
    assert bundle.manifest.county_code == COUNTY and bundle.manifest.county_name == "青州市"
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        marts = con.execute("select * from marts.indicator_values").pl()
        tables = bundle_tables(con)
        flags = con.execute("select count(*), count(*) filter (where not confirmed) from marts.quality_flags").fetchone()
        operating = con.execute("select count(*) from marts.operating_institutions").fetchone()[0]
        rows_read = con.execute("select sum(rows_read) from marts.data_quality").fetchone()[0]
    finally:
        con.close()
    values = bundle.tables["indicator_values.parquet"]
    key = ["indicator_id", "period", "area_code"]
    county_rows = values.filter(pl.col("is_county")).drop("is_county").sort(key)
    assert county_rows.height > 0 and set(county_rows.get_column("area_code")) == {COUNTY}
    assert county_rows.equals(marts.filter(pl.col("area_code") == COUNTY).sort(key))
    assert values.drop("is_county").sort(key).equals(marts.sort(key))  # the 镇街 rows too
    assert bundle.manifest.periods == tuple(sorted(set(marts.get_column("period"))))
    for name in FILES:  # what was read is what was written
        assert bundle.tables[name].height == tables[name].height, name
    # Each count once, however the rows are summed: flags on the months' 'all' rows only.
    quality = bundle.tables["data_quality.parquet"]
    assert quality.get_column("quality_flags").sum() == flags[0] > 0
    assert quality.get_column("quality_flags_open").sum() == flags[1]
    assert quality.get_column("rows_read").sum() == rows_read
    assert quality.filter(pl.col("kind") == "all").get_column("rows_read").null_count() == quality.filter(
        pl.col("kind") == "all").height
    types = bundle.tables["institution_types.parquet"]
    assert types.filter(pl.col("area_code") == COUNTY).get_column("institutions").sum() == operating
    assert types.filter(pl.col("area_code") != COUNTY).get_column("institutions").sum() == operating
    assert types.get_column("institutions").min() > 0


def test_month_ranges_are_written_as_runs():
    assert month_ranges_zh(["2024-02", "2023-12", "2024-01", "2024-05"]) == "2023-12 至 2024-02、2024-05"


# ---------------------------------------------------------------- the byte test


def test_the_secrets_are_many_and_of_every_kind(county):
    _, _, secrets = county
    assert sum(bool(re.fullmatch(r"[0-9a-f]{64}", s)) for s in secrets) > 500  # pseudonyms, file hashes
    assert sum(bool(re.fullmatch(r"\d{17}[\dX]", s)) for s in secrets) > 100  # id numbers
    assert "JG0001" in secrets and any("托育" in s for s in secrets)  # institution ids and names


def test_no_pseudonym_or_personal_data_in_the_bundle(county):
    _, path, secrets = county
    assert leaks(path, Detector(secrets)) == {}


def test_the_search_finds_a_pseudonym_smuggled_into_a_bundle(county, tmp_path):
    """Control: a pseudonym in a column of the format (a value of area_code), or in a column
    added to a member, is found in the bundle's values."""
    settings, path, secrets = county
    pseudonym = next(s for s in sorted(secrets) if re.fullmatch(r"[0-9a-f]{64}", s))
    detector = Detector(secrets)
    tables = read_bundle(path).tables
    smuggled = dict(tables)
    smuggled["institution_types.parquet"] = tables["institution_types.parquet"].with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(pseudonym)).otherwise(pl.col("area_code")).alias("area_code"))
    one = write_bundle(tmp_path / "in-a-column", county_code=COUNTY, county_name="青州市", tables=smuggled)
    assert pseudonym in leaks(one, detector)["institution_types.parquet values"]

    added = tmp_path / "added.zip"  # not write_bundle, which refuses a column the format has not
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(added, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "data_quality.parquet":
                buffer = io.BytesIO()
                frame = pl.read_parquet(io.BytesIO(data))
                frame.with_columns(pl.lit(pseudonym).alias("child_pseudonym")).write_parquet(buffer,
                                                                                             compression="zstd")
                data = buffer.getvalue()
            target.writestr(name, data)
    found = leaks(added, detector)
    assert pseudonym in found["data_quality.parquet values"]
    assert MANIFEST not in " ".join(found)  # the manifest itself was clean


# ---------------------------------------------------------------- the command


def test_export_bundle_before_the_first_run_says_run_first_and_creates_nothing(office, capsys):
    code = cli.main(["export-bundle"])
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert "还没有数据仓库" in err and "请先运行 tuoyu run" in err and "Traceback" not in err
    assert not (office / "warehouse").exists() and not (office / "reports").exists()


def test_export_bundle_into_a_folder_that_cannot_be_written_says_so(county, tmp_path, monkeypatch, capsys):
    from pipeline.rollup import export

    settings, _, _ = county
    for name, value in settings.folders_environment().items():
        monkeypatch.setenv(name, value)

    def refused(folder, **_):  # what a read-only folder does (the tests may run as root, which may write anywhere)
        raise PermissionError(errno.EACCES, "Permission denied", str(folder / "x.zip"))

    monkeypatch.setattr(export, "write_bundle", refused)
    code = cli.main(["export-bundle", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"无法在文件夹 {tmp_path} 中写入汇总包：该文件夹只读，或本账户没有写入权限" in err
    assert "--out" in err and "Traceback" not in err


def test_export_bundle_prints_where_the_bundle_is_and_which_months(county, tmp_path, monkeypatch, capsys):
    settings, _, _ = county
    for name, value in settings.folders_environment().items():
        monkeypatch.setenv(name, value)
    out_dir = tmp_path / "给地市"
    out_dir.mkdir()
    assert cli.main(["export-bundle", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    (written,) = out_dir.iterdir()
    assert f"汇总包已写入：{written}" in out
    assert f"县：{COUNTY} 青州市" in out and "月份：2023-01 至 2023-06（共 6 个月）" in out
    assert read_bundle(written).manifest.periods[0] == "2023-01"


def test_export_bundle_refuses_the_inbox_as_its_folder(county, monkeypatch, capsys):
    settings, _, _ = county
    for name, value in settings.folders_environment().items():
        monkeypatch.setenv(name, value)
    before = sorted(settings.inbox.rglob("*"))
    assert cli.main(["export-bundle", "--out", str(settings.inbox)]) == 2
    assert "收件箱" in capsys.readouterr().err
    assert sorted(settings.inbox.rglob("*")) == before


@pytest.mark.parametrize("name", ["已有的文件.txt", "汇总包.zip"])
def test_export_bundle_out_naming_a_file_says_to_name_a_folder(county, tmp_path, monkeypatch, capsys, name):
    settings, _, _ = county
    for variable, value in settings.folders_environment().items():
        monkeypatch.setenv(variable, value)
    target = tmp_path / name
    if name.endswith(".txt"):
        target.write_text("x", encoding="utf-8")
    assert cli.main(["export-bundle", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "不存在" not in err and "文件夹" in err and f"--out {tmp_path}" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".zip") == []
