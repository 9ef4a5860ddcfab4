"""Kill anywhere, rerun, same result.

`tuoyu run` is started as a subprocess on the small sample inbox and SIGKILLed at many
points: at exact file operations (a failpoint: the child's audit hook kills its own
process group just before, or just after, the Nth matching `open` / `os.rename` /
`os.mkdir` / `shutil.copyfile` / … of a path, optionally plus a delay to land inside a
DuckDB transaction), or a number of seconds after the start. Each run is forked from the
warm server (tests/warm_server.py): the libraries are imported once, everything of the
project runs in the child as in a fresh process. Kill points are
grouped in chains: each run of a chain is killed at the next point (so later kills also
hit runs that are recovering from earlier ones), then a last run goes to completion.

What a kill left is observed at once and must hold nothing half-written: every visible
file under the reports folder equals the uninterrupted run's; every visible raw-archive
file's name is the SHA-256 of its bytes; every visible version folder of the published
copy is complete, and its database, if there is one, opens and shows exactly the
uninterrupted run's tables. After every completed rerun, the warehouse (every table, by
content; `loaded_at` and `audit.runs` excepted), the reports (bytes), the raw archive and
the published copy equal the uninterrupted run's; temporary files left behind are
reported by a test of their own. docs/reliability.md lists the kill points.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.hostile_fixtures import RunOutput, SampleRun, run_tuoyu, sample_inbox, sample_run, tuoyu_env

pytestmark = pytest.mark.heavy(seconds=110)

# The child: install the failpoint, then exactly what the `tuoyu` console script does.
# The kill takes the whole process group (Dagster's log-capture helpers too), like a
# power cut or `systemctl kill`; nothing in the process runs after it.
_FAILPOINT_CHILD = r"""
import fnmatch, json, os, signal, sys, threading
point = json.loads(os.environ.pop("TUOYU_TEST_FAILPOINT"))
state = {"seen": 0, "armed": None, "dying": False, "gate": point["gate"] is None}

def die():
    state["dying"] = True  # os.killpg raises an audit event of its own
    os.killpg(0, signal.SIGKILL)

def matches(event, args, spec):
    name, arg, glob = spec
    if event != name:
        return False
    try:
        target = os.fsdecode(args[arg])
    except (IndexError, TypeError):
        return False
    return fnmatch.fnmatchcase(target if "/" in glob else os.path.basename(target), glob)

def hook(event, args):
    if state["dying"]:
        return
    if state["armed"] is not None:
        if threading.get_ident() == state["armed"]:  # the matched operation has returned
            die()
        return
    if not state["gate"]:
        state["gate"] = matches(event, args, point["gate"])
        return
    if not matches(event, args, (point["event"], point["arg"], point["glob"])):
        return
    state["seen"] += 1
    if state["seen"] != point["nth"]:
        return
    if point["when"] == "after":
        state["armed"] = threading.get_ident()
    elif point["delay"]:
        threading.Timer(point["delay"], die).start()
    else:
        die()

