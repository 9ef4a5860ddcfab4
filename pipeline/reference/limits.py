"""The ranges within which reference data are accepted (`limits.toml` beside this module,
with the reason for each): target deadlines, target values by the indicator's kind,
populations, the number of 镇街 (and of a prefecture's counties). The parsers of areas.py and policy.py check them and stop
the run with the file, the line and the range."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

LIMITS_PATH = Path(__file__).resolve().parent / "limits.toml"


@dataclass(frozen=True)
class ReferenceLimits:
    first_deadline: str  # "YYYY-MM"
    last_deadline: str
    target_ranges: dict[str, tuple[float, float]]  # catalog kind → (lowest, highest)
    max_population: int
    max_towns: int
    max_counties: int


@functools.cache
def reference_limits(path: Path = LIMITS_PATH) -> ReferenceLimits:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return ReferenceLimits(
        first_deadline=data["deadline"]["first"],
        last_deadline=data["deadline"]["last"],
        target_ranges={kind: (float(low), float(high)) for kind, (low, high) in data["target_value"].items()},
        max_population=int(data["population"]["max"]),
        max_towns=int(data["areas"]["max_towns"]),
        max_counties=int(data["areas"]["max_counties"]),
    )


def number_text(value: float) -> str:
    """1000000.0 → "1,000,000"; 4.5 → "4.5" (how a range is written in a message)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
