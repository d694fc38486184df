"""Files staged between tasks on the worker's disk: Arrow IPC, written and read batch by batch.

A staged file is written once and read once, on the same machine, within one run. Arrow IPC costs
about a fifth of Parquet's encoding to write and next to nothing to read (measured per million
events: 0.5 CPU-s against 3.0), and a reader can take only the columns it needs. Its buffers
are ZSTD-compressed by default: a day of realistic payloads shrinks about 5 times (LZ4: about 2.7
times, for about 9% less CPU over the daily zip's stages; `EES_STAGING_COMPRESSION`), which
staging on object storage also pays for. The lake and the files clients receive keep their own
formats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from event_export import settings

SUFFIX = ".arrow"
PARQUET_BATCH_ROWS = 65_536

# A file written in one batch of fewer bytes than this is staged plain: Arrow compresses each
# buffer with a ZSTD context of its own, whose set-up (two CPUID instructions, each a trap to
# the hypervisor on a virtual machine) costs more than a small buffer's compression. A 500-row
# batch of format's 20 columns (a 20,000-event day's event): 2.1 ms to write and 1.3 ms to read
# compressed, 0.04 and 0.02 ms plain, for 4.1 times the bytes (docs/performance.md).
PLAIN_BELOW = 1024 * 1024


def open_writer(
    path: Path, schema: pa.Schema, compress: bool = True
) -> pa.ipc.RecordBatchFileWriter:
    """A writer of `path` (buffers compressed as `EES_STAGING_COMPRESSION` says, ZSTD by default,
    or plain ones without `compress`); closing it closes the file. A reader needs no flag: each
    batch says how its buffers are stored."""
    codec = settings.staging_compression() if compress else None
    options = pa.ipc.IpcWriteOptions(compression=codec)
    return pa.ipc.new_file(str(path), schema, options=options)


def schema_of(path: str) -> pa.Schema:
    if path.endswith(".parquet"):
        return pq.ParquetFile(path).schema_arrow
    with pa.OSFile(path) as source:
        return pa.ipc.open_file(source).schema


def first_value(path: str, column: str) -> object:
    """The column's value in the file's first row (None for an empty file): an event's raw name,
    which its staged rows carry and XCom never does."""
    for batch in read_staged(path, [column]):
        if batch.num_rows:
            return batch.column(0)[0].as_py()
    return None


def read_staged(
    path: str, columns: Sequence[str] | None = None, rows: tuple[int, int] | None = None
) -> Iterator[pa.RecordBatch]:
    """The file's batches (only `columns`, if given), read into memory one at a time.

    Reading rather than memory-mapping keeps a task's resident memory at a few batches. A Parquet
    file (one staged by hand or by an older version) is read the same way. `rows` = (start, stop)
    yields only rows [start, stop) (a cut event's range, pipeline/shards.py); batches outside it
    are not decoded: their lengths come from a read of one narrow column (`_batch_rows`).
    """
    if rows is not None:
        yield from _read_range(path, columns, *rows)
        return
    if path.endswith(".parquet"):
        source = pq.ParquetFile(path)
        yield from source.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns)
        return
    with pa.OSFile(path) as source:
        reader = pa.ipc.open_file(source, options=_read_options(source, columns))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def _read_range(
    path: str, columns: Sequence[str] | None, start: int, stop: int
) -> Iterator[pa.RecordBatch]:
    if path.endswith(".parquet"):
        offset = 0
        for batch in read_staged(path, columns):
            low, high = max(start - offset, 0), min(stop - offset, batch.num_rows)
            if high > low:
                yield batch.slice(low, high - low)
            offset += batch.num_rows
            if offset >= stop:
                return
        return
    with pa.OSFile(path) as source:
        sizes = _batch_rows(source)
        reader = pa.ipc.open_file(source, options=_read_options(source, columns))
        offset = 0
        for i, size in enumerate(sizes):
            low, high = max(start - offset, 0), min(stop - offset, size)
            if high > low:
                yield reader.get_batch(i).slice(low, high - low)
            offset += size
            if offset >= stop:
                return


def _batch_rows(source: pa.NativeFile) -> list[int]:
    """Rows in each batch of an open staged file, from one narrow column's buffers.

    A file's footer gives each batch's place, not its length. Arrow reads every field when
    `included_fields` is empty, so asking for "no column" decoded the whole file: 1.88 CPU-s for
    a 251 MB event, paid again by each shard of a cut event (docs/performance.md). The first
    fixed-width column (a timestamp or an integer: a few bytes a row) costs about 0.04.
    """
    schema = pa.ipc.open_file(source).schema
    narrow = [f.name for f in schema if _fixed_width(f.type)][:1] or schema.names[:1]
    reader = pa.ipc.open_file(source, options=_read_options(source, narrow or None))
    return [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]


def _read_options(source: pa.NativeFile, columns: Sequence[str] | None) -> pa.ipc.IpcReadOptions:
    """Read only `columns` (all if None; an empty list would mean all to Arrow, too)."""
    fields = None
    if columns is not None:
        names = pa.ipc.open_file(source).schema.names
        fields = [names.index(c) for c in columns]
    return pa.ipc.IpcReadOptions(included_fields=fields)


def _fixed_width(kind: pa.DataType) -> bool:
    try:
        return kind.bit_width > 0
    except ValueError:  # variable width: strings, lists, structs
        return False