sys.addaudithook(hook)
from pipeline.commands.cli import main
sys.exit(main(["run"]))
"""


@dataclass(frozen=True)
class KillPoint:
    """Where one run is killed: a failpoint, or a number of seconds after the start."""

    stage: str
    # failpoint: (audit event, index of its path argument, glob of the path — of the file
    # name alone when the glob has no "/" —, which match kills)
    audit: tuple[str, int, str, int] | None = None
    when: str = "before"          # "before" the matched operation, or "after" it returned
    delay: float = 0.0            # "before" only: kill this many seconds after the match
    gate: tuple[str, int, str] | None = None  # count matches only after this event was seen
    seconds: float | None = None  # no failpoint: kill this many seconds after the start

    def describe(self) -> str:
        if self.audit is None:
            return f"{self.stage}: {self.seconds:.1f} s after the start"
        event, _, glob, nth = self.audit
        where = "/".join(glob.split("/")[-2:])
        gate = f" (after {self.gate[0]} {self.gate[2]})" if self.gate else ""
        delay = f" + {self.delay} s" if self.delay else ""
        return f"{self.stage}: {self.when} {event} #{nth} {where}{gate}{delay}"


def _fp(stage: str, event: str, arg: int, glob: str, nth: int = 1, when: str = "before",
        delay: float = 0.0, gate: tuple[str, int, str] | None = None) -> KillPoint:
    return KillPoint(stage, (event, arg, glob, nth), when, delay, gate)


INBOX_FILE = "*/inbox/*"
ARCHIVE_TMP = "*/raw-archive/.incoming-*"
CORE_SQL = "*/sql/core/institutions.sql"  # read when validation starts, and again when it ends
SUITES_READ = ("open", 0, "*/expectations/*.json")  # validation starts: the suites are read
GX_TEMP = "tmp*"               # then GX's context makes a temporary folder
MARTS_SQL = "*/sql/marts/*.sql"  # each read once at import, then again by the marts step
MARTS_STEP = len(list((Path(__file__).resolve().parents[1] / "sql" / "marts").glob("*.sql"))) + 1
CHART = "*/reports/*/charts/*.png"
PDF = "*/reports/*/report_*.pdf"
PUB_INCOMING = "*/published/.incoming-v*"
PUB_DB = "*/published/tuoyu.duckdb"

# Chains of kill points: run 1 of a chain is killed at its first point, the rerun at the
# second, …; then one more run completes. Stages follow the job: ingest (hashing, raw
# archive, staging transactions), validation (GX, audit transactions), marts, report
# (charts, card, workbook, PDF, then the record of what was published), publication
# (Parquet in a hidden folder, its rename, the view database swap, pruning).
CHAINS: dict[str, list[KillPoint]] = {
    "chain1": [
        _fp("ingest", "open", 0, INBOX_FILE),                                  # hashing the inbox
        _fp("ingest", "os.rename", 0, ARCHIVE_TMP),                             # first archive copy written, not renamed
        _fp("validation", "tempfile.mkdtemp", 0, GX_TEMP, delay=0.3, gate=SUITES_READ),  # GX at work
        _fp("validation", "open", 0, CORE_SQL, 2),                              # all validated, months still queued
        _fp("report", "os.rename", 1, CHART),                                   # first chart in its temp file
        _fp("report", "os.rename", 1, CHART, 8, when="after"),                  # 8 of 17 charts replaced
        _fp("publish", "os.chmod", 0, PUB_INCOMING + "/*.parquet", 10),         # Parquet half written
        _fp("publish", "os.rename", 1, PUB_DB, when="after"),                   # view database swapped, not pruned
    ],
    # A rerun publishes only while the last publication is unrecorded (nothing new, nothing
    # done): each publication point here kills before the copy is recorded, so the next run
    # publishes again, and the third publication prunes the first.
    "chain2": [
        _fp("ingest", "os.rename", 0, ARCHIVE_TMP, 6),                          # 5 files staged, 6th not archived
        _fp("validation", "open", 0, CORE_SQL),                                 # months queued, none validated
        _fp("report", "os.rename", 1, PDF, when="after"),                       # files written, not yet recorded
        _fp("publish", "os.rename", 0, PUB_INCOMING, when="after"),             # new version folder, no database
        _fp("publish", "os.rename", 1, PUB_DB, when="after"),                   # second version swapped in, not recorded
        _fp("publish", "shutil.rmtree", 0, "*/published/v*"),                   # pruning the oldest version
        _fp("end", "os.rename", 1, PUB_DB, delay=0.3),                          # job done, end not recorded
    ],
    "chain3": [
        _fp("ingest", "os.rename", 0, ARCHIVE_TMP, 10, delay=0.03),             # inside a staging transaction
        _fp("validation", "tempfile.mkdtemp", 0, GX_TEMP, delay=0.8, gate=SUITES_READ),  # audit transactions
        _fp("marts", "open", 0, MARTS_SQL, MARTS_STEP, delay=0.3),              # marts half rebuilt
        _fp("report", "os.rename", 1, PDF),                                     # PDF complete in its temp file
    ],
}
# Kills by elapsed time, as fractions of the uninterrupted run's duration: one more chain,
# a fresh run killed late, then its rerun (less to do) killed early.
TIMED = (0.6, 0.25)
# Every run keeps its Dagster instance on disk (beside the warehouse by default): a killed
# run must not break the next one's event log. This chain's runs keep it in a DAGSTER_HOME
# of their own, outside the warehouse folder.
WITH_DAGSTER_HOME = "chain2"


# ------------------------------------------------------------------ what is on disk


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def file_digests(root: Path) -> dict[str, str]:
    """relative path → SHA-256 of every file below `root` (hidden ones included)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[tuple]:
    wanted = ", ".join(f'"{c}"' for c in columns if c != "loaded_at")
    rows = con.execute(f"select {wanted} from {relation}").fetchall()
    return sorted(rows, key=repr)


