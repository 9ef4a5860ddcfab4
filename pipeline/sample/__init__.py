"""Synthetic monthly extracts of a county, written to the file contract with planted defects.

``generate_sample`` writes a whole sample inbox and its manifest; ``generate_test_sample``
is the small, quick one for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipeline.sample.generate import generate_sample
from pipeline.sample.manifest import Defect, FileEntry, SampleManifest

__all__ = ["Defect", "FileEntry", "SampleManifest", "generate_sample", "generate_test_sample"]


def generate_test_sample(
    root: Path,
    reference_folder: Path,
    *,
    start: str = "2023-01",
    end: str = "2023-06",
    scale: int = 1,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> SampleManifest:
    """Six months of extracts in ``root / "inbox"``, manifest at ``root / "sample-manifest.json"``.

    Six months are enough for every file form, every planted rule and every whole-file
    event (missing month, rejected files, revision, unrecognised name).
    """
    root = Path(root)
    return generate_sample(
        root / "inbox",
        reference_folder,
        scale=scale,
        seed=seed,
        start=start,
        end=end,
        progress=progress,
        manifest_path=root / "sample-manifest.json",
    )
