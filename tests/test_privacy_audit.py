"""Personal-data audit: after `tuoyu run` on the small sample, no clear id number, no name
and not the pseudonym key is anywhere but in the raw archive.

The run (shared with the kill harness: `hostile_fixtures.sample_run`) uses a distinctive
key (not the demo key), logs at DEBUG, keeps Dagster's instance on disk (DAGSTER_HOME)
and its own TMPDIR. Searched afterwards, every file read in every way that could hide
text:

- the warehouse file and any write-ahead log: raw bytes, freed pages included, and every
  text cell of every table (DuckDB compresses some string columns, FSST: their bytes on
  disk do not show the text, their cells do);
- the published copy: every file's raw bytes, and every cell of every Parquet file
  (Parquet pages are compressed);
- the reports: PDF text (tests/report_pdf_text.py) and every decompressed PDF stream,
  every member of every XLSX (a zip), PNG bytes;
- everything the run printed (stdout and stderr, at DEBUG);
- DAGSTER_HOME (event log database, compute logs) and the run's TMPDIR, raw bytes.

A positive control shows the search finds what it looks for: run over the inbox's own
files (CSV bytes, XLSX unzipped), it finds every identifier.
"""

from __future__ import annotations

import io
import re
import shutil
import stat
import unicodedata
import zipfile
import zlib
from pathlib import Path

import duckdb
import pytest

from tests.conftest import _ID, _TOKEN, find_secrets, scan_tables
from tests.hostile_fixtures import AUDIT_KEY, sample_run
from tests.personal_data import clear_identifiers
from tests.report_pdf_text import pdf_text

pytestmark = pytest.mark.heavy(seconds=17)

_STREAM = b"stream"
_CJK = "\u4e00-\u9fff"


class Search:
    """The secrets found in a text, fast on megabytes of binary: id numbers and malformed
    numbers as `find_secrets` finds them, and every substring that starts with a Chinese
    character and has the length of a name. (`find_secrets`' word pattern backtracks
    quadratically on the long runs of letters and digits of a database file.)"""

    def __init__(self, secrets: set[str]):
        self.secrets = secrets
        lengths = sorted({len(s) for s in secrets if re.match(f"[{_CJK}]", s)})
        self.grams = [re.compile(f"(?=([{_CJK}].{{{n - 1}}}))", re.S) for n in lengths]
        self.others = [s for s in secrets if not re.match(f"[{_CJK}]", s) and not _TOKEN.fullmatch(s)
                       and not _ID.fullmatch(s)]

    def __call__(self, text: str) -> set[str]:
        # An id number typed in full-width digits (`\d` matches them) is the same id: the
        # secrets are read NFKC-normalised (tests/personal_data.py).
        ids = {unicodedata.normalize("NFKC", m) for m in _ID.findall(text)}
        found = {m for m in ids if m in self.secrets or m.upper() in self.secrets}
        found |= {m for m in _TOKEN.findall(text) if m in self.secrets}
        for gram in self.grams:
            found |= set(gram.findall(text)) & self.secrets
        found |= {s for s in self.others if s in text}
        return found


def _text(data: bytes) -> str:
    """Everything the pipeline writes is UTF-8 (decoding binary as GB18030 would match
    two-character names by chance)."""
    return data.decode("utf-8", "ignore")


