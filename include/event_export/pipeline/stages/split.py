"""Split by event: one staged file (Arrow IPC) per event name, written as the rows stream by.

`extract` calls it on the lake's batches, so the day is decoded and staged once, already grouped
by event and holding only the columns the naming profile's format reads; the `split_by_event`
task then only hands out the parts (see run.ExportRun.split).

With `payload_keys`, it also collects each event's payload keys as the rows go by (the daily
zip's CSV header needs the whole event's keys before its first row; an event cut over several
`format` tasks would otherwise have each task read the whole event's payloads once more). With
`payload_kinds`, each key's value kinds instead (gcp_export's Parquet types its property columns
from them, formats.records.props_schema).

Collecting the keys parses each row's keys once; with them each row's top-level member count is
staged as one more column (`payload.MEMBERS`, null where the row needs the Python reference), so
`format` skips its own raw-text test and count of each payload (docs/performance.md).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from event_export.pipeline import ipc
from event_export.pipeline.naming import event_label, staging_key
from event_export.pipeline.payload import MEMBERS, keys_by_group, kinds_of
from event_export.pipeline.streams import ordered_map, prefetch

FLUSH_BYTES = 2 * 1024 * 1024  # per event buffer: 40 events x 2 MB at most; readers coalesce
# (4 MB: extract of 10 M realistic events peaked at 929 MB, 2 MB: 849 MB; docs/performance.md)
SORT_THREADS = 2  # batches cut by event at once (Arrow's take releases the GIL)
WRITE_THREADS = 2  # writes go on while this thread cuts the next batches
MAX_IN_FLIGHT = 4  # buffers handed to the writers and not yet written


@dataclass(frozen=True)
class EventPart:
    """One event's staged rows. The raw name may hold anything (NUL, invalid file-name text), so
    XCom gets `to_xcom()`: the staging key and a printable label, never the name itself."""

    event: str
    rows: int
    path: str
    payload_keys: tuple[str, ...] | None = None  # sorted; collected only when asked for
    payload_kinds: dict[str, tuple[str, ...]] | None = None  # key: its values' kinds, sorted

    @property
    def key(self) -> str:
        return staging_key(self.event)

    def to_dict(self) -> dict:
        """Everything, the raw name included: for in-process use (benchmarks), not for XCom."""
        return asdict(self)

    def to_xcom(self) -> dict:
        return {
            "key": self.key,
            "label": event_label(self.event),
            "rows": self.rows,
            "path": self.path,
        }


class _EventWriter:
    """Buffers one event's rows and writes them as record batches, in order, on a shared pool."""

    def __init__(self, path: Path, schema: pa.Schema, pool: ThreadPoolExecutor, slots):
        self.path = path
        self.schema = schema
        self.pool = pool
        self.slots = slots
        self.writer: ipc.StagedWriter | None = None
        self.writing: Future | None = None
        self.pending: list[pa.RecordBatch] = []
        self.pending_bytes = 0
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self.pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self, last: bool = False) -> None:
        """Hand the buffered rows to the pool as one batch (`last`: no rows will follow)."""
        if not self.pending:
            return
        # one record batch per flush: a small event gathers a slice of every lake batch, and each
        # staged batch costs its own compressed buffers to write and to read back
        table = pa.Table.from_batches(self.pending, self.schema).combine_chunks()
        self.pending, self.pending_bytes = [], 0
        self.wait()  # row groups of one file go in order
        self.slots.acquire()
        self.writing = self.pool.submit(self._write, table, last)

    def _write(self, table: pa.Table, last: bool) -> None:
        try:
            if self.writer is None:  # a small event written in one batch is staged plain
                plain = last and table.nbytes < ipc.PLAIN_BELOW
                self.writer = ipc.open_writer(self.path, self.schema, compress=not plain)
            self.writer.write_table(table, max_chunksize=table.num_rows or None)
        finally:
            self.slots.release()

    def wait(self) -> None:
        if self.writing is not None:
            self.writing.result()
            self.writing = None

    def close(self) -> None:
        self.flush(last=True)
        self.wait()
        if self.writer is not None:
            self.writer.close()


