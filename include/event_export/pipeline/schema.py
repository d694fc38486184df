"""The schema contract: each delivery's columns per event, their fingerprint, what changed since
the previous delivery, and the lock of `schema: locked`.

Why this shape:
- The columns are recorded where the writers fix them (each profile's `format`, after its key
  pre-pass and before the first row), so the contract costs no extra pass over the data: one
  small JSON file per event in the run's staging, read back by `validate` for the manifest.
- Locking is a filter on the key list a writer gets (`apply_lock`), not a second code path: the
  writer writes the locked keys, the day's other keys are dropped and counted, locked keys the
  day lacks stay as empty columns.
- Changes compare what the data *offered* (the columns evolve mode would deliver) with the
  previous delivery's offer, so a locked export still reports a key that appeared or vanished.
- The previous delivery's schema is Airflow's own metadata (the `validate` task's XCom, see
  orchestration/schema_state.py), read once by `extract` and staged for the run's tasks, so every
  task of a run compares with the same delivery. Raw event names and keys may hold NUL or bidi
  characters: in XCom they travel only inside `pack`'s ASCII text, in summaries only as
  `naming.event_label` spellings; the manifest (a file) carries them raw, as it does elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from event_export.pipeline.naming import event_label

BASE_FILE = "schema-base.json"  # in the run's extract folder: the previous delivery's record
EVENT_FILE = "columns.json"  # in each event's format folder: its EventColumns
XCOM_KEY = "schema"  # validate's XCom with the delivery's record (orchestration/schema_state)


@dataclass(frozen=True)
class Lock:
    """One event's payload keys after the lock: what its files get, what was left out."""

    keys: list[str]  # the keys written, sorted
    dropped: list[str] = field(default_factory=list)  # the day's keys not written (locked)
    empty: list[str] = field(default_factory=list)  # locked keys the day lacks: empty columns


def apply_lock(keys: Iterable[str], locked: Sequence[str] | None) -> Lock:
    """The keys a writer gets: all of the day's (no lock: evolve mode, or an event's first
    delivery), else exactly the locked ones."""
    seen = sorted(set(keys))
    if locked is None:
        return Lock(seen)
    keep = set(locked)
    return Lock(
        sorted(keep),
        [k for k in seen if k not in keep],
        sorted(keep.difference(seen)),
    )


@dataclass(frozen=True)
class EventColumns:
    """What `format` records for one event: the delivered columns (file order), the columns the
    day offered (what evolve mode delivers) and the delivered payload keys (the lock's unit)."""

    columns: list[str]
    offered: list[str]
    keys: list[str]

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> EventColumns:
        return cls(**json.loads(text))


def event_columns(header: Sequence[str], offered: Sequence[str], lock: Lock) -> EventColumns:
    return EventColumns(list(header), list(offered), lock.keys)


def fingerprint(columns: dict[str, Sequence[str]]) -> str:
    """SHA-256 over the canonical JSON of the sorted columns per event (raw names; keys sorted,
    no blanks, non-ASCII escaped): the same columns give the same fingerprint in any order."""
    canonical = {event: sorted(cols) for event, cols in columns.items()}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Base:
    """The previous delivery's schema, as its record kept it."""

    period: str
    request_id: str
    fingerprint: str
    offered: dict[str, list[str]]  # raw event name -> the columns its data offered
    locked: dict[str, list[str]]  # raw event name -> locked payload keys (schema: locked)

    def lock_for(self, event: str) -> list[str] | None:
        """The locked keys of this raw event name (None: not locked yet)."""
        return self.locked.get(event)


def compare(offered: dict[str, Sequence[str]], base: Base | None) -> dict[str, Any]:
    """New and vanished columns per event present in both deliveries, and the events that came
    or went; against no base (the first delivery) nothing changed, and a delivery without events
    lists nothing either (it has no columns to compare; it is no base, see Delivery.record)."""
    nothing: dict[str, Any] = {"columns": {}, "new_events": [], "vanished_events": []}
    if base is None:
        return {"compared_with": None, **nothing}
    head = {"period": base.period, "request_id": base.request_id, "fingerprint": base.fingerprint}
    if not offered:
        return {"compared_with": head, **nothing}
    changed = {}
    for event in sorted(set(offered) & set(base.offered)):
        now, before = set(offered[event]), set(base.offered[event])
        if now != before:
            changed[event] = {"new": sorted(now - before), "vanished": sorted(before - now)}
    return {
        "compared_with": head,
        "columns": changed,
        "new_events": sorted(set(offered) - set(base.offered)),
        "vanished_events": sorted(set(base.offered) - set(offered)),
    }


