"""Extract: read only the run's window and events (or the day's profile snapshot) from the lake
into one staged Parquet file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from event_export.lake import EVENT_SCHEMA, PROFILE_SCHEMA, Window, read_profiles, read_window

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


def extract_profiles(lake_uri: str, day: date, out_dir: Path) -> Extracted:
    """Stream the profile snapshot of `day` to `out_dir/profiles.parquet`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "profiles.parquet"
    rows = 0
    with pq.ParquetWriter(target, PROFILE_SCHEMA, compression="lz4") as writer:
        for batch in read_profiles(lake_uri, day):
            writer.write_batch(batch, row_group_size=STAGED_ROW_GROUP)
            rows += batch.num_rows
    return Extracted(str(target), rows)
