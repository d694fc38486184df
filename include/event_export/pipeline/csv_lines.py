"""CSV records from Arrow string columns, quoted only where a reader needs it (`csv_lines.c`).

Why: Arrow's CSV writer quotes every text value (its "needed" style quotes every string), which
cost the daily zip's `format` about 15% of its CPU in `perf`, and 12% more bytes of CSV (9.6%
more deflated) on the bench's realistic day. RFC 4180 needs quotes only around a field that
holds a comma, a quote or a line break; formats/text.py's rule (`csv_field`) also quotes a field
that starts or ends with a blank, for spreadsheets, and the empty string, so that it differs
from an absent value (an empty field).
The C writer applies that rule in one pass over the columns' buffers, for the daily zip's CSV
(`write`, into the deflate stream) and gcp_export's (`lines`, one string per record for the
writer that cuts files at 100 MB). Where the library is not built, the same bytes come from
Arrow's compute kernels (`records_arrow`, `lines_arrow`), several times slower.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from event_export.formats.text import csv_field, csv_field_py
from event_export.pipeline import payload_cells

CHUNK_BYTES = 4 * 1024 * 1024  # records handed to the sink at a time, from a reused buffer
_local = threading.local()


def header(names: list[str]) -> bytes:
    """The header record: each name by the same rule as the values."""
    return (",".join(csv_field_py(name) for name in names) + "\n").encode("utf-8")


def write(sink: BinaryIO, columns: list[pa.Array]) -> int:
    """Write the rows of `columns` (string arrays of one length) to `sink` as CSV records, each
    ended by `\\n`; returns the bytes written. `sink.write` must copy or write what it is given
    before it returns (a file, `deflate.DeflateWriter`): the buffer is reused."""
    if payload_cells.library() is None:
        return sink.write(records_arrow(columns))
    return sum(sink.write(piece) for piece, _, _ in _pieces(columns))


def records(columns: list[pa.Array]) -> bytes:
    """`write`'s bytes, whole."""
    sink = io.BytesIO()
    write(sink, columns)
    return sink.getvalue()


def lines(columns: list[pa.Array]) -> pa.Array:
    """The records as one string per row, each ending in `\\n` (a writer that cuts files at
    record boundaries: formats/chunks.py)."""
    if payload_cells.library() is None:
        return lines_arrow(columns)
    rows = len(columns[0]) if columns else 0
    ends = np.zeros(rows + 1, np.int64)
    text = bytearray()
    for piece, first, stop in _pieces(columns, ends[1:]):
        ends[first + 1 : stop + 1] += len(text)
        text += piece
    return pa.Array.from_buffers(
        pa.large_string(), rows, [None, pa.py_buffer(ends), pa.py_buffer(text)]
    )


def _pieces(
    columns: list[pa.Array], ends: np.ndarray | None = None
) -> Iterator[tuple[memoryview, int, int]]:
    """Whole records from this thread's reused buffer: (their bytes, first row, next row). With
    `ends`, each row's end within its piece goes to ends[row]."""
    lib = payload_cells.library()
    rows = len(columns[0]) if columns else 0
    views = [payload_cells.string_buffers(column) for column in columns]
    places = [
        np.array([v.offsets for v in views], np.uint64),
        np.array([v.data for v in views], np.uint64),
        np.array([v.validity if v.array.null_count else 0 for v in views], np.uint64),
        np.array([v.bit_offset for v in views], np.int64),
    ]
    scratch = np.empty(lib.ees_csv_scratch(len(views)), np.int64)
    following = np.zeros(1, np.int64)
    out, first = _buffer(CHUNK_BYTES), 0
    while first < rows:
        size = lib.ees_csv_lines(
            len(views),
            rows,
            *(a.ctypes.data for a in places),
            first,
            out.ctypes.data,
            len(out),
            scratch.ctypes.data,
            following.ctypes.data,
            ends.ctypes.data if ends is not None else None,
        )
        if size < 0:  # one block of rows is larger than the buffer: a larger one, this once
            out = np.empty(-size, np.uint8)
            continue
        stop = int(following[0])
        yield memoryview(out[:size]), first, stop
        first = stop


def _buffer(size: int) -> np.ndarray:
    """This thread's output buffer: its pages are touched once, not once a batch."""
    held = getattr(_local, "buffer", None)
    if held is None:
        held = _local.buffer = np.empty(size, np.uint8)
    return held


def lines_arrow(columns: list[pa.Array]) -> pa.Array:
    """`lines` from Arrow's kernels alone: the same bytes, for a host without the library."""
    fields = [csv_field(column) for column in columns]
    line = pc.binary_join_element_wise(*fields, ",", null_handling="replace", null_replacement="")
    return pc.binary_join_element_wise(line, "\n", "")


def records_arrow(columns: list[pa.Array]) -> bytes:
    """`records` from Arrow's kernels alone."""
    if not columns or len(columns[0]) == 0:
        return b""
    return b"".join(buffer.to_pybytes() for buffer in _texts(lines_arrow(columns)))


def _texts(lines: pa.Array) -> list[pa.Buffer]:
    """The lines' bytes end to end (a string array's data buffer, sliced to its rows)."""
    offsets = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, 4 * lines.offset)
    data = lines.buffers()[2]
    return [data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))] if data else []
