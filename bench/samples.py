"""The benchmark's inputs: sample inboxes at each scale, generated once and cached.

    bench/cache/scale-<N>/sample/                the whole sample, through END
    bench/cache/scale-<N>/sample-manifest.json   its manifest
    bench/cache/scale-<N>/stamp.json             what it was generated from

A cached sample is reused while the stamp matches (scale, seed, months and a hash of the
generator's code); otherwise it is generated again. The months are fixed, so the figures
do not move with the calendar: the backfill reads START..END-1 (61 months), the
incremental run adds END.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.ingest.extracts.files import recognise

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "pipeline" / "sample"
START, END, SEED = "2021-09", "2026-10", 7


def _generator_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(GENERATOR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _stamp(scale: int) -> dict[str, object]:
    return {"scale": scale, "seed": SEED, "start": START, "end": END, "generator": _generator_hash()}


def ensure_sample(cache: Path, scale: int, env: dict[str, str], log) -> Path:
    """The cached sample folder of `scale`, generated first when absent or stale."""
    folder = cache / f"scale-{scale}"
    stamp_path = folder / "stamp.json"
    wanted = _stamp(scale)
    if stamp_path.exists() and json.loads(stamp_path.read_text()) == wanted and (folder / "sample").is_dir():
        return folder / "sample"
    why = "absent" if not folder.exists() else "stale (generator or months changed)"
    log(f"scale {scale}: sample {why}; generating (scale 50 takes about 2 minutes) …")
    partial = cache / f"scale-{scale}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    command = [sys.executable, "-m", "pipeline.commands.cli", "sample", "--out", str(partial / "sample"),
               "--scale", str(scale), "--seed", str(SEED), "--start", START, "--end", END]
    partial.mkdir(parents=True)
    with open(partial / "generate.log", "wb") as output:
        subprocess.run(command, check=True, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    (partial / "stamp.json").write_text(json.dumps(wanted, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder / "sample"


def split_by_month(sample: Path, last: str = END) -> tuple[list[Path], list[Path]]:
    """Relative paths of the sample's files: (before `last`, of `last`). Files whose names
    are not recognised (the sample plants one) belong to the earlier set."""
    before, of_last = [], []
    for path in sorted(p for p in sample.rglob("*") if p.is_file()):
        name = recognise(path.name)
        (of_last if name is not None and name.period == last else before).append(path.relative_to(sample))
    return before, of_last


def link_files(sample: Path, inbox: Path, files: list[Path]) -> None:
    """Put `files` into `inbox` as hard links (same bytes and modification time as the
    cached sample, no copy); a plain copy when the two folders are on different disks."""
    for rel in files:
        target = inbox / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(sample / rel, target)
        except OSError:
            shutil.copy2(sample / rel, target)


def fresh_folder(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
