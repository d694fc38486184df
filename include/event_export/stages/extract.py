"""Extract: read only the run's window and events from the lake into one staged Parquet file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from event_export.lake import EVENT_SCHEMA, Window, read_window

STAGED_ROW_GROUP = 65_536


@dataclass(frozen=True)
class Extracted:
    path: str
    rows: int


def extract(
    lake_uri: str, window: Window, events: Sequence[str] | None, out_dir: Path
) -> Extracted:
    """Stream the window's rows to `out_dir/extract.parquet`; memory stays at one batch."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "extract.parquet"
    rows = 0
    with pq.ParquetWriter(target, EVENT_SCHEMA, compression="lz4") as writer:
        for batch in read_window(lake_uri, window, events):
            writer.write_batch(batch, row_group_size=STAGED_ROW_GROUP)
            rows += batch.num_rows
    return Extracted(str(target), rows)
