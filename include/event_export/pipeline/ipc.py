"""Files staged between tasks on the worker's disk: Arrow IPC, written and read batch by batch.

A staged file is written once and read once, on the same machine, within one run. Arrow IPC costs
about a fifth of Parquet's encoding to write and next to nothing to read (measured per million
events: 0.5 CPU-s against 3.0), and a reader can take only the columns it needs. Its buffers
are LZ4-compressed where staging is a local folder and ZSTD-compressed on object storage, whose
transfers pay for every byte (`EES_STAGING_COMPRESSION`, settings.py): a realistic day's columns
shrink about 3.4 and 6.5 times. The lake and the files clients receive keep their own formats.

Low-cardinality text columns (the app, site, device, OS, SDK, event type and medium: a few
distinct values a day, lake.LOW_CARDINALITY) come from the lake as dictionaries, for a day of 16 MB
of lake files or more, and are staged as dictionaries, one per column and event file, grown batch
by batch (Arrow IPC's dictionary deltas): 16-bit codes in place of repeated text and its 32-bit
offsets, which LZ4 compresses poorly. Under LZ4 they take about a quarter of the bytes they took
as text (docs/performance.md). `read_staged` yields them as dictionaries; `decoded` spells them
out for a reader that needs text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


# A dictionary column whose values pass this many in one staged file is not low-cardinality
# after all (a lake whose device models are free text, say): the file is rewritten with that
# column as plain text, once, and it stays so, so no file pays for a growing dictionary per batch.
# Below it the codes fit 16 bits (LZ4 stages 16-bit codes in 4% fewer bytes of the day than the
# lake's 32-bit ones, which a file staged plain keeps: casting a small event's codes cost more).
MAX_DICTIONARY = 2**15 - 1
CODES = pa.int16()
COMPACT_ABOVE = 256  # a batch's dictionary longer than this is first cut to the values it uses


class StagedWriter:
    """Writes one staged file batch by batch: `pa.ipc.RecordBatchFileWriter`'s calls, with each
    dictionary column's codes remapped to the file's own dictionary.

    An IPC file holds one dictionary a column, which may grow (a delta appended) but never be
    replaced, while each lake row group, and so each batch that reaches a writer, brings its own.
    The file's dictionary keeps every value in the order first seen; a batch's codes are mapped
    to it through a table of its (small) dictionary's values, so a value is never hashed per row.
    """

    def __init__(self, path: Path, schema: pa.Schema, compress: bool = True):
        self._path = Path(path)
        self._codec = settings.staging_compression() if compress else None
        for i, field in enumerate(schema):  # a plain file keeps the lake's codes: no cast
            if compress and pa.types.is_dictionary(field.type):
                coded = pa.dictionary(CODES, field.type.value_type)
                schema = schema.set(i, field.with_type(coded))
        self._writer = self._open(self._path, schema)
        # column position -> (value -> code, the dictionary as an array, or None before any rows)
        self._dictionaries: dict[int, tuple[dict, pa.Array | None]] = {
            i: ({}, None) for i, field in enumerate(schema) if pa.types.is_dictionary(field.type)
        }

    def _open(self, path: Path, schema: pa.Schema) -> pa.ipc.RecordBatchFileWriter:
        self._schema = schema
        options = pa.ipc.IpcWriteOptions(compression=self._codec, emit_dictionary_deltas=True)
        return pa.ipc.new_file(str(path), schema, options=options)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows and any(pa.types.is_dictionary(f.type) for f in batch.schema):
            batch = self._remapped(batch)
        self._writer.write_batch(batch)

    def write_table(self, table: pa.Table, max_chunksize: int | None = None) -> None:
        for batch in table.to_batches(max_chunksize=max_chunksize):
            self.write_batch(batch)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> StagedWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _remapped(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = batch.columns
        for i in list(self._dictionaries):
            codes, dictionary = self._dictionaries[i]
            column = columns[i]
            seen = len(codes)
            mapping = self._mapping(column, codes)
            if len(codes) > MAX_DICTIONARY:
                self._as_text(i)
                columns[i] = column.dictionary_decode()
                continue
            if mapping is None and len(codes) == len(column.dictionary):
                dictionary = column.dictionary  # the file's, value for value (a first batch)
            elif dictionary is None or len(codes) > seen:
                dictionary = pa.array(list(codes), column.type.value_type)
            self._dictionaries[i] = (codes, dictionary)
            kind = self._schema.field(i).type.index_type
            indices = column.indices
            if mapping is not None:  # not already the file's codes
                indices = mapping.cast(kind).take(indices)  # within CODES: the bound held
            elif indices.type != kind:
                indices = indices.cast(kind)
            columns[i] = pa.DictionaryArray.from_arrays(indices, dictionary)
        for i, field in enumerate(self._schema):  # a column `_as_text` spelled out before
            if pa.types.is_dictionary(columns[i].type) and not pa.types.is_dictionary(field.type):
                columns[i] = columns[i].dictionary_decode()
        return pa.RecordBatch.from_arrays(columns, schema=self._schema)

    @staticmethod
    def _mapping(column: pa.DictionaryArray, codes: dict) -> pa.Array | None:
        """The file's code for each of the column's dictionary positions (None: the same codes),
        adding the values the file has not seen to `codes`.

        A batch cut from a lake row group carries the row group's whole dictionary. Where that is
        large (thousands of device models, say), only the values this batch's rows use go into the
        file's dictionary, so an event's file does not collect every value of every row group."""
        values = column.dictionary
        if len(values) <= COMPACT_ABOVE:
            found = [codes.setdefault(v, len(codes)) for v in values.to_pylist()]
            return None if found == list(range(len(found))) else pa.array(found, pa.int64())
        used = pc.drop_null(pc.unique(column.indices))
        found = [codes.setdefault(v, len(codes)) for v in values.take(used).to_pylist()]
        mapping = np.zeros(len(values), np.int64)  # positions no row uses stay 0, never read
        mapping[used.to_numpy()] = found
        return pa.array(mapping)

    def _as_text(self, i: int) -> None:
        """Rewrite what the file holds with column `i` spelled out, and go on writing so."""
        self._writer.close()
        del self._dictionaries[i]
        field = self._schema.field(i)
        schema = self._schema.set(i, field.with_type(field.type.value_type))
        written = self._path.with_name(self._path.name + ".dictionary")
        self._path.rename(written)
        self._writer = self._open(self._path, schema)
        with pa.OSFile(str(written)) as source:
            reader = pa.ipc.open_file(source)
            for n in range(reader.num_record_batches):
                batch = reader.get_batch(n)
                columns = batch.columns
                columns[i] = columns[i].dictionary_decode()
                self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
        written.unlink()


def open_writer(path: Path, schema: pa.Schema, compress: bool = True) -> StagedWriter:
    """A writer of `path` (buffers compressed as settings.staging_compression says, or plain
    ones without `compress`); closing it closes the file. A reader needs no flag: each batch says
    how its buffers are stored."""
    return StagedWriter(path, schema, compress)


def decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with its dictionary columns spelled out as their values' type."""
    kinds = [f.type for f in batch.schema]
    if not any(pa.types.is_dictionary(kind) for kind in kinds):
        return batch
    columns = [
        column.dictionary_decode() if pa.types.is_dictionary(kind) else column
        for column, kind in zip(batch.columns, kinds, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


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
    if pa.types.is_dictionary(kind):  # its codes, but its dictionary is read with them
        return False
    try:
        return kind.bit_width > 0
    except ValueError:  # variable width: strings, lists, structs
        return False
