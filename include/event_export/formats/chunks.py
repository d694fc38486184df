"""Cutting a stream of records into files under a size limit, each file valid on its own.

Text records arrive as one Arrow string array per batch, every element a whole record ending in a
newline. The cut points come from the array's offsets (byte positions), and each file's bytes are
written straight from the array's data buffer, so cutting costs no copy and no Python per row.
Each text file's SHA-256 is taken over its bytes as they go to disk (after gzip or zstd), so the
manifest's checksum needs no second read.

Compression is a stream between the records and the file, so nothing is compressed twice or held
whole: gzip through ISA-L (level 1, about 450 MB/s on one core), zstd through Arrow's codec (level
1, its default). Both are deterministic: the gzip header has no time and no staging name, a zstd
frame has neither. The size limit counts the uncompressed text, so where the files are cut does
not depend on the codec (a `.csv.gz` series holds the same rows per file as the `.csv` one) and a
client's tool never unpacks more than the limit from one file.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
from isal import igzip

GZIP_LEVEL = 2  # isal: level 1's bytes vary within a run (pipeline/deflate.py)
ZSTD_LEVEL = 1  # Arrow's default for zstd; fast, and still smaller than gzip -6 on event text
STREAM_CODECS = {"none": "", "gzip": "gz", "zstd": "zst"}  # codec -> extension added to the name


def stream_extension(extension: str, codec: str) -> str:
    """`extension` with the compression stream's own after it (`csv` + zstd: `csv.zst`)."""
    suffix = STREAM_CODECS[codec]
    return f"{extension}.{suffix}" if suffix else extension


@dataclass(frozen=True)
class Chunk:
    """One written file of a series: its staging path, records and size in bytes."""

    path: str
    rows: int
    size: int
    sha256: str | None = None  # taken while writing; None: read the file for it

    def to_dict(self) -> dict:
        return asdict(self)


def chunk_path(out_dir: Path, index: int, extension: str) -> Path:
    return out_dir / f"{index:05d}.{extension}"


def open_output(
    path: Path,
    gzip: bool,
    name: str | None = None,
    digest: hashlib._Hash | None = None,
    codec: str = "none",
) -> BinaryIO:
    """A file to write; with `gzip` (or `codec` gzip), a deterministic gzip stream: no time in
    its header, and as the original file name `name` without `.gz` (the delivered file's own
    name; `gunzip -N` restores it), or none, never the staging file's placeholder name. With
    `codec` zstd, a zstd stream. With `digest`, every byte that reaches the file is hashed."""
    if gzip:
        codec = "gzip"
    if codec not in STREAM_CODECS:
        raise ValueError(f"unknown compression stream {codec!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    raw: BinaryIO = path.open("wb")
    if digest is not None:
        raw = _HashingFile(raw, digest)
    if codec == "gzip":
        return _ClosingGzip(raw, name or "")
    if codec == "zstd":
        return _ClosingZstd(raw)
    return raw


class _HashingFile(io.RawIOBase):
    """Writes through to a file, hashing the bytes on the way."""

    def __init__(self, raw: BinaryIO, digest: hashlib._Hash):
        self.raw, self.digest = raw, digest

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()  # flushes first
            self.raw.close()


class _ClosingGzip(io.RawIOBase):
    """A gzip stream that also closes the file beneath it."""

    def __init__(self, raw: BinaryIO, name: str):
        self.raw = raw
        self.zipped = igzip.GzipFile(
            filename=name, fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0
        )

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self.zipped.write(data)

    def close(self) -> None:
        if not self.closed:
            self.zipped.close()
            self.raw.close()
        super().close()


class _ClosingZstd(io.RawIOBase):
    """A zstd stream (Arrow's codec, one frame per file) that also closes the file beneath it."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.zipped = pa.CompressedOutputStream(pa.PythonFile(raw, mode="w"), "zstd")

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.zipped.write(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.zipped.close()  # flushes the frame's end; closes the file too
            self.raw.close()
        super().close()


class TextChunks:
    """Files of at most `limit` bytes (None: one file), each `header + records + footer`.

    A record larger than the limit on its own still goes out, alone in its file: a record is
    never split. With a compression stream (`gzip`, or `codec`), the limit applies to the
    uncompressed bytes; a chunk's size and SHA-256 are those of the compressed file.
    """

    def __init__(
        self,
        out_dir: Path,
        extension: str,
        header: bytes,
        footer: bytes,
        limit: int | None,
        gzip: bool = False,
        gzip_name: str | None = None,
        codec: str = "none",
    ):
        self.out_dir = out_dir
        self.codec = "gzip" if gzip else codec
        self.extension = stream_extension(extension, self.codec) if not gzip else extension
        self.header = header
        self.footer = footer
        self.limit = limit
        self.gzip = gzip
        self.gzip_name = gzip_name
        self.chunks: list[Chunk] = []
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._digest = hashlib.sha256()
        self._size = 0
        self._rows = 0

    def _open(self) -> None:
        self._path = chunk_path(self.out_dir, len(self.chunks), self.extension)
        self._digest = hashlib.sha256()
        self._file = open_output(self._path, False, self.gzip_name, self._digest, codec=self.codec)
        self._file.write(self.header)
        self._size, self._rows = len(self.header), 0

    def _close_file(self) -> None:
        assert self._file is not None and self._path is not None
        self._file.write(self.footer)
        self._file.close()
        self._file = None
        size = self._path.stat().st_size
        self.chunks.append(Chunk(str(self._path), self._rows, size, self._digest.hexdigest()))

    def write(self, records: pa.Array) -> None:
        if records.null_count:
            raise ValueError("a record cannot be null")
        if not len(records):
            return
        wide = pa.types.is_large_string(records.type)
        offsets = np.frombuffer(records.buffers()[1], dtype=np.int64 if wide else np.int32)
        offsets = offsets[records.offset : records.offset + len(records) + 1].astype(np.int64)
        data = memoryview(records.buffers()[2])
        start, count = 0, len(records)
        while start < count:
            if self._file is None:
                self._open()
            if self.limit is None:
                stop = count
            else:
                room = self.limit - self._size - len(self.footer)
                fit = int(np.searchsorted(offsets[start + 1 :], offsets[start] + room, "right"))
                if fit == 0 and self._rows:
                    self._close_file()
                    continue
                stop = start + max(fit, 1)
            assert self._file is not None
            self._file.write(data[offsets[start] : offsets[stop]])
            self._size += int(offsets[stop] - offsets[start])
            self._rows += stop - start
            if stop < count:  # the file is full
                self._close_file()
            start = stop

    def close(self) -> list[Chunk]:
        """Finish the last file; a series always has at least one (an empty document)."""
        if self._file is None and not self.chunks:
            self._open()
        if self._file is not None:
            self._close_file()
        return self.chunks
