"""Split by event: one staged Parquet file per event name, written as the extract streams by."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from event_export.naming import staging_key

FLUSH_BYTES = 8 * 1024 * 1024  # per event buffer; bounds memory at about 40 x 8 MB


@dataclass(frozen=True)
class EventPart:
    """One event's staged rows. Small enough for XCom (plain strings and ints)."""

    event: str
    rows: int
    path: str

    def to_dict(self) -> dict:
        return asdict(self)


class _EventWriter:
    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        self.schema = schema
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.RecordBatch] = []
        self.pending_bytes = 0
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self.pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="lz4")
        self.writer.write_table(pa.Table.from_batches(self.pending, self.schema))
        self.pending, self.pending_bytes = [], 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


def _runs(batch: pa.RecordBatch) -> list[tuple[str, pa.RecordBatch]]:
    """The batch sorted by event name, cut into one slice per event."""
    ordered = batch.take(pc.sort_indices(batch.column("event_name")))
    counts = pc.value_counts(ordered.column("event_name"))
    out, offset = [], 0
    for name, n in zip(
        counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
    ):
        out.append((name, ordered.slice(offset, n)))
        offset += n
    return out


def split_by_event(extract_path: str, out_dir: Path, batch_rows: int = 65_536) -> list[EventPart]:
    """Write `out_dir/<key>.parquet` per event; returns the events in name order with row counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.parquet"):
        stale.unlink()
    source = pq.ParquetFile(extract_path)
    writers: dict[str, _EventWriter] = {}
    for batch in source.iter_batches(batch_size=batch_rows):
        for name, part in _runs(batch):
            if name not in writers:
                writers[name] = _EventWriter(out_dir / f"{staging_key(name)}.parquet", batch.schema)
            writers[name].add(part)
    for writer in writers.values():
        writer.close()
    return [EventPart(name, w.rows, str(w.path)) for name, w in sorted(writers.items())]
