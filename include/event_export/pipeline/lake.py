"""The event lake: Parquet files partitioned by UTC date and hour, and a streaming reader.

Layout: ``<root>/events/date=YYYY-MM-DD/hour=HH/*.parquet``. The payload is JSON text so each
value keeps its original type (string, number, boolean, nested) whatever keys an event carries.
User profiles are a daily snapshot beside the events: ``<root>/profiles/date=YYYY-MM-DD/*.parquet``
holds every profile as it stood at the end of that day, custom properties as JSON text.

A root without its ``events/`` folder is an error (`LakeNotFoundError`), never an empty day: a
mistyped `source` or an unmounted lake would otherwise deliver empty files every day with every
check passing. A day whose hour folders are missing under an existing ``events/`` is empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from event_export.scheduling.windows import Window

EVENTS_TABLE = "events"
PROFILES_TABLE = "profiles"

# Lake column -> type. Names follow the platform's own fields; profiles rename them for clients.
EVENT_SCHEMA = pa.schema(
    [
        ("event_name", pa.string()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("app_version", pa.string()),
        ("app_id", pa.string()),
        ("site_id", pa.string()),
        ("model", pa.string()),
        ("purl", pa.string()),
        ("url", pa.string()),
        ("pts", pa.int32()),
        ("sdk_version", pa.string()),
        ("os_version", pa.string()),
        ("identity", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("os_type", pa.string()),
        ("make", pa.string()),
        ("medium", pa.string()),
        ("msg_id", pa.string()),
        ("session_id", pa.string()),
        ("sid", pa.string()),
        ("payload", pa.string()),
    ]
)

# The profile snapshot: identifiers, the standard profile fields, custom properties as JSON text.
PROFILE_SCHEMA = pa.schema(
    [
        ("identity", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("name", pa.string()),
        ("gender", pa.string()),
        ("city", pa.string()),
        ("country", pa.string()),
        ("platform", pa.string()),
        ("first_seen", pa.timestamp("ms", tz="UTC")),
        ("last_seen", pa.timestamp("ms", tz="UTC")),
        ("properties", pa.string()),
    ]
)

READ_BATCH_ROWS = 65_536

# Columns with few distinct values in a day (the app, site, device, OS, SDK, event type and
# medium). Extract reads them as dictionaries: the rows are cut per event as integer codes, and
# staged with one dictionary per event file (pipeline/ipc.py).
LOW_CARDINALITY = (
    "event_type",
    "app_version",
    "app_id",
    "site_id",
    "model",
    "sdk_version",
    "os_version",
    "os_type",
    "make",
    "medium",
)
# A smaller window reads them as text. Its events are staged plain (under ipc.PLAIN_BELOW), where
# codes save few bytes, and its lake is many small row groups, each with dictionaries to read and
# unify: extract of a 5,000-event day took 0.15-0.19 CPU-s with them against 0.11-0.12 without.
DICTIONARIES_FROM_BYTES = 16 * 1024 * 1024  # about 200,000 events of the bench's realistic lake


class LakeNotFoundError(FileNotFoundError):
    """The export's lake has no events folder: a wrong `source` (or EES_LAKE_URI), or a lake that
    is not there. Ours to fix, not the client's; retrying does not bring the folder back."""

    def __init__(self, root: str):
        shown = shown_uri(root)
        super().__init__(
            f"no event lake at {shown}: its {EVENTS_TABLE}/ folder does not exist. Check the "
            "export's `source` (or EES_LAKE_URI); a lake holds that folder even on a day "
            "without events."
        )


