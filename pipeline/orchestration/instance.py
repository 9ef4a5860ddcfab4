"""The project's own Dagster instance: its DAGSTER_HOME (default `dagster_home` beside the
warehouse) with the `dagster.yaml` the project writes there, used by `tuoyu run` and by
`tuoyu dev` alike, so that the UI lists the runs started by hand too.

The file turns Dagster's telemetry off (no usage report, no welcome banner, nothing written to
`~/.dagster`), and its presence keeps Dagster from warning that there is none: the office's
console shows the project's own progress and summary only. For `tuoyu dev` it also makes the
run queue start one run at a time, and retries once a run that died for a reason other than a
failing step (the process was killed, the machine restarted): a step that fails is already
retried by the job's own retry policy, and retrying a whole run for bad data would only repeat
the same failure. A prefecture's folder gets PREFECTURE_DAGSTER_YAML instead: several
counties' runs at once, the build in a pool of one (docs/rollup.md §6).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

# A file whose first line starts so was written by tuoyu (or, before, by `tuoyu dev`), and is
# brought up to date; a file without it is the office's own and is left as it is.
MARKER = "# Written by tuoyu"
_MARKERS = (MARKER, "# Written by `tuoyu dev`")

DAGSTER_YAML = f"""\
{MARKER} (pipeline/orchestration/instance.py), which rewrites it when it changes.
# Delete this first line to keep a file of your own instead.
concurrency:
  runs:
    max_concurrent_runs: 1
run_retries:
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false
telemetry:
  enabled: false
"""


# A prefecture (docs/rollup.md §6): receiving one county is one run (one partition) that
# takes no run lock, so several counties' runs go side by side, this many at once; the build,
# the one writer of the warehouse, is in the `tuoyu_warehouse` pool of one.
ROLLUP_CONCURRENT_RUNS = 4
PREFECTURE_DAGSTER_YAML = DAGSTER_YAML.replace(
    "    max_concurrent_runs: 1\n",
    f"    max_concurrent_runs: {ROLLUP_CONCURRENT_RUNS}\n  pools:\n    default_limit: 1\n", 1)


def prepare_dagster_home(home: Path, *, prefecture: bool = False) -> Path:
    """Create the folder with the project's dagster.yaml and return it (absolute). The file is
    written when missing or when an earlier one of tuoyu's differs; written whole, then renamed,
    so that a run starting meanwhile never reads half a file. A prefecture's (`prefecture`)
    lets ROLLUP_CONCURRENT_RUNS runs go at once."""
    wanted = PREFECTURE_DAGSTER_YAML if prefecture else DAGSTER_YAML
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    try:
        current = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == wanted or (current is not None and not current.startswith(_MARKERS)):
        return home
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".dagster.yaml.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(wanted)
        os.chmod(tmp, 0o644)  # mkstemp's 0600: nothing secret in it
        os.replace(tmp, config)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return home


@contextmanager
def dagster_instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance of `home` (prepared first), disposed of at the end."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(prepare_dagster_home(home))) as instance:
        yield instance