def pack(data: dict) -> str:
    """Raw names as ASCII text for XCom: JSON with every non-ASCII character escaped (no NUL can
    reach PostgreSQL), deflated and base64-encoded (the fixed columns repeat per event)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return base64.b64encode(zlib.compress(text.encode(), 6)).decode("ascii")


def unpack(text: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(text)))


@dataclass(frozen=True)
class Delivery:
    """One delivery's schema: its columns, offer, drops and changes; the manifest's `schema` and
    `schema_changes`, the summary's labelled view, and the record the next delivery reads."""

    mode: str  # evolve | locked
    events: dict[str, EventColumns]  # raw event name -> its columns
    base: Base | None

    @property
    def columns(self) -> dict[str, list[str]]:
        return {e: c.columns for e, c in sorted(self.events.items())}

    @property
    def offered(self) -> dict[str, list[str]]:
        return {e: c.offered for e, c in sorted(self.events.items())}

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.columns)

    @property
    def dropped(self) -> dict[str, list[str]]:
        out = {}
        for event, c in sorted(self.events.items()):
            if gone := sorted(set(c.offered) - set(c.columns)):
                out[event] = gone
        return out

    @property
    def empty(self) -> dict[str, list[str]]:
        out = {}
        for event, c in sorted(self.events.items()):
            if blank := sorted(set(c.columns) - set(c.offered)):
                out[event] = blank
        return out

    @property
    def changes(self) -> dict[str, Any]:
        return compare(self.offered, self.base)

    @property
    def changed(self) -> bool:
        """What sends `schema_changed`: a column came or went in an event of both deliveries."""
        return bool(self.changes["columns"])

    def manifest_fields(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "mode": self.mode,
            "fingerprint": self.fingerprint,
            "columns": self.columns,
        }
        if self.mode == "locked":
            schema["dropped"] = self.dropped
            schema["empty"] = self.empty
        return {"schema": schema, "schema_changes": self.changes}

    def summary(self) -> dict[str, Any]:
        """For XCom, the Exports page and notifications: printable labels, never a raw name."""
        changes = self.changes
        return {
            "schema_fingerprint": self.fingerprint,
            "schema_changed": self.changed,
            "schema_changes": {
                "compared_with": changes["compared_with"],
                "columns": {
                    event_label(e): {k: [event_label(c) for c in v] for k, v in diff.items()}
                    for e, diff in changes["columns"].items()
                },
                "new_events": [event_label(e) for e in changes["new_events"]],
                "vanished_events": [event_label(e) for e in changes["vanished_events"]],
                "dropped": {event_label(e): len(cols) for e, cols in self.dropped.items()},
            },
        }

    def record(self, period: str, request_id: str, run_id: str | None = None) -> dict[str, Any]:
        """What the next delivery compares with (validate's XCom `schema`): the offer, and the
        locks carried forward (an event locks at its first locked delivery); with this run's
        own base, so a rerun of this run compares with the same delivery again.

        A delivery without events (an empty day) is no base: it records the delivery it compared
        with again, so the next delivery compares with the last one that had events (rather
        than listing every event as new); before any delivery with events, a record without
        one (`base_of` gives None)."""
        if not self.events:
            return {
                "run_id": run_id,
                **(base_record(self.base) or {}),
                "base": base_record(self.base),
            }
        locked: dict[str, list[str]] = {}
        if self.mode == "locked":
            locked = dict(self.base.locked) if self.base else {}
            for event, c in self.events.items():
                locked.setdefault(event, c.keys)
        return {
            "run_id": run_id,
            **_record_head(period, request_id, self.fingerprint),
            "data": pack({"offered": self.offered, "locked": locked}),
            "base": base_record(self.base),
        }


def _record_head(period: str, request_id: str, fingerprint_: str) -> dict[str, str]:
    return {"period": period, "request_id": request_id, "fingerprint": fingerprint_}


def base_record(base: Base | None) -> dict[str, Any] | None:
    if base is None:
        return None
    data = pack({"offered": base.offered, "locked": base.locked})
    return {**_record_head(base.period, base.request_id, base.fingerprint), "data": data}


def base_of(record: dict | None, run_id: str | None = None) -> Base | None:
    """The base a run compares with, from the latest earlier record Airflow returned: that
    delivery, or, when the record is this run's own (a rerun before its XCom was cleared), the
    base that run compared with."""
    if not record:
        return None
    if run_id is not None and record.get("run_id") == run_id:
        return base_of(record.get("base"))
    if "data" not in record:  # empty deliveries only so far (Delivery.record)
        return None
    data = unpack(record["data"])
    head = (record["period"], record["request_id"], record["fingerprint"])
    return Base(*head, data["offered"], data["locked"])


def base_to_json(base: Base | None) -> str:
    """The staged copy `extract` writes for the run's tasks (ASCII JSON, any name)."""
    return json.dumps(base.__dict__ if base else None, ensure_ascii=True)


def base_from_json(text: str) -> Base | None:
    data = json.loads(text)
    return Base(**data) if data else None
