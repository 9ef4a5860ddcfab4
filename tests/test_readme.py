"""The README's annotated tree stays true: every path it names exists, and every
top-level entry of the repository is named in it."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO


def _tree_lines() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Where things are", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def _tree_paths() -> list[str]:
    paths, parent = [], ""
    for line in _tree_lines():
        indent = len(line) - len(line.lstrip(" "))
        name = re.split(r"\s{2,}", line.strip())[0]
        if indent == 0:
            parent = name if name.endswith("/") else ""
            paths.append(name)
        else:
            paths.append(parent + name)
    return paths


def test_the_two_commands_come_first():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```", 2)[1].split("\n", 1)[1]  # after the language tag
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_every_path_in_the_tree_exists():
    missing = [p for p in _tree_paths() if not (REPO / p.rstrip("/")).exists()]
    assert missing == []


def test_every_top_level_entry_is_in_the_tree():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    top = {p.split("/")[0] + ("/" if "/" in p else "") for p in tracked if not p.startswith(".")}
    named = {p for p in _tree_paths() if "/" not in p.rstrip("/") }
    assert top - named - {"README.md"} == set()
