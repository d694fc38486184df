"""A multi-file export to deliver in the destination tests, and the delivery the pipeline does."""

from __future__ import annotations

import json
import random
from pathlib import Path

from event_export.destinations import Destination
from event_export.pipeline.stages.package import describe

# Names as the daily zip's members come out: spaces, non-Latin scripts, several sizes.
EXPORT = {
    "add to cart_01112026.csv": 700_000,
    "खरीदारी पूरी_01112026.csv": 37,
    "app launched_01112026.csv": 2_500_000,
}


def make_file(path: Path, size: int, seed: int = 0) -> Path:
    """`size` incompressible bytes, the same for the same seed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def export_files(folder: Path, sizes: dict[str, int] = EXPORT) -> list[dict]:
    """Files described as the pipeline's package stage describes them (name, path, size, sha256)."""
    return [
        describe(make_file(folder / name, size, seed), name, 0, {}).to_dict()
        for seed, (name, size) in enumerate(sizes.items())
    ]


def deliver(destination: Destination, files: list[dict], staging: Path) -> list[str]:
    """Upload every file, verify them all, and upload the manifest last if nothing is wrong."""
    for f in files:
        destination.upload(Path(f["path"]), f["name"])
    problems = destination.verify_all(files)
    if not problems:
        manifest = staging / "export_01112026.manifest"
        public = [{k: v for k, v in f.items() if k != "path"} for f in files]
        manifest.write_text(json.dumps({"files": public}))
        destination.upload(manifest, manifest.name)
    return problems


def manifest_came_last(listings: list[set[str]], files: list[dict]) -> bool:
    """Whether the manifest showed up, and only in listings that already held every data file."""
    names = {f["name"] for f in files}
    with_manifest = [
        {key.rsplit("/", 1)[-1] for key in seen}
        for seen in listings
        if any(key.endswith(".manifest") for key in seen)
    ]
    return bool(with_manifest) and all(names <= seen for seen in with_manifest)
