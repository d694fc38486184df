"""Extract: read only the run's window and events (or the day's profile snapshot) from the lake
into one staged file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from event_export.pipeline import ipc
from event_export.pipeline.lake import (
    EVENT_SCHEMA,
    PROFILE_SCHEMA,
    Window,
    read_profiles,
    read_window,
)
from event_export.pipeline.streams import prefetch

EXTRACT_NAME = f"extract{ipc.SUFFIX}"
PROFILE_ROW_GROUP = 65_536


@dataclass(frozen=True)
class Extracted:
    path: str
    rows: int


def extract(
    lake_uri: str, window: Window, events: Sequence[str] | None, out_dir: Path
) -> Extracted:
    """Stream the window's rows to `out_dir/extract.arrow`; memory stays at a few batches.

    The lake is read on a second thread while this one writes, so decoding and writing overlap.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / EXTRACT_NAME
    rows = 0
    with ipc.open_writer(target, EVENT_SCHEMA) as writer:
        for batch in prefetch(read_window(lake_uri, window, events)):
            writer.write_batch(batch)
            rows += batch.num_rows
    return Extracted(str(target), rows)


def extract_profiles(lake_uri: str, day: date, out_dir: Path) -> Extracted:
    """Stream the profile snapshot of `day` to `out_dir/profiles.parquet`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "profiles.parquet"
    rows = 0
    with pq.ParquetWriter(target, PROFILE_SCHEMA, compression="lz4") as writer:
        for batch in read_profiles(lake_uri, day):
            writer.write_batch(batch, row_group_size=PROFILE_ROW_GROUP)
            rows += batch.num_rows
    return Extracted(str(target), rows)
