"""Extract: read only the run's window and events from the lake into one staged file (IPC)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from event_export import staged
from event_export.lake import EVENT_SCHEMA, Window, read_window
from event_export.streams import prefetch

EXTRACT_NAME = f"extract{staged.SUFFIX}"


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
    with staged.open_writer(target, EVENT_SCHEMA) as writer:
        for batch in prefetch(read_window(lake_uri, window, events)):
            writer.write_batch(batch)
            rows += batch.num_rows
    return Extracted(str(target), rows)