def shown_uri(uri: str) -> str:
    """`uri` fit for a log or an alert: no user or password, no query (pyarrow takes keys
    there)."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def partition_dir(root: str, hour: datetime) -> str:
    return f"{root.rstrip('/')}/{EVENTS_TABLE}/date={hour:%Y-%m-%d}/hour={hour:%H}"


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """A filesystem and path for a local path or any URI pyarrow understands (s3://, gs://)."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), uri
    return pafs.FileSystem.from_uri(uri)


def partition_files(root: str, window: Window) -> Iterator[tuple[pafs.FileSystem, str]]:
    """Parquet files of the hour partitions that overlap the window, in order."""
    fs, infos = _window_files(root, window)
    for info in infos:
        yield fs, info.path


def has_events(root: str) -> bool:
    """Whether `root` is a lake: it holds the events folder, even on a day without events."""
    fs, base = resolve(root)
    return fs.get_file_info(f"{base.rstrip('/')}/{EVENTS_TABLE}").type == pafs.FileType.Directory


def _window_files(root: str, window: Window) -> tuple[pafs.FileSystem, list[pafs.FileInfo]]:
    if not has_events(root):
        raise LakeNotFoundError(root)
    fs, base = resolve(root)
    found = []
    for hour in window.hours():
        selector = pafs.FileSelector(partition_dir(base, hour), allow_not_found=True)
        infos = [i for i in fs.get_file_info(selector) if i.path.endswith(".parquet")]
        found.extend(sorted(infos, key=lambda i: i.path))
    return fs, found


def _row_filter(batch: pa.RecordBatch, window: Window, events: Sequence[str] | None):
    ts = batch.column("ts")
    mask = pc.and_(
        pc.greater_equal(ts, pa.scalar(window.start, ts.type)),
        pc.less(ts, pa.scalar(window.end, ts.type)),
    )
    if events:
        mask = pc.and_(mask, pc.is_in(batch.column("event_name"), pa.array(list(events))))
    return mask


def _named(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with a row that has no event name (null) named "" instead: it is delivered with
    the empty name's events (file name `-`), counted and validated like them, where a null stopped
    the run for the whole client day (it cannot be grouped, named or sorted with the names)."""
    names = batch.column("event_name")
    if not names.null_count:
        return batch
    at = batch.schema.get_field_index("event_name")
    return batch.set_column(at, batch.schema.field(at), pc.fill_null(names, ""))


def read_window(
    root: str,
    window: Window,
    events: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    batch_rows: int = READ_BATCH_ROWS,
    dictionaries: Sequence[str] = (),
) -> Iterator[pa.RecordBatch]:
    """Stream the lake's rows inside the window (and of the given events), batch by batch;
    the columns named in `dictionaries` come as dictionary arrays (each batch its own) where the
    window's files hold DICTIONARIES_FROM_BYTES or more."""
    wanted = list(columns) if columns else EVENT_SCHEMA.names
    read_cols = list(dict.fromkeys([*wanted, "ts", "event_name"]))
    fs, files = _window_files(root, window)
    if sum(f.size or 0 for f in files) < DICTIONARIES_FROM_BYTES:
        dictionaries = ()
    as_dictionaries = [c for c in dictionaries if c in wanted and c != "event_name"] or None
    for info in files:
        with fs.open_input_file(info.path) as handle:
            parquet = pq.ParquetFile(handle, read_dictionary=as_dictionaries)
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=read_cols):
                batch = _named(batch)
                mask = _row_filter(batch, window, events)
                # a batch wholly inside the window (every hour file of a day but the edges) passes
                # as decoded: `filter` copies every column even when it keeps every row
                kept = batch if mask.true_count == batch.num_rows else batch.filter(mask)
                if kept.num_rows:
                    yield kept.select(wanted)


def count_window(root: str, window: Window, events: Sequence[str] | None = None) -> dict[str, int]:
    """Rows per event name inside the window: the reference the delivery is validated against."""
    counts: dict[str, int] = {}
    for batch in read_window(root, window, events, columns=["event_name"]):
        vc = pc.value_counts(batch.column("event_name"))
        for name, n in zip(
            vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
        ):
            counts[name] = counts.get(name, 0) + n
    return dict(sorted(counts.items()))


def profiles_dir(root: str, day: date) -> str:
    return f"{root.rstrip('/')}/{PROFILES_TABLE}/date={day:%Y-%m-%d}"


def _profile_files(root: str, day: date) -> list[tuple[pafs.FileSystem, str]]:
    fs, base = resolve(root)
    folder = profiles_dir(base, day)
    selector = pafs.FileSelector(folder, allow_not_found=True)
    paths = sorted(i.path for i in fs.get_file_info(selector) if i.path.endswith(".parquet"))
    if not paths:
        raise FileNotFoundError(f"no profile snapshot for {day} under {folder}")
    return [(fs, path) for path in paths]


def read_profiles(
    root: str, day: date, batch_rows: int = READ_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Stream the profile snapshot of one day. A missing snapshot is an error, never 0 profiles."""
    for fs, path in _profile_files(root, day):
        with fs.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            for batch in parquet.iter_batches(batch_size=batch_rows):
                if batch.num_rows:
                    yield batch.select(PROFILE_SCHEMA.names)


def count_profiles(root: str, day: date) -> int:
    """Profiles in a day's snapshot (from the footers): what a profile export must deliver."""
    total = 0
    for fs, path in _profile_files(root, day):
        with fs.open_input_file(path) as handle:
            total += pq.ParquetFile(handle).metadata.num_rows
    return total