def _runs(
    batch: pa.RecordBatch,
    columns: Sequence[str] | None = None,
    encoded: pa.DictionaryArray | None = None,
) -> list[tuple[str, pa.RecordBatch]]:
    """The batch's rows per event name (only `columns`, if given), each a compact copy, in the
    batch's order within an event.

    Sorting the event names' dictionary codes (integers) is cheaper than sorting the names, and
    taking each event's rows separately copies them, so a buffered event holds only its own rows.
    The takes go column by column, every event's rows of one column before the next column: that
    column's buffers stay in the CPU's cache while the events gather their rows from it. Event by
    event (each taking all its columns) took about twice the CPU on a 65,536-row lake batch of 40
    events: every event's pass fetched the whole batch's memory again (docs/performance.md).
    """
    if encoded is None:
        encoded = pc.dictionary_encode(batch.column("event_name"))
    codes = encoded.indices
    order = pc.sort_indices(codes)  # stable: rows keep their order within an event
    counts = np.bincount(codes.to_numpy(), minlength=len(encoded.dictionary)).tolist()
    starts = np.cumsum([0, *counts])[:-1].tolist()
    rows = [order.slice(start, n) for start, n in zip(starts, counts, strict=True)]
    kept = batch.select(list(columns)) if columns is not None else batch
    taken = [[column.take(part) for part in rows] for column in kept.columns]
    return [
        (name, pa.RecordBatch.from_arrays([column[i] for column in taken], schema=kept.schema))
        for i, name in enumerate(encoded.dictionary.to_pylist())
    ]


def _runs_with_keys(
    batch: pa.RecordBatch, columns: Sequence[str] | None = None
) -> list[tuple[str, pa.RecordBatch, list[str]]]:
    """`_runs`, each with the payload keys its rows hold (on the same worker thread; one
    native pass over the whole batch, grouped by event), and the rows' `MEMBERS` column."""
    encoded = pc.dictionary_encode(batch.column("event_name"))
    found, members = keys_by_group(batch.column("payload"), encoded.indices)
    names = encoded.dictionary.to_pylist()
    keys = {names[group]: sorted(k) for group, k in found.items()}
    batch = batch.append_column(MEMBERS, members)
    if columns is not None:
        columns = [*columns, MEMBERS]
    return [(name, part, keys.get(name, [])) for name, part in _runs(batch, columns, encoded)]


def _runs_with_kinds(
    batch: pa.RecordBatch, columns: Sequence[str] | None = None
) -> list[tuple[str, pa.RecordBatch, dict[str, set[str]]]]:
    """`_runs`, each with its payload keys and their values' kinds (payload.kinds_of)."""
    return [
        (name, part, kinds_of([part.column("payload")])) for name, part in _runs(batch, columns)
    ]


def split_by_event(
    batches: Iterable[pa.RecordBatch],
    out_dir: Path,
    columns: Sequence[str] | None = None,
    payload_keys: bool = False,
    payload_kinds: bool = False,
) -> list[EventPart]:
    """Write `out_dir/<key>.arrow` per event (only `columns`, if given); returns the events in
    name order with row counts (and, with `payload_keys`, each event's payload keys; with
    `payload_kinds`, its keys with their values' kinds). Read a part back with
    `ipc.read_staged(path, columns)`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*out_dir.glob("*.parquet"), *out_dir.glob(f"*{ipc.SUFFIX}")]:
        stale.unlink()
    writers: dict[str, _EventWriter] = {}
    keys: dict[str, set[str]] = {}
    kinds: dict[str, dict[str, set[str]]] = {}
    slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
    with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="split-write") as pool:
        try:
            runs = _runs_with_kinds if payload_kinds else _runs_with_keys if payload_keys else _runs
            cut = functools.partial(runs, columns=columns)
            for runs in ordered_map(cut, prefetch(batches), workers=SORT_THREADS, ahead=1):
                for name, part, *found in runs:
                    if name not in writers:
                        path = out_dir / f"{staging_key(name)}{ipc.SUFFIX}"
                        writers[name] = _EventWriter(path, part.schema, pool, slots)
                        keys[name], kinds[name] = set(), {}
                    writers[name].add(part)
                    if found and payload_kinds:
                        for key, seen in found[0].items():
                            kinds[name].setdefault(key, set()).update(seen)
                    elif found:
                        keys[name].update(found[0])
            for writer in writers.values():
                writer.flush(last=True)
        finally:
            for writer in writers.values():
                writer.close()
    return [
        EventPart(
            name,
            w.rows,
            str(w.path),
            tuple(sorted(keys[name])) if payload_keys else None,
            {k: tuple(sorted(v)) for k, v in sorted(kinds[name].items())}
            if payload_kinds
            else None,
        )
        for name, w in sorted(writers.items())
    ]
