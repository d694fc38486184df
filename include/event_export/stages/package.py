"""Package: put the formatted files into their delivery shape and describe them in a manifest.

The daily-zip profile makes one zip per client-day. Entries carry a fixed timestamp and come in
name order, so the same day always gives a byte-identical zip.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: entries never carry the build time
ZIP_LEVEL = 6
COPY_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class DeliveryFile:
    """A file ready to upload, with what the manifest says about it."""

    name: str
    path: str
    size: int
    sha256: str
    rows: int
    events: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def build_zip(members: list[tuple[str, Path]], target: Path, level: int = ZIP_LEVEL) -> None:
    """Write `members` (entry name, file) into a deterministic zip, streaming each file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for entry, source in sorted(members):
            info = zipfile.ZipInfo(entry, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.file_size = source.stat().st_size  # lets zipfile pick zip64 up front when needed
            with source.open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, COPY_BLOCK)
    partial.replace(target)


def describe(path: Path, name: str, rows: int, events: dict[str, int]) -> DeliveryFile:
    return DeliveryFile(name, str(path), path.stat().st_size, sha256_of(path), rows, events)
