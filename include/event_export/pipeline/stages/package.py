"""Package: put the formatted files into their delivery shape and describe them in a manifest.

The daily-zip profile makes one zip per client-day from the members the `format` tasks deflated.
Entries carry a fixed timestamp and come in name order, and each deflate stream depends only on
its CSV (see `deflate`), so the same day always gives a byte-identical zip.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from event_export.pipeline.zipwriter import Member, Piece, assemble_zip

COPY_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class DeliveryFile:
    """A file ready to upload, with what the manifest says about it."""

    name: str
    path: str
    size: int
    sha256: str
    rows: int
    events: dict[str, int] = field(default_factory=dict)  # rows per event (staging key in XCom)
    members: dict[str, str] = field(default_factory=dict)  # a zip's: member name -> event key

    def to_dict(self) -> dict:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def build_zip(members: list[Member], target: Path, pieces: list[Piece] | None = None) -> str:
    """Assemble `members` into a deterministic zip, in name order; returns its SHA-256
    (`pieces`: see zipwriter.assemble_zip).

    The zip is written under a temporary name and renamed, so `target` is whole or absent.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    sha256 = assemble_zip(sorted(members, key=lambda m: m.name), partial, pieces)
    partial.replace(target)
    return sha256


def describe(
    path: Path,
    name: str,
    rows: int,
    events: dict[str, int],
    members: dict[str, str] | None = None,
    sha256: str | None = None,
) -> DeliveryFile:
    """The file's facts; `sha256` when it was taken while writing, else read here."""
    size = path.stat().st_size
    digest = sha256 or sha256_of(path)
    return DeliveryFile(name, str(path), size, digest, rows, events, members or {})
