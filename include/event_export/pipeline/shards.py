"""Shards: what one mapped `format` task handles, sized by rows rather than one task per event.

Why: a task instance costs about 2 CPU-s of scheduling and start-up (docs/capacity.md), as much
as formatting tens of thousands of rows. So small events share a shard (a 40-event day of 50 k
rows is one shard), and an event larger than a shard is cut into row ranges over several shards
(a day of 10 M rows still spreads over the workers). The plan is a function of the events' names
(their staging keys' order) and row counts only, so a rerun of a day cuts it the same way and
writes byte-identical files. Each shard carries a printable label for the Airflow grid (its map
index): "3 events: a, b, c" or "purchase rows 0-999,999".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from event_export.pipeline.handoffs import DeliveryDict, Formatted, Part, Shard, UploadBatch
from event_export.settings import shard_rows as configured_shard_rows

MAX_SHARDS = 512  # Airflow maps at most [core] max_map_length (1024) task instances
LABEL_EVENTS = 3  # event names a shard's label spells out
LABEL_CHARS = 200
BATCH_BYTES = 256 * 1024 * 1024  # an upload batch's bytes; a file this large or larger goes alone
BATCH_FILES = 64  # files one upload task delivers at most (one after the other)


def plan_shards(parts: Sequence[Part], shard_rows: int | None = None) -> list[Shard]:
    """The day's parts (events in name order) grouped into shards of about `shard_rows` rows
    (default: EES_SHARD_ROWS, 1,000,000: ~2-8 CPU-s of formatting against ~2 CPU-s per task).

    Small events are packed in the given order while the shard stays within `shard_rows`; an
    event above `shard_rows` is cut into `ceil(rows / shard_rows)` ranges of near-equal size,
    each a shard of its own. An empty day has no shard. Very large days raise the shard size so
    the plan never exceeds MAX_SHARDS.
    """
    total = sum(p["rows"] for p in parts)
    shard_rows = max(1, shard_rows or configured_shard_rows(), math.ceil(total / MAX_SHARDS))
    shards: list[list[Part]] = []
    current: list[Part] = []
    current_rows = 0
    for part in parts:
        if part["rows"] > shard_rows:
            count = math.ceil(part["rows"] / shard_rows)
            shards.extend([piece] for piece in _cut(part, count))
            continue
        if current and current_rows + part["rows"] > shard_rows:
            shards.append(current)
            current, current_rows = [], 0
        current.append(part)
        current_rows += part["rows"]
    if current:
        shards.append(current)
    return [{"label": shard_label(s), "rows": _rows(s), "parts": s} for s in shards]


def _cut(part: Part, count: int) -> list[Part]:
    """`count` consecutive row ranges of the event, sizes differing by one row at most."""
    rows = part["rows"]
    bounds = [rows * i // count for i in range(count + 1)]
    return [
        {**part, "start": bounds[i], "stop": bounds[i + 1], "piece": i, "pieces": count}
        for i in range(count)
    ]


def _rows(parts: Sequence[Part]) -> int:
    return sum(p["stop"] - p["start"] if "start" in p else p["rows"] for p in parts)


def shard_label(parts: Sequence[Part]) -> str:
    """What the grid shows for a shard, built from the parts' printable labels only."""
    if len(parts) == 1 and "start" in parts[0]:
        p = parts[0]
        text = f"{p['label']} rows {p['start']:,}-{p['stop'] - 1:,}"
    else:
        names = ", ".join(p["label"] for p in parts[:LABEL_EVENTS])
        more = "…" if len(parts) > LABEL_EVENTS else ""
        text = f"{len(parts)} event{'s' if len(parts) != 1 else ''}: {names}{more}"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def is_cut(part: Part) -> bool:
    """Whether the part is one row range of an event cut over several shards."""
    return part.get("pieces", 1) > 1


def row_range(part: Part) -> tuple[int, int] | None:
    """The part's rows as [start, stop) within its event's staged file; None: all of them."""
    return (part["start"], part["stop"]) if is_cut(part) else None


def batch_uploads(
    files: Sequence[DeliveryDict], batch_bytes: int | None = None, batch_files: int | None = None
) -> list[UploadBatch]:
    """The delivery's files grouped for the mapped `upload` tasks, in the given order: small
    files together up to `batch_bytes` and `batch_files`, a file of `batch_bytes` or more alone.

    A batch's task uploads its files one after the other in the destination's pool, so a client
    server still sees at most the pool's slots of connections, and every file keeps its own
    temp-name-then-rename and size/checksum check (destinations/).
    """
    batch_bytes = batch_bytes or BATCH_BYTES
    batch_files = batch_files or BATCH_FILES
    batches: list[list[DeliveryDict]] = []
    current: list[DeliveryDict] = []
    size = 0
    for f in files:
        if f["size"] >= batch_bytes:
            batches.append([f])
            continue
        if current and (size + f["size"] > batch_bytes or len(current) >= batch_files):
            batches.append(current)
            current, size = [], 0
        current.append(f)
        size += f["size"]
    if current:
        batches.append(current)
    return [{"label": batch_label(b), "files": b} for b in batches]


def batch_label(files: Sequence[DeliveryDict]) -> str:
    """The grid's name for an upload batch: the file's name, or "3 files: a, b, c…". Delivered
    names are sanitised (naming.py), so they are printable."""
    if len(files) == 1:
        text = files[0]["name"]
    else:
        names = ", ".join(f["name"] for f in files[:LABEL_EVENTS])
        more = "…" if len(files) > LABEL_EVENTS else ""
        text = f"{len(files)} files: {names}{more}"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def joined_pieces(formatted: list[Formatted]) -> dict[str, list[Formatted]]:
    """Each event's formatted pieces in order (one for an event that was not cut), checked
    complete: a missing or doubled piece would make a wrong member, so it fails here."""
    events: dict[str, list[Formatted]] = {}
    for f in formatted:
        events.setdefault(f["key"], []).append(f)
    for key, pieces in events.items():
        pieces.sort(key=lambda p: p.get("piece", 0))
        expected = pieces[0].get("pieces", 1)
        if [p.get("piece", 0) for p in pieces] != list(range(expected)):
            raise ValueError(
                f"event {key}: pieces {[p.get('piece', 0) for p in pieces]} of {expected}"
            )
    return events
