"""CSV records from Arrow string columns, quoted only where a reader needs it (`csv_lines.c`).

Why: Arrow's CSV writer quotes every text value (its "needed" style quotes every string), which
cost the daily zip's `format` about 15% of its CPU in `perf` and about 12% more bytes to deflate,
send and store. RFC 4180 needs quotes only around a field that holds a comma, a quote or a line
break; formats/text.py's rule (`csv_field`) also quotes a field that starts or ends with a blank,
for spreadsheets, and the empty string, so that it differs from an absent value (an empty field).
The C writer applies that rule in one pass over the columns' buffers. Where the library is not
built, the same bytes come from Arrow's compute kernels (`records_arrow`), about ten times slower.
"""

from __future__ import annotations

import io
import threading
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
    lib = payload_cells.library()
    if lib is None:
        return sink.write(records_arrow(columns))
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
    out, written, first = _buffer(CHUNK_BYTES), 0, 0
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
        )
        if size < 0:  # one block of rows is larger than the buffer: a larger one, this once
            out = np.empty(-size, np.uint8)
            continue
        written += sink.write(memoryview(out[:size]))
        first = int(following[0])
    return written


def records(columns: list[pa.Array]) -> bytes:
    """`write`'s bytes, whole."""
    sink = io.BytesIO()
    write(sink, columns)
    return sink.getvalue()


def _buffer(size: int) -> np.ndarray:
    """This thread's output buffer: its pages are touched once, not once a batch."""
    held = getattr(_local, "buffer", None)
    if held is None:
        held = _local.buffer = np.empty(size, np.uint8)
    return held


def records_arrow(columns: list[pa.Array]) -> bytes:
    """`records` from Arrow's kernels alone: the same bytes, for a host without the library."""
    if not columns or len(columns[0]) == 0:
        return b""
    fields = [csv_field(column) for column in columns]
    line = pc.binary_join_element_wise(*fields, ",", null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(line, "\n", "")
    return b"".join(buffer.to_pybytes() for buffer in _texts(lines))


def _texts(lines: pa.Array) -> list[pa.Buffer]:
    """The lines' bytes end to end (a string array's data buffer, sliced to its rows)."""
    offsets = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, 4 * lines.offset)
    data = lines.buffers()[2]
    return [data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))] if data else []
