"""Format one event's staged rows as the daily-zip CSV, streamed batch by batch.

Columns: the Event Data Scheduler document's fields under its names and in its order, then one
`payload.<key>` column per payload key seen that day for that event, sorted. Timestamps are ISO
8601 in the client's time zone with milliseconds and offset (2026-11-01T10:15:05.123+0530).
A field is quoted (quotes doubled) only when it holds a comma, a quote or a line break, starts
or ends with a blank, or is empty: an absent value is an empty field, an empty string `""`
(pipeline/csv_lines.py).

For the daily zip the CSV is never staged as text: it goes straight into a deflate stream
(`deflate.DeflateWriter`), staged as a ready zip member with its CRC-32 and sizes.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from event_export.formats.text import UTF8_BOM, excel_safe
from event_export.pipeline import csv_lines
from event_export.pipeline.deflate import Deflated, DeflateWriter
from event_export.pipeline.ipc import read_staged, schema_of
from event_export.pipeline.payload import MEMBERS, flatten_column, keys_of
from event_export.pipeline.streams import coalesce, prefetch

# Client-facing column name -> lake column, as listed in the Event Data Scheduler document.
SEED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("appVersion", "app_version"),
    ("appId", "app_id"),
    ("siteId", "site_id"),
    ("model", "model"),
    ("eventId", "event_id"),
    ("eventType", "event_type"),
    ("ts", "ts"),
    ("purl", "purl"),
    ("url", "url"),
    ("pts", "pts"),
    ("sdkVersion", "sdk_version"),
    ("osVersion", "os_version"),
    ("Identity", "identity"),
    ("osType", "os_type"),
    ("Make", "make"),
    ("Medium", "medium"),
    ("msgId", "msg_id"),
    ("sessionId", "session_id"),
    ("sid", "sid"),
)
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # the layout `local_iso` writes (fraction from the unit)
_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
BATCH_ROWS = 65_536
READ_COLUMNS = [lake for _, lake in SEED_COLUMNS] + ["payload"]


@dataclass(frozen=True)
class FormattedFile:
    key: str  # the event's staging key (naming.staging_key): XCom never carries the raw name
    path: str
    rows: int
    size: int  # bytes of CSV text
    deflated: Deflated | None = None  # set when `path` holds the CSV as a deflate stream


def header(payload_keys: list[str]) -> list[str]:
    return [name for name, _ in SEED_COLUMNS] + [f"payload.{k}" for k in payload_keys]


def local_iso(ts: pa.Array, timezone: str) -> pa.Array:
    """`ts` as local ISO 8601 text with its offset, what `strftime(TS_FORMAT)` writes, ~8x faster.

    The local wall time is cast to text in one kernel; the offset (local minus UTC) takes few
    values in a day (two at most around a DST change), so each is spelled once and taken per row.
    """
    unit = ts.type.unit
    local = pc.local_timestamp(ts.cast(pa.timestamp(unit, tz=timezone)))
    text = pc.utf8_replace_slice(local.cast(pa.string()), 10, 11, "T")
    per_minute = 60 * _TICKS_PER_SECOND[unit]
    offsets = pc.dictionary_encode(pc.subtract(local.cast(pa.int64()), ts.cast(pa.int64())))
    spelled = []
    for ticks in offsets.dictionary.to_pylist():
        minutes = abs(ticks) // per_minute
        spelled.append(f"{'-' if ticks < 0 else '+'}{minutes // 60:02d}{minutes % 60:02d}")
    return pc.binary_join_element_wise(
        text, pa.array(spelled, pa.string()).take(offsets.indices), ""
    )


def _as_strings(
    batch: pa.RecordBatch, timezone: str, keys: list[str], excel: bool = False
) -> list[pa.Array]:
    columns = []
    for _, lake_col in SEED_COLUMNS:
        col = batch.column(lake_col)
        if lake_col == "ts":
            col = local_iso(col, timezone)
        columns.append(col.cast(pa.string()))
    members = batch.column(MEMBERS) if MEMBERS in batch.schema.names else None
    columns.extend(flatten_column(batch.column("payload"), keys, members=members))
    return [excel_safe(c) for c in columns] if excel else columns


def payload_keys(staged_path: str) -> list[str]:
    """The pre-pass: every payload key of the event's staged rows, sorted."""
    return keys_of(coalesce(read_staged(staged_path, ["payload"]), BATCH_ROWS))


def format_csv(
    staged_path: str,
    key: str,
    timezone: str,
    target: Path,
    excel: bool = False,
    deflate: bool = False,
    rows: tuple[int, int] | None = None,
    keys: list[str] | None = None,
    first: bool = True,
    last: bool = True,
) -> FormattedFile:
    """Write one event's CSV: a pre-pass collects payload keys, then rows stream to disk.

    With `excel` (the config's `csv_for_excel`), the file starts with a UTF-8 BOM and cells a
    spreadsheet would run as formulas get a leading single quote (see formats.text.excel_safe).
    With `deflate`, `target` receives the CSV as a raw deflate stream (a zip member's data).

    A piece of a cut event (pipeline/shards.py): `rows` = (start, stop) of the staged file, `keys`
    the whole event's payload keys (extract found them once: no pre-pass here), the header (and
    BOM) only in the `first` piece, the deflate stream's final block only in the `last`. Under
    `schema: locked`, `keys` are the lock's columns (pipeline/schema.py).
    """
    if keys is None:
        keys = payload_keys(staged_path)
    names = header(keys)
    target.parent.mkdir(parents=True, exist_ok=True)
    count, deflated = 0, None
    # extract's member counts, when it staged them (a file staged before them has none: the
    # payloads are then tested and counted here)
    staged = schema_of(staged_path).names
    read = [*READ_COLUMNS, MEMBERS] if MEMBERS in staged else READ_COLUMNS
    batches = coalesce(read_staged(staged_path, read, rows), BATCH_ROWS)
    with ExitStack() as stack:
        out = stack.enter_context(target.open("wb"))
        deflater = stack.enter_context(DeflateWriter(out, final=last)) if deflate else None
        sink = deflater if deflater else out
        if excel and first:  # the header's names start `payload.` or are the document's
            sink.write(UTF8_BOM)
        if first:
            sink.write(csv_lines.header(names))
        for batch in prefetch(batches):
            csv_lines.write(sink, _as_strings(batch, timezone, keys, excel))
            count += batch.num_rows
        if deflater is not None:
            deflated = deflater.close()
    size = deflated.size if deflated else target.stat().st_size
    return FormattedFile(key, str(target), count, size, deflated)
