"""Two days of events whose payload keys change: the schema contract's corpus (pipeline/schema.py).

Day 1: `add to cart` with `price` and `sku`; a hostile event name (NUL, bidi override) with key
`a`. Day 2: `add to cart` loses `sku` and gains `coupon`; the hostile event gains a key that is
itself hostile (`b` + NUL). The unit tests run it in-process, test_schema_run.py through real DAG
runs, so both see the same changes.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from event_export.generator import generate_hour
from event_export.pipeline.lake import partition_dir

CART = "add to cart"
HOSTILE = "nul\x00\u202eevil"
HOSTILE_KEY = "b\x00"
PAYLOADS = {
    0: {CART: [{"price": 9.5, "sku": "A-1"}, {"price": 3}], HOSTILE: [{"a": 1}]},
    1: {CART: [{"price": 4.25, "coupon": "X"}, {"price": 1}], HOSTILE: [{"a": 2, HOSTILE_KEY: 3}]},
}


def write_schema_days(root: Path, first: date, timezone: str) -> tuple[date, date]:
    """Write the two days (one UTC hour at local noon each) under `root`; returns them."""
    days = (first, first + timedelta(days=1))
    for index, day in enumerate(days):
        rows = [(event, p) for event, ps in PAYLOADS[index].items() for p in ps]
        noon = datetime.combine(day, time(12), ZoneInfo(timezone)).astimezone(UTC)
        hour = noon.replace(minute=0, second=0, microsecond=0)
        table = generate_hour(hour.date(), hour.hour, len(rows))
        table = table.set_column(0, "event_name", pa.array([e for e, _ in rows], pa.string()))
        payloads = pa.array([json.dumps(p) for _, p in rows], pa.string())
        table = table.set_column(table.schema.get_field_index("payload"), "payload", payloads)
        folder = Path(partition_dir(str(root), hour))
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "part-0.parquet")
    return days
