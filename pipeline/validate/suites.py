"""The validation suites: one Great Expectations 1.x JSON suite per staged table.

`expectations/<kind>.json` is the single definition of the row rules of extract-format.md §2 for
that kind. Every expectation is an `UnexpectedRowsExpectation` whose query selects
`sha256, period_file, row_number` of the failing rows of `{batch}`; its `meta` says which rule it is:

    rule_id     stable id, e.g. ENR-CHILD-ID-CHECK
    severity    R (reject into audit.rejected_rows) or W (warn into audit.row_warnings)
    level       row (one finding per failing row) or file (one finding per file, row_number 0)
    contract    the extract-format.md line it enforces
    message_zh  what the office clerk reads: what is wrong and what to do

A rule on a column of fixed values also says `column` (the staging column) and
`allowed_values` (the list): its query and message write `{allowed_values}` where the list
goes, and `load_suite` puts it there (SQL literals in the query, `A、B 或 C` in the
message). So the list is written once, and the templates' drop-down lists
(pipeline/templates) read the same `allowed_values`.

The suite's own `meta` carries `kind`, `row_values` (the staging text columns copied into
the audit rows' JSON) and `blocking_rejected_share` (above it a file cannot be trusted).

This module reads the files without importing great_expectations.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.warehouse.schema import KINDS

from pipeline.settings import EXPECTATIONS_DIR as SUITES_DIR

# Institutions first: enrollment and staffing rows need an accepted institution of the same month.
VALIDATION_ORDER = ("institutions", "enrollment", "staffing")

SEVERITIES = ("R", "W")
LEVELS = ("row", "file")
RULE_META_KEYS = ("rule_id", "severity", "level", "contract", "message_zh")
# Where a rule's query and message take its meta.allowed_values.
ALLOWED_VALUES = "{allowed_values}"
# GX's own failure severity, kept in step with meta.severity (the suite lint test checks it).
GX_SEVERITY = {"R": "critical", "W": "warning"}


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite: a row rule (or file-level check) and its query."""

    rule_id: str
    kind: str
    severity: str
    level: str
    contract: str
    message_zh: str
    description: str
    query: str
    column: str | None = None  # the staging column of a rule on fixed values
    allowed_values: tuple[str, ...] = ()  # its values, as the query accepts them

    def query_for(self, relation: str) -> str:
        """The query with `{batch}` replaced the way GX replaces it (`str.format`)."""
        return self.query.format(batch=relation)


@dataclass(frozen=True)
class Suite:
    kind: str
    path: Path
    data: dict[str, Any]
    rules: tuple[Rule, ...]
    row_values: tuple[str, ...]
    blocking_rejected_share: float

    def allowed_values(self) -> dict[str, tuple[str, ...]]:
        """Staging column → the values its rule accepts (the rules with meta.allowed_values)."""
        return {rule.column: rule.allowed_values for rule in self.rules if rule.allowed_values}

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return rule
        raise KeyError(rule_id)


class SuiteError(ValueError):
    """A suite file that cannot drive validation (missing meta, unknown severity, …)."""


