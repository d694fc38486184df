"""A deflate stream written as it comes, whose bytes are a function of the data alone.

Why: the daily zip's members are deflated where their CSV is written (each mapped `format`
task), so no uncompressed CSV is staged and `package` only concatenates ready members. ISA-L at
level 2 deflates CSV at about 340 MB/s per core.

Why the bytes cannot vary: the input is cut into fixed 1 MiB blocks, whatever sizes the writer
hands in (a CSV writer's batches, a file's reads), and each block is deflated on its own with the
previous block's last 32 KiB as its dictionary, ending in a sync flush (as pigz does); the blocks
join into one stream in input order, so neither the number of threads nor their timing nor the
read sizes reach the output. A compressor is reset before every block (`isal_deflate_reset`), so
a thread's earlier blocks leave nothing behind. The stream ends with a constant empty final block.
What does reach the output is ISA-L's own code path, chosen per CPU (see docs/file-layouts.md).

Why level 2 and not level 1: inside an export run, ISA-L's level 1 now and then deflates the very
same block, with the same dictionary, one to three bytes longer (another dynamic Huffman header),
so a rerun's zip differed (issue 19.7; CI saw it once). bench/deflate_repeat.py counts it: level
1 in none to about 90 deflations per ten thousand from one trial to the next, levels 2 and 3
in none of tens of thousands (docs/performance.md, "Byte-identical reruns"; on x86 levels 1 and
2 run the same body routine, so what differs is not known). Level 2 costs about 15% more deflate
CPU for a slightly smaller stream.

Pieces: an event cut over several `format` tasks (pipeline/shards.py) is deflated as pieces, each
a stream that ends byte-aligned after its last block's sync flush, only the last one with the
final block (`final=False` for the others). Concatenated in order they are one valid deflate
stream; `join` gives its CRC-32 (the pieces' CRCs combined, as zlib's crc32_combine does) and
sizes. The first block of a piece has no dictionary, so the bytes depend on where the pieces
start: shards are a function of the day's data, so they still depend on the data alone.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from isal import isal_zlib

BLOCK = 1 << 20
WINDOW = 32 * 1024  # deflate's history: the dictionary handed from one block to the next
FINAL_BLOCK = b"\x03\x00"  # an empty final block with fixed codes: the stream's end, always
LEVEL = 2  # ~0.2-0.35 of a CSV's size at ~340 MB/s per core; level 1's bytes vary (above)
THREADS = 2


@dataclass(frozen=True)
class Deflated:
    """A finished deflate stream: what a zip's headers say about its member."""

    crc: int  # CRC-32 of the uncompressed bytes
    size: int  # uncompressed bytes
    compressed: int  # bytes of the deflate stream


class _Compressors:
    """ISA-L block compressors, one per thread (a compressor holds its own buffers)."""

    def __init__(self, level: int):
        self.level = level
        self.local = threading.local()

    def __call__(self, block: bytes, zdict: memoryview) -> tuple[bytes, int]:
        compressor = getattr(self.local, "compressor", None)
        if compressor is None:
            # the output buffer must hold an incompressible block: 10% and a header suffice
            buffer = BLOCK + BLOCK // 10 + 500 if self.level else 2 * BLOCK + 500
            compressor = isal_zlib._ParallelCompress(buffersize=buffer, level=self.level)
            self.local.compressor = compressor
        return compressor.compress_and_crc(block, zdict)


class DeflateWriter:
    """A binary sink: `write` any sizes, `close` returns the stream's `Deflated` facts.

    Blocks are deflated on `threads` threads while the caller goes on producing; at most
    `2 * threads + 1` blocks wait, so memory stays at a few MiB. `out` receives the raw deflate
    stream (no zlib or gzip wrapper) and stays open.
    """

    def __init__(
        self, out: BinaryIO, level: int = LEVEL, threads: int = THREADS, final: bool = True
    ):
        self.out = out
        self.final = final  # False: a piece of a stream, ending at a block boundary
        self.compress = _Compressors(level)
        self.pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="deflate")
        self.depth = 2 * max(1, threads) + 1
        self.pending: deque[tuple[Future, int]] = deque()
        self.buffer = bytearray()
        self.previous = b""
        self.crc = self.size = self.compressed = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        """Whole blocks are cut from `data` itself, one copy each; only a block's first part
        from an earlier write waits in `buffer` (a CSV writer hands in a batch of 20 MB or more
        at once: gathering it whole and cutting blocks off its front moved the rest each time)."""
        view = memoryview(data).cast("B")
        size = len(view)
        if self.buffer:
            room = BLOCK - len(self.buffer)
            self.buffer += view[:room]
            view = view[room:]
            if len(self.buffer) < BLOCK:
                return size
            self._submit(bytes(self.buffer))
            self.buffer = bytearray()
        while len(view) >= BLOCK:
            self._submit(bytes(view[:BLOCK]))
            view = view[BLOCK:]
        self.buffer += view
        return size

    def flush(self) -> None:
        """Nothing to do: a block is deflated only once whole (or at `close`)."""

    def _submit(self, block: bytes) -> None:
        dictionary = memoryview(self.previous)[-WINDOW:]
        self.pending.append((self.pool.submit(self.compress, block, dictionary), len(block)))
        self.size += len(block)
        self.previous = block
        self._drain(self.depth)

    def _drain(self, keep: int) -> None:
        while len(self.pending) > keep:
            future, length = self.pending.popleft()
            data, block_crc = future.result()
            self.out.write(data)
            self.compressed += len(data)
            self.crc = isal_zlib.crc32_combine(self.crc, block_crc, length)

    def close(self) -> Deflated:
        if not self.closed:
            try:
                if self.buffer:
                    self._submit(bytes(self.buffer))
                    self.buffer = bytearray()
                self._drain(0)
                if self.final:
                    self.out.write(FINAL_BLOCK)
                    self.compressed += len(FINAL_BLOCK)
            finally:
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.closed = True
        return Deflated(self.crc, self.size, self.compressed)

    def __enter__(self) -> DeflateWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:  # an error: stop the threads, leave the stream unfinished
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.closed = True
        else:
            self.close()


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from CRC(A), CRC(B) and len(B), as zlib's crc32_combine (ISA-L's)."""
    return isal_zlib.crc32_combine(crc1, crc2, length2)


def join(pieces: Sequence[Deflated]) -> Deflated:
    """The facts of the stream the pieces make when concatenated in order."""
    crc = size = compressed = 0
    for piece in pieces:
        crc = crc32_combine(crc, piece.crc, piece.size)
        size += piece.size
        compressed += piece.compressed
    return Deflated(crc, size, compressed)
