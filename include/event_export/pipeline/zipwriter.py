"""A deterministic zip assembled from members deflated beforehand (see `deflate`).

Why: each mapped `format` task stages its CSV as a ready deflate stream with its CRC-32 and
sizes, so the zip is headers around those streams: the local headers carry the CRC and sizes
from the start (no patching, no data descriptors), the members are copied as they are, and the
SHA-256 the manifest needs is taken over the bytes as they are written, so the zip is never read
back. Entries carry a fixed timestamp (1980-01-01) and come in the order given; zip64 records
appear only when a size, an offset or the entry count needs them (a member past 4 GB, say).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from event_export.pipeline.deflate import Deflated

COPY_BLOCK = 1 << 20
FULL32, FULL16 = 0xFFFFFFFF, 0xFFFF  # "see the zip64 record" in a 4- or 2-byte field
ZIP64_LIMIT = FULL32  # sizes and offsets from here on need zip64 (tests lower it)
MAX_ENTRIES = FULL16
DOS_TIME, DOS_DATE = 0, (1 << 5) | 1  # 1980-01-01 00:00:00, zip's earliest date
DEFLATED = 8
UTF8_NAME = 0x800
UNIX_FILE = (3 << 8, 0o100644 << 16)  # "made by" Unix, regular file rw-r--r--

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")


@dataclass(frozen=True)
class Member:
    """One entry: its name in the zip, the staged deflate stream and what it holds.

    `path` is one file, or the pieces of a cut event's stream in order (deflate.join gives
    their facts): they are copied one after the other into the entry's data.
    """

    name: str
    path: Path | Sequence[Path]
    deflated: Deflated

    @property
    def paths(self) -> list[Path]:
        return [self.path] if isinstance(self.path, Path) else [Path(p) for p in self.path]


@dataclass(frozen=True)
class _Entry:
    name: bytes
    flags: int
    offset: int
    member: Deflated

    @property
    def zip64(self) -> bool:
        return max(self.member.size, self.member.compressed) >= ZIP64_LIMIT


Piece = bytes | Path  # a run of the zip's bytes: written here, or a member's file copied whole


class _HashingWriter:
    """Writes through to a file and hashes every byte on the way (the zip's SHA-256); `pieces`
    records what the zip is made of (headers written here, members' files copied whole)."""

    def __init__(self, out, pieces: list[Piece] | None = None):
        self.out, self.digest, self.offset = out, hashlib.sha256(), 0
        self.pieces = pieces

    def write(self, data: bytes) -> None:
        self._write(data)
        if self.pieces is not None:
            if self.pieces and isinstance(self.pieces[-1], bytearray):
                self.pieces[-1] += data  # in place: a run grows without being copied again
            else:
                self.pieces.append(bytearray(data))

    def copy(self, path: Path) -> int:
        """Copy the file `path` in; returns its size."""
        copied = 0
        with path.open("rb") as source:
            while block := source.read(COPY_BLOCK):
                self._write(block)
                copied += len(block)
        if self.pieces is not None:
            self.pieces.append(path)
        return copied

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.offset += len(data)


def assemble_zip(members: Sequence[Member], target: Path, pieces: list[Piece] | None = None) -> str:
    """Write `members` into `target` in the order given; returns the zip's SHA-256 (hex).
    `pieces`, when given, receives the zip as runs of bytes and members' files, in order (what
    staging on object storage keeps instead of the zip: `staging.S3Staging.publish_assembled`)."""
    with target.open("wb") as handle:
        out = _HashingWriter(handle, pieces)
        entries = [_write_member(out, m) for m in members]
        _write_central_directory(out, entries)
    if pieces is not None:
        pieces[:] = [bytes(p) if isinstance(p, bytearray) else p for p in pieces]
    return out.digest.hexdigest()


def _encoded(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), UTF8_NAME


def _write_member(out: _HashingWriter, member: Member) -> _Entry:
    encoded, flags = _encoded(member.name)
    entry = _Entry(encoded, flags, out.offset, member.deflated)
    facts = member.deflated
    if entry.zip64:
        extra = struct.pack("<2H2Q", 1, 16, facts.size, facts.compressed)
        sizes, version = (FULL32, FULL32), 45
    else:
        extra, sizes, version = b"", (facts.compressed, facts.size), 20
    header = (version, flags, DEFLATED, DOS_TIME, DOS_DATE, facts.crc, *sizes)
    out.write(_LOCAL.pack(b"PK\x03\x04", *header, len(encoded), len(extra)))
    out.write(encoded + extra)
    copied = sum(out.copy(path) for path in member.paths)
    if copied != facts.compressed:
        raise ValueError(f"{member.path} holds {copied} bytes, {facts.compressed} expected")
    return entry


def _write_central_directory(out: _HashingWriter, entries: list[_Entry]) -> None:
    start = out.offset
    made_by, attributes = UNIX_FILE
    for e in entries:
        wide = [e.member.size, e.member.compressed] if e.zip64 else []
        if e.offset >= ZIP64_LIMIT:
            wide.append(e.offset)
        extra = struct.pack(f"<2H{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
        version = 45 if wide else 20
        out.write(
            _CENTRAL.pack(
                b"PK\x01\x02",
                made_by | version,
                version,
                e.flags,
                DEFLATED,
                DOS_TIME,
                DOS_DATE,
                e.member.crc,
                FULL32 if e.zip64 else e.member.compressed,
                FULL32 if e.zip64 else e.member.size,
                len(e.name),
                len(extra),
                0,
                0,
                0,
                attributes,
                FULL32 if e.offset >= ZIP64_LIMIT else e.offset,
            )
        )
        out.write(e.name + extra)
    end = out.offset
    count, length = len(entries), end - start
    if count >= MAX_ENTRIES or length >= ZIP64_LIMIT or start >= ZIP64_LIMIT:
        out.write(_END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, length, start))
        out.write(_LOCATOR64.pack(b"PK\x06\x07", 0, end, 1))
        count, length, start = FULL16, FULL32, FULL32
    out.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, length, start, 0))