def _delivered_text(data: bytes) -> str:
    """An extract as delivered: UTF-8, UTF-16 (with its BOM) or GB18030."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "ignore")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", "ignore")


def _pdf_streams(data: bytes) -> list[bytes]:
    """Every Flate stream of a PDF, decompressed (text, metadata, fonts' ToUnicode maps)."""
    out, pos = [], 0
    while (start := data.find(_STREAM, pos)) != -1:
        begin = start + len(_STREAM) + (2 if data[start + 6:start + 8] == b"\r\n" else 1)
        end = data.find(b"endstream", begin)
        if end == -1:
            break
        try:
            out.append(zlib.decompressobj().decompress(data[begin:end]))
        except zlib.error:
            pass
        pos = end
    return out


def readable_forms(path: Path, decode=_text) -> list[str]:
    """The texts a file can show: its bytes, and what its format compresses or encodes."""
    data = path.read_bytes()
    forms = [decode(data)]
    if data[:4] == b"PK\x03\x04":  # XLSX and other zips: every member
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            forms += [_text(z.read(info)) for info in z.infolist()]
    elif data[:5] == b"%PDF-":
        text = pdf_text(data)
        forms += [text, text.replace("\n", "")] + [_text(s) for s in _pdf_streams(data)]
    elif path.suffix == ".parquet":
        con = duckdb.connect()
        try:
            rows = con.execute("select * from read_parquet(?)", [str(path)]).fetchall()
        finally:
            con.close()
        forms.append("\n".join("\t".join("" if v is None else str(v) for v in row) for row in rows))
    return forms


def files_below(*roots: Path) -> list[Path]:
    return sorted(p for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    run = sample_run(tmp_path_factory)
    # tests/personal_data.py reads CSV as UTF-8 or GB18030; the sample also delivers a UTF-16
    # file (rejected by the pipeline, kept in the raw archive): give it a UTF-8 twin to read.
    readable = tmp_path_factory.mktemp("inbox-as-utf8")
    shutil.copytree(run.inbox, readable, dirs_exist_ok=True)
    for path in readable.rglob("*.csv"):
        raw = path.read_bytes()
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            path.write_bytes(raw.decode("utf-16").encode("utf-8"))
    secrets = clear_identifiers(readable)
    return run, secrets


def test_the_search_finds_what_it_looks_for(audit):
    """Positive control: the inbox's own files show every identifier to the same search,
    and it finds at least what `find_secrets` finds."""
    run, secrets = audit
    assert len(secrets) > 1000
    search, found = Search(secrets), set()
    for path in files_below(run.inbox):
        for form in readable_forms(path, _delivered_text):
            found |= search(form)
            assert find_secrets(form, secrets) <= found
    # clear_identifiers adds the upper- and lower-case forms of each value: one is enough.
    missing = {s.upper() for s in secrets} - {f.upper() for f in found}
    assert not missing, sorted(missing)[:10]


def test_no_personal_data_outside_the_raw_archive(audit):
    run, secrets = audit
    places = files_below(run.warehouse.parent, run.reports, run.dagster_home, run.tmpdir)
    places = [p for p in places if run.archive not in p.parents]
    assert any(p.suffix == ".parquet" for p in places) and any(p.suffix == ".pdf" for p in places)
    search, hits = Search(secrets), {}
    for path in places:
        found = set()
        for form in readable_forms(path):
            found |= search(form)
        if found:
            hits[str(path)] = sorted(found)[:5]
    assert not search(run.result.output)
    assert hits == {}
    con = duckdb.connect(str(run.warehouse), read_only=True)
    try:
        assert scan_tables(con, secrets) == []
    finally:
        con.close()


def test_the_key_appears_nowhere(audit):
    run, _ = audit
    key = AUDIT_KEY.encode()
    places = files_below(run.warehouse.parent, run.reports, run.dagster_home, run.tmpdir, run.archive)
    leaks = [str(p) for p in places if any(AUDIT_KEY in form for form in readable_forms(p)) or key in p.read_bytes()]
    assert leaks == []
    assert AUDIT_KEY not in run.result.output
    con = duckdb.connect(str(run.warehouse), read_only=True)
    try:
        assert scan_tables(con, {AUDIT_KEY}) == []
    finally:
        con.close()


def test_the_raw_archive_is_owner_only_and_holds_every_version(audit):
    run, _ = audit
    assert stat.S_IMODE(run.archive.stat().st_mode) == 0o700
    archived = list(run.archive.iterdir())
    assert archived and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in archived)
    # It is the one place with personal data: the same search finds it there.
    search = Search(audit[1])
    assert any(search(_text(p.read_bytes())) for p in archived if p.suffix == ".csv")


# ---------------------------------------------------------------- the analysts' copy (contract §4)

_HEX_RUN = re.compile(rb"[0-9a-f]{64,}")


def _hex_windows(data: bytes) -> set[str]:
    """Every 64-character window of every run of lower-case hex: a pseudonym may sit right
    beside other hex digits in a file."""
    out = set()
    for run in _HEX_RUN.findall(data):
        out |= {run[i:i + 64].decode() for i in range(len(run) - 63)}
    return out


def _warehouse_pseudonyms(warehouse: Path) -> tuple[set[str], int]:
    """The pseudonyms of the warehouse, and how many rejected or warned rows carry one in
    their values (what the published copy used to hold)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        found = {p for (p,) in con.execute(
            "select child_pseudonym from staging.enrollment where child_pseudonym is not null "
            "union select staff_pseudonym from staging.staffing where staff_pseudonym is not null").fetchall()}
        in_findings = con.execute(
            "select count(*) from (select row_values from audit.rejected_rows union all "
            "select row_values from audit.row_warnings) "
            "where coalesce(row_values->>'child_pseudonym', row_values->>'staff_pseudonym') is not null").fetchone()[0]
    finally:
        con.close()
    return found, in_findings


def test_the_published_copy_holds_no_pseudonym(audit, tmp_path):
    run, _ = audit
    pseudonyms, in_findings = _warehouse_pseudonyms(run.warehouse)
    assert len(pseudonyms) > 1000 and in_findings > 0  # the warehouse keeps them, for tuoyu fix
    files = files_below(run.published)
    assert any(p.suffix == ".parquet" for p in files)
    hits = {}
    for path in files:
        found = _hex_windows(path.read_bytes())
        for form in readable_forms(path)[1:]:  # Parquet cells (the pages are compressed)
            found |= _hex_windows(form.encode())
        if found & pseudonyms:
            hits[str(path)] = sorted(found & pseudonyms)[:3]
    assert hits == {}
    # Positive control: the same search over a Parquet file of the warehouse's findings, as
    # they used to be published, finds the pseudonyms.
    control = tmp_path / "audit.rejected_rows.parquet"
    con = duckdb.connect(str(run.warehouse), read_only=True)
    try:
        con.execute(f"copy (select * from audit.row_warnings union all select * from audit.rejected_rows) "
                    f"to '{control}' (format parquet)")
    finally:
        con.close()
    found = set().union(*(_hex_windows(form.encode()) for form in readable_forms(control)[1:]))
    assert found & pseudonyms


# Words of a column name that say it counts children by a personal attribute (age, sex,
# birth month; 班型 is an age band): independent of the list in sql/published.
_PERSONAL_COLUMN = re.compile(r"infant|toddler|class|sex|male|female|boys|girls|age|birth|month_of_birth")


def test_every_small_institution_count_by_a_personal_attribute_reads_less_than_five(audit):
    run, _ = audit
    pub = duckdb.connect(str(run.published / "tuoyu.duckdb"), read_only=True)
    wh = duckdb.connect(str(run.warehouse), read_only=True)
    try:
        checked, small = 0, 0
        relations = pub.execute("select table_schema, table_name from information_schema.columns "
                                "where column_name = 'institution_id' order by all").fetchall()
        for schema, name in relations:
            columns = [c for (c,) in pub.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [schema, name]).fetchall() if _PERSONAL_COLUMN.search(c)]
            for column in columns:
                values = [v for (v,) in pub.execute(f'select "{column}" from {schema}.{name}').fetchall()]
                checked += len(values)
                small += values.count("<5")
                assert not [v for v in values if str(v) in ("1", "2", "3", "4")], f"{schema}.{name}.{column}"
        assert checked > 0 and small > 0
        # Cell by cell against the warehouse's exact counts.
        classes = ("infant_class_rows", "younger_toddler_class_rows", "older_toddler_class_rows")
        exact = {r[:2]: r[2:] for r in wh.execute(
            f"select period, institution_id, {', '.join(classes)} from marts.institution_enrollment").fetchall()}
        shown = {r[:2]: r[2:] for r in pub.execute(
            f"select period, institution_id, {', '.join(classes)} from marts.institution_enrollment").fetchall()}
    finally:
        pub.close()
        wh.close()
    assert shown.keys() == exact.keys()
    expected = {k: tuple("<5" if 1 <= n <= 4 else str(n) for n in v) for k, v in exact.items()}
    assert shown == expected
    assert any(1 <= n <= 4 for v in exact.values() for n in v)


def test_warehouse_archive_and_published_files_are_not_readable_by_other_users(audit):
    run, _ = audit
    folder = run.warehouse.parent
    mode = lambda p: stat.S_IMODE(p.lstat().st_mode)  # noqa: E731
    assert mode(run.warehouse) == 0o600
    assert mode(folder) == 0o710  # the group passes through to published/, lists and reads nothing
    assert mode(run.archive) == 0o700
    assert mode(run.published) == 0o750
    published = files_below(run.published)
    assert published and all(mode(p) == 0o440 for p in published)
    assert all(mode(p) == 0o750 for p in run.published.iterdir() if p.is_dir())
    below = list(folder.rglob("*"))
    assert below and [str(p) for p in below if mode(p) & 0o007] == []  # other users: nothing at all
    assert [str(p) for p in below if mode(p) & 0o077 and run.published not in (p, *p.parents)] == []
