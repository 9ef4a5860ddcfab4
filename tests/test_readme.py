"""The README's annotated tree stays true at every level: every path it names exists, every
top-level entry of the repository is named in it, and inside `pipeline/` every package and
module is named under its folder."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO


def _tree_lines() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Where things are", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def _tree_paths() -> list[str]:
    """Full paths of the tree: two spaces of indent per level, folders end with '/'."""
    paths: list[str] = []
    parents: list[str] = []  # the folder open at each level
    for line in _tree_lines():
        level = (len(line) - len(line.lstrip(" "))) // 2
        name = re.split(r"\s{2,}", line.strip())[0]
        parents = parents[:level]
        path = "".join(parents) + name
        paths.append(path)
        if name.endswith("/"):
            parents.append(name)
    return paths


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if (REPO / p).exists()]


def test_the_two_commands_come_first():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```", 2)[1].split("\n", 1)[1]  # after the language tag
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_the_tree_is_read_as_nested_folders():
    paths = _tree_paths()
    assert "pipeline/ingest/extracts/read.py" in paths
    assert "sql/marts/" in paths


def test_every_path_in_the_tree_exists():
    missing = [p for p in _tree_paths() if not (REPO / p.rstrip("/")).exists()]
    assert missing == []


def test_every_top_level_entry_is_in_the_tree():
    top = {p.split("/")[0] + ("/" if "/" in p else "") for p in _tracked() if not p.startswith(".")}
    named = {p for p in _tree_paths() if "/" not in p.rstrip("/")}
    assert top - named - {"README.md"} == set()


def test_every_package_and_module_of_the_pipeline_is_in_the_tree():
    """Every module (.py) and every folder inside pipeline/, at every level, is named in the
    tree; a folder that is not a package (the shipped county's data) is named, not its files."""
    named = set(_tree_paths())
    expected = set()
    for path in _tracked():
        if not path.startswith("pipeline/"):
            continue
        parts = path.split("/")
        for depth in range(1, len(parts) - 1):  # every folder on the way
            folder = "/".join(parts[:depth + 1]) + "/"
            expected.add(folder)
            if not (REPO / folder / "__init__.py").exists():
                break  # a data folder: its files are not modules
        else:
            if path.endswith(".py"):
                expected.add(path)
    assert sorted(expected - named) == []