def warehouse_content(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table and view of the warehouse by content; run times (loaded_at, audit.runs) out."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return _relations_content(con)
    finally:
        con.close()


def _relations_content(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[list[str], list[tuple]]]:
    content = {}
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() order by 1, 2").fetchall()
    for schema, name in relations:
        if (schema, name) == ("audit", "runs"):
            continue
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", [schema, name]).fetchall()]
        content[f"{schema}.{name}"] = (columns, _rows(con, f'"{schema}"."{name}"', columns))
    return content


def published_content(folder: Path) -> dict[str, tuple[list[str], list[tuple]]] | None:
    """What an analyst sees in the published copy (every view, by content), or None."""
    database = folder / "tuoyu.duckdb"
    if not database.exists():
        return None
    con = duckdb.connect(str(database), read_only=True)
    try:
        return _relations_content(con)
    finally:
        con.close()


def _differences(label: str, got: dict, want: dict) -> list[str]:
    if got == want:
        return []
    out = []
    for name in sorted(set(got) | set(want)):
        if got.get(name) != want.get(name):
            g, w = got.get(name), want.get(name)
            if g is None or w is None:
                out.append(f"{label} {name}: {'missing' if g is None else 'unexpected'}")
                continue
            if g[0] != w[0]:
                out.append(f"{label} {name}: columns {g[0]} != {w[0]}")
                continue
            got_rows, want_rows = Counter(map(repr, g[1])), Counter(map(repr, w[1]))
            extra = list((got_rows - want_rows).elements())[:2]
            lost = list((want_rows - got_rows).elements())[:2]
            out.append(f"{label} {name}: {len(g[1])} rows, want {len(w[1])}; extra {extra}; missing {lost}")
    return out


@dataclass
class Expected:
    """The uninterrupted run, as the kill harness compares against it."""

    run: SampleRun
    warehouse: dict
    reports: dict[str, str]
    archive: dict[str, str]
    published: dict
    parquet_names: set[str]

    @classmethod
    def of(cls, run: SampleRun) -> "Expected":
        versions = [p for p in run.published.iterdir() if p.is_dir()]
        assert len(versions) == 1, versions
        return cls(run, warehouse_content(run.warehouse), file_digests(run.reports), file_digests(run.archive),
                   published_content(run.published), {p.name for p in versions[0].iterdir()})


@dataclass
class Left:
    """What a killed run left on disk, observed at once (before the next run changes it)."""

    reports: dict[str, str]                 # visible files only
    archive: dict[str, str]                 # visible files only
    versions: dict[str, set[str]]           # visible version folders of the published copy → file names
    published: dict | str | None            # what the published database shows; str: why it did not open


def observe(out: Path) -> Left:
    reports, archive = out / "reports", out / "warehouse" / "raw-archive"
    published = out / "warehouse" / "published"
    versions, shown = {}, None
    if published.exists():
        versions = {v.name: {p.name for p in v.iterdir()} for v in published.iterdir()
                    if v.is_dir() and _visible(v, published)}
        try:
            shown = published_content(published)
        except duckdb.Error as exc:
            shown = f"does not open: {exc}"
    return Left({r: d for r, d in file_digests(reports).items() if _visible(reports / r, reports)},
                {r: d for r, d in file_digests(archive).items() if _visible(archive / r, archive)},
                versions, shown)


def check_after_kill(left: Left, expected: Expected) -> list[str]:
    """Nothing half-written was visible in what a killed run left."""
    problems = [f"reports/{rel} is visible but not the finished file"
                for rel, digest in left.reports.items() if expected.reports.get(rel) != digest]
    problems += [f"raw-archive/{rel} is visible but its bytes are not that file version"
                 for rel, digest in left.archive.items() if rel.split(".")[0] != digest]
    problems += [f"published/{name} is visible but incomplete ({len(names)} files)"
                 for name, names in left.versions.items() if names != expected.parquet_names]
    if isinstance(left.published, str):
        problems.append(f"the published copy {left.published}")
    elif left.published is not None:
        problems += _differences("published", left.published, expected.published)
    return problems


def check_completed(out: Path, expected: Expected) -> tuple[list[str], list[str]]:
    """After the rerun: (differences from the uninterrupted run, temporary files left behind)."""
    warehouse = out / "warehouse" / "warehouse.duckdb"
    problems = _differences("warehouse", warehouse_content(warehouse), expected.warehouse)
    leftovers = []
    for label, got, want in (("reports", file_digests(out / "reports"), expected.reports),
                             ("raw-archive", file_digests(out / "warehouse" / "raw-archive"), expected.archive)):
        for rel in sorted(set(got) | set(want)):
            if got.get(rel) == want.get(rel):
                continue
            if rel not in want and rel.split("/")[-1].startswith("."):
                leftovers.append(f"{label}/{rel}")
            else:
                state = "missing" if rel not in got else "differs" if rel in want else "extra"
                problems.append(f"{label}/{rel} {state}")
    published = out / "warehouse" / "published"
    problems += _differences("published", published_content(published) or {}, expected.published)
    entries = sorted(p.name for p in published.iterdir())
    leftovers += [f"published/{e}" for e in entries if e.startswith(".")]
    if len([e for e in entries if e.startswith("v")]) > 2:
        problems.append(f"published/ keeps more than two versions: {entries}")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        last = con.execute("select success from audit.runs order by started_at desc, finished_at desc nulls first"
                           " limit 1").fetchone()
    finally:
        con.close()
    if last != (True,):
        problems.append(f"audit.runs: the last run is recorded as {last}")
    return problems, leftovers


# ------------------------------------------------------------------ running a chain


def _run_killed(env: dict, point: KillPoint) -> RunOutput:
    if point.audit is not None:
        event, arg, glob, nth = point.audit
        failpoint = {"event": event, "arg": arg, "glob": glob, "nth": nth, "when": point.when,
                     "delay": point.delay, "gate": point.gate}
        return run_tuoyu({**env, "TUOYU_TEST_FAILPOINT": json.dumps(failpoint)},
                         argv=[sys.executable, "-c", _FAILPOINT_CHILD])
    return run_tuoyu(env, kill_after=point.seconds)  # the console script itself


@dataclass
class Chain:
    """A chain run to its end: what each kill left, and where the last run wrote."""

    name: str
    out: Path
    delivered: list[tuple[str, Left]]   # kill points that did kill, and what each left
    missed: list[str]                   # kill points whose run finished first (not counted)
    failed: list[str]                   # runs that ended otherwise than killed or completed


def run_chain(name: str, points: list[KillPoint], root: Path, inbox: Path) -> Chain:
    """Kill one run at each point in turn, then rerun to completion."""
    out = root / name
    dagster_home = root / f"{name}-dagster-home" if name == WITH_DAGSTER_HOME else None
    env = tuoyu_env(inbox, out, dagster_home=dagster_home)
    chain = Chain(name, out, [], [], [])
    for point in points:
        result = _run_killed(env, point)
        if result.returncode == 0:  # the run finished before the kill point came
            chain.missed.append(point.describe())
        elif result.returncode != -9:
            chain.failed.append(f"{point.describe()}: exit {result.returncode}: {result.output[-2000:]}")
            return chain
        else:
            chain.delivered.append((point.describe(), observe(out)))
    final = run_tuoyu(env)
    if final.returncode != 0:
        chain.failed.append(f"the rerun failed ({final.returncode}): {final.output[-3000:]}")
    return chain


@dataclass
class ChainResult:
    name: str
    delivered: list[str]
    missed: list[str]
    problems: list[str]
    leftovers: list[str]   # temporary files still there after the rerun


def judge(chain: Chain, expected: Expected) -> ChainResult:
    problems = [f"{chain.name}: {f}" for f in chain.failed]
    for point, left in chain.delivered:
        problems += [f"{chain.name}, after the kill at {point}: {p}" for p in check_after_kill(left, expected)]
    leftovers: list[str] = []
    if not chain.failed:
        differences, leftovers = check_completed(chain.out, expected)
        problems += [f"{chain.name}, after the rerun: {p}" for p in differences]
    return ChainResult(chain.name, [p for p, _ in chain.delivered], chain.missed, problems, leftovers)


@dataclass
class Harness:
    chains: list[ChainResult]
    twice: tuple[list[str], list[str]]  # check_completed after a second uninterrupted run

    @property
    def delivered(self) -> list[str]:
        return [f"{c.name} {p}" for c in self.chains for p in c.delivered]


def _twice(root: Path, expected: Expected) -> tuple[list[str], list[str]]:
    """A copy of the uninterrupted run's outputs, run once more: nothing may change."""
    out = root / "twice"
    shutil.copytree(expected.run.out, out, symlinks=True)
    result = run_tuoyu(tuoyu_env(expected.run.inbox, out))
    if result.returncode != 0:
        return [f"the second run failed: {result.output[-2000:]}"], []
    return check_completed(out, expected)


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Harness:
    """The uninterrupted run, every chain and the second-run premise, two at a time (CI has
    two cores). Chains start beside the uninterrupted run: what each kill leaves is
    observed at once and judged against the uninterrupted run once it is there."""
    inbox = sample_inbox(tmp_path_factory)
    root = tmp_path_factory.mktemp("kills")
    with ThreadPoolExecutor(max_workers=2) as pool:
        baseline = pool.submit(sample_run, tmp_path_factory)
        chains = [pool.submit(run_chain, name, points, root, inbox) for name, points in CHAINS.items()]
        expected = Expected.of(baseline.result())
        timed = [KillPoint("time", seconds=round(f * expected.run.result.seconds, 1)) for f in TIMED]
        chains.append(pool.submit(run_chain, "timed", timed, root, inbox))
        twice = pool.submit(_twice, root, expected)
        return Harness([judge(c.result(), expected) for c in chains], twice.result())


def test_uninterrupted_rerun_changes_nothing(harness):
    """The premise: a second run over a finished one changes nothing (but run times)."""
    differences, leftovers = harness.twice
    assert differences == [] and leftovers == []


def test_kill_anywhere_rerun_same_result(harness, record_property):
    delivered = harness.delivered
    missed = [f"{c.name} {p}" for c in harness.chains for p in c.missed]
    problems = [p for c in harness.chains for p in c.problems]
    record_property("kill_points", len(delivered))
    summary = (f"kill harness: {len(delivered)} kill points delivered in {len(harness.chains)} chains, each "
               f"chain rerun to completion; {len(missed)} came after the run had finished")
    print("\n" + summary + "\n  " + "\n  ".join(delivered + [f"(missed) {m}" for m in missed]))
    assert not problems, summary + "\n" + "\n".join(problems)
    # A failpoint without a delay lies on the path of the run it is meant for: it always
    # kills. One with a delay, or a kill by time, may come after a fast run has finished.
    exact = {p.describe() for points in CHAINS.values() for p in points if p.audit and not p.delay}
    assert not [m for m in missed if m.split(" ", 1)[1] in exact], f"{summary}; missed: {missed}"
    assert len(delivered) >= len(exact) + 4, summary


def test_rerun_removes_what_killed_runs_left(harness):
    leftovers = [f"{c.name}: {p}" for c in harness.chains for p in c.leftovers]
    assert leftovers == []
