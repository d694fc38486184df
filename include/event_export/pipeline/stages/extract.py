"""Extract: read only the run's window and events (or the day's profile snapshot) from the lake
and stage it once: events grouped per event name (see split), a profile snapshot as one file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from event_export.pipeline.lake import (
    LOW_CARDINALITY,
    PROFILE_SCHEMA,
    READ_BATCH_ROWS,
    Window,
    read_profiles,
    read_window,
)
from event_export.pipeline.stages.split import EventPart, split_by_event
from event_export.pipeline.streams import coalesce

PROFILE_ROW_GROUP = 65_536
COALESCE_ROWS = READ_BATCH_ROWS // 4


@dataclass(frozen=True)
class Extracted:
    path: str
    rows: int


def extract(
    lake_uri: str,
    window: Window,
    events: Sequence[str] | None,
    out_dir: Path,
    columns: Sequence[str] | None = None,
    payload_keys: bool = False,
    payload_kinds: bool = False,
) -> list[EventPart]:
    """Stream the window's rows into `out_dir/<key>.arrow` per event (only `columns`, if given);
    memory stays at a few batches per event. Returns the events in name order with row counts
    (and each event's payload keys, with `payload_keys`, or keys with their values' kinds, with
    `payload_kinds`)."""
    # A small day's lake holds a few rows per hour file: cut per event once per COALESCE_ROWS, not
    # once per file, so each event gets a few slices to stage instead of one per hour. A big
    # day's batches pass as they are (no copy, no larger batches in flight).
    read = None  # the lake's columns decoded: what is staged, and what the cut and scans use
    if columns is not None:
        scanned = ["payload"] if payload_keys or payload_kinds else []
        read = list(dict.fromkeys([*columns, "event_name", *scanned]))
    # the low-cardinality columns stay dictionaries from the lake to the staged file
    lake = read_window(lake_uri, window, events, read, dictionaries=LOW_CARDINALITY)
    batches = coalesce(lake, COALESCE_ROWS)
    return split_by_event(batches, out_dir, columns, payload_keys, payload_kinds)


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
