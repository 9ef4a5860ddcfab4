"""Shared fixtures: every test gets its own warehouse file under tmp_path."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
# The conformance county: a small county written to the extract format, with every expected
# value and load count (tests/conformance/README.md). Reproduced exactly by test_conformance.
CONFORMANCE = REPO / "tests" / "conformance"
TEST_KEY = b"test-key-for-pseudonyms"
# In tests, GX and the audit rows disagreeing stops validation (in the office's run it sets
# the file aside): pipeline/validate/run.py. In-process runs whose Settings come from the
# environment read it; `tuoyu run` subprocesses get no TUOYU_* variable.
os.environ.setdefault("TUOYU_STRICT_CHECKS", "1")


def pytest_collection_modifyitems(config, items):
    """The heavy modules first, the heaviest first: pytest-xdist hands whole modules to the
    workers in this order (`--dist loadscope`), so a long module started last would leave
    one worker running it alone at the end."""
    def cost(item) -> float:
        marker = item.get_closest_marker("heavy")
        return marker.kwargs.get("seconds", 1.0) if marker else 0.0

    items.sort(key=cost, reverse=True)  # stable: within a module, the order as written


def shared_once(tmp_path_factory, name: str, make: Callable[[Path], dict]) -> tuple[Path, dict]:
    """A folder made once per test session and shared by the pytest-xdist workers: the first
    to ask runs `make(folder)` (the others wait on a lock) and its JSON result is kept beside
    the folder. Readers must never modify the folder."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this session's folder, above every worker's own
    folder, done = base / f"shared-{name}", base / f"shared-{name}.json"
    with open(base / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # also between threads: each open is its own lock
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a maker that failed half-way
            folder.mkdir()
            done.write_text(json.dumps(make(folder)), encoding="utf-8")
    return folder, json.loads(done.read_text(encoding="utf-8"))


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def office(tmp_path, monkeypatch):
    """An empty inbox, a warehouse path and no key: the office's set-up before the key is set
    (tests/test_cli.py, tests/test_console.py, tests/test_bundle_export.py)."""
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    for name in [k for k in os.environ if k.startswith("TUOYU_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "inbox").mkdir()
    monkeypatch.setenv("TUOYU_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("TUOYU_WAREHOUSE", str(tmp_path / "warehouse" / "warehouse.duckdb"))
    monkeypatch.setenv("TUOYU_REPORTS", str(tmp_path / "reports"))
    return tmp_path


def scan_tables(con: duckdb.DuckDBPyConnection, secrets) -> list[tuple[str, str, str]]:
    """Every (table, column, secret) where a text cell of any table contains a secret.
    One query per column: the cells' tokens are matched against the secrets in Python."""
    secrets = set(secrets)
    hits = []
    columns = con.execute(
        """select table_schema, table_name, column_name from information_schema.columns
           where data_type in ('VARCHAR', 'JSON')"""
    ).fetchall()
    for schema, table, column in columns:
        values = con.execute(
            f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" where "{column}" is not null'
        ).fetchall()
        for (value,) in values:
            for secret in find_secrets(value, secrets):
                hits.append((f"{schema}.{table}", column, secret))
    return hits


_ID = re.compile(r"\d{17}[\dXx]")
_TOKEN = re.compile(r"[0-9A-Za-z.+]{6,}")
_WORD = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]*[\u4e00-\u9fff][\u4e00-\u9fff0-9A-Za-z]*")


def find_secrets(text: str, secrets: set[str]) -> set[str]:
    """The secrets (18-character id numbers; names of up to 8 characters) that occur in text."""
    found = {m for m in _ID.findall(text) if m in secrets or m.upper() in secrets}
    found |= {m for m in _TOKEN.findall(text) if m in secrets}  # malformed numbers, whole
    for run in _WORD.findall(text):
        for length in range(2, min(8, len(run)) + 1):
            for i in range(len(run) - length + 1):
                if run[i:i + length] in secrets:
                    found.add(run[i:i + length])
    return found