def _sql_list(values: list[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def values_zh(values: list[str] | tuple[str, ...]) -> str:
    """`A、B 或 C`: a list of values as the clerk's messages write it."""
    values = list(values)
    return values[0] if len(values) == 1 else "、".join(values[:-1]) + " 或 " + values[-1]


def _fill_allowed_values(expectation: dict[str, Any], where: str) -> dict[str, Any]:
    """The expectation with meta.allowed_values written into its query and message, checked:
    a list where no placeholder takes it (or a placeholder without a list) is refused."""
    meta = expectation.get("meta") or {}
    kwargs = expectation.get("kwargs") or {}
    values = meta.get("allowed_values")
    placed = ALLOWED_VALUES in kwargs.get("unexpected_rows_query", "")
    if values is None and not placed:
        return expectation
    if not (isinstance(values, list) and values and all(isinstance(v, str) and v for v in values)):
        raise SuiteError(f"{where}: meta.allowed_values must be a non-empty list of texts")
    if not placed or not meta.get("column"):
        raise SuiteError(f"{where}: meta.allowed_values needs meta.column and {ALLOWED_VALUES} in the query")
    filled = copy.deepcopy(expectation)
    filled["kwargs"]["unexpected_rows_query"] = kwargs["unexpected_rows_query"].replace(ALLOWED_VALUES,
                                                                                       _sql_list(values))
    filled["meta"]["message_zh"] = meta.get("message_zh", "").replace(ALLOWED_VALUES, values_zh(values))
    return filled


def load_suite(kind: str, suites_dir: Path = SUITES_DIR) -> Suite:
    """Read and check `expectations/<kind>.json`."""
    path = suites_dir / f"{kind}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    meta = data.get("meta") or {}
    if data.get("name") != kind or meta.get("kind") != kind:
        raise SuiteError(f"{path}: name and meta.kind must both be {kind!r}")
    rules = []
    expectations = data.get("expectations", [])
    for position, expectation in enumerate(expectations, start=1):
        where = f"{path}, expectation {position}"
        expectation = expectations[position - 1] = _fill_allowed_values(expectation, where)
        if expectation.get("type") != "unexpected_rows_expectation":
            raise SuiteError(f"{where}: only unexpected_rows_expectation is supported, not {expectation.get('type')!r}")
        rule_meta = expectation.get("meta") or {}
        missing = [key for key in RULE_META_KEYS if not rule_meta.get(key)]
        if missing:
            raise SuiteError(f"{where}: meta lacks {', '.join(missing)}")
        if rule_meta["severity"] not in SEVERITIES or rule_meta["level"] not in LEVELS:
            raise SuiteError(f"{where}: severity must be R or W and level row or file")
        query = expectation.get("kwargs", {}).get("unexpected_rows_query", "")
        if "{batch}" not in query:
            raise SuiteError(f"{where}: unexpected_rows_query must select from {{batch}}")
        rules.append(Rule(
            rule_id=rule_meta["rule_id"],
            kind=kind,
            severity=rule_meta["severity"],
            level=rule_meta["level"],
            contract=rule_meta["contract"],
            message_zh=rule_meta["message_zh"],
            description=expectation.get("description", ""),
            query=query,
            column=rule_meta.get("column"),
            allowed_values=tuple(rule_meta.get("allowed_values") or ()),
        ))
    ids = [rule.rule_id for rule in rules]
    duplicated = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
    if duplicated:
        raise SuiteError(f"{path}: rule ids used more than once: {', '.join(duplicated)}")
    columns = [rule.column for rule in rules if rule.allowed_values]
    if len(columns) != len(set(columns)):
        raise SuiteError(f"{path}: two rules give allowed_values for one column")
    share = meta.get("blocking_rejected_share")
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise SuiteError(f"{path}: meta.blocking_rejected_share must be a number between 0 and 1")
    return Suite(
        kind=kind,
        path=path,
        data=data,
        rules=tuple(rules),
        row_values=tuple(meta.get("row_values", ())),
        blocking_rejected_share=float(share),
    )


def load_suites(suites_dir: Path = SUITES_DIR) -> dict[str, Suite]:
    """Every kind's suite, keyed by kind."""
    return {kind: load_suite(kind, suites_dir) for kind in KINDS}


def rules_markdown(suites: dict[str, Suite]) -> str:
    """The rule table of docs/validation.md, generated from the suites."""
    lines = ["| rule id | R/W | level | contract | message (中文) |", "|---|---|---|---|---|"]
    for kind in VALIDATION_ORDER:
        for rule in suites[kind].rules:
            lines.append(f"| `{rule.rule_id}` | {rule.severity} | {rule.level} | {rule.contract} | {rule.message_zh} |")
    return "\n".join(lines) + "\n"


_ALLOWED_SET = re.compile(r"\bb\.(\w+) not in \(([^)]*)\)")


def allowed_values(suite: Suite) -> dict[str, tuple[str, ...]]:
    """The values a column allows, for each column a rule of the suite holds to a list
    (`b.<column> not in ('…', …)`): the suites are the one statement of those lists."""
    found: dict[str, tuple[str, ...]] = {}
    for rule in suite.rules:
        for column, listed in _ALLOWED_SET.findall(rule.query):
            found.setdefault(column, tuple(re.findall(r"'([^']*)'", listed)))
    return found
