"""What the GCP export's files must hold, written out in plain Python from docs/file-layouts.md.

The tests read delivered files with independent readers (json, csv, xml.etree, pyarrow.parquet)
and compare each record with what this module derives from the lake row, so the expectation never
goes through the exporter's own Arrow code.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from event_export.generator import generate_hour
from event_export.pipeline.lake import EVENT_SCHEMA

EVENT_SCALARS = [
    ("eventName", "event_name"), ("eventId", "event_id"), ("eventType", "event_type"),
    ("sessionId", "session_id"), ("sid", "sid"), ("msgId", "msg_id"), ("medium", "medium"),
    ("url", "url"), ("purl", "purl"), ("pts", "pts"),
]  # fmt: skip
EVENT_GROUPS = {
    "profile": [("email", "email"), ("phone", "phone")],  # identity comes first, resolved
    "deviceInfo": [
        ("appVersion", "app_version"), ("appId", "app_id"), ("siteId", "site_id"),
        ("model", "model"), ("make", "make"), ("osType", "os_type"),
        ("osVersion", "os_version"), ("sdkVersion", "sdk_version"),
    ],
}  # fmt: skip
PROFILE_FIELDS = [
    ("email", "email"), ("phone", "phone"), ("name", "name"), ("gender", "gender"),
    ("city", "city"), ("country", "country"), ("platform", "platform"),
]  # fmt: skip
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

HOSTILE_EVENT = "add/to\tcart 🛒"
HOSTILE_TEXTS = [
    "bell\x07 and nul\x00 inside",
    "crlf\r\nline",
    "]]> <tag attr='x'> & &amp;",
    'a "quoted", comma',
    "नमस्ते, دنیا, 你好, 😀👍🏽",
    "line\u2028separator",
    "  padded  ",
    "",
    "back\\slash \\n not a newline",
]


def text_of(value: object) -> str | None:
    """A property value as text: strings as they are, JSON spelling otherwise."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ts_text(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y%m%d%H%M%S")


def identity_of(row: dict, priority: tuple[str, ...]) -> str:
    return next((row[c] for c in priority if row[c]), "")


def props_of(text: str | None, as_strings: bool = False) -> dict:
    value = json.loads(text) if text else {}
    props = value if isinstance(value, dict) else {"value": value}
    return {k: text_of(v) for k, v in props.items()} if as_strings else props


def expected_event(row: dict, tz: str, priority=("identity",), as_strings=False) -> dict:
    """The JSON object of one event (absent fields left out), eventName included."""
    record: dict = {"ts": int(ts_text(row["ts"], tz))}
    record.update({n: row[c] for n, c in EVENT_SCALARS if row[c] is not None})
    profile = {"identity": identity_of(row, priority)}
    profile.update({n: row[c] for n, c in EVENT_GROUPS["profile"] if row[c] is not None})
    record["profile"] = profile
    record["deviceInfo"] = {n: row[c] for n, c in EVENT_GROUPS["deviceInfo"] if row[c] is not None}
    record["eventProps"] = props_of(row["payload"], as_strings)
    return record


def expected_profile(row: dict, tz: str, priority=("identity",), as_strings=False) -> dict:
    record: dict = {}
    for name, col in (("firstSeen", "first_seen"), ("lastSeen", "last_seen")):
        if row[col] is not None:
            record[name] = int(ts_text(row[col], tz))
    profile = {"identity": identity_of(row, priority)}
    profile.update({n: row[c] for n, c in PROFILE_FIELDS if row[c] is not None})
    record["profile"] = profile
    record["profileProps"] = props_of(row["properties"], as_strings)
    return record


def as_text_view(record: dict, props_name: str) -> dict:
    """The record as every text format sees it: each value as text, absent ones left out."""
    view: dict = {}
    for key, value in record.items():
        if key == props_name:
            view[key] = {k: text_of(v) for k, v in value.items() if v is not None}
        elif isinstance(value, dict):
            view[key] = {k: text_of(v) for k, v in value.items()}
        else:
            view[key] = text_of(value) if not isinstance(value, int) else str(value)
    return view


def xml_view(record: dict, props_name: str) -> dict:
    """As `as_text_view`, with the characters XML cannot carry replaced by '?'."""

    def clean(value):
        if isinstance(value, dict):
            return {XML_ILLEGAL.sub("?", k): clean(v) for k, v in value.items()}
        return XML_ILLEGAL.sub("?", value)

    return clean(as_text_view(record, props_name))


def read_xml_record(element, props_name: str) -> dict:
    """One <Event>/<Profile> element back into the shape of `xml_view` ('' for empty text)."""
    out: dict = {}
    for child in element:
        if child.tag == props_name:
            out[child.tag] = {(e.findtext("key") or ""): (e.findtext("value") or "") for e in child}
        elif len(child):
            out[child.tag] = {g.tag: g.text or "" for g in child}
        else:
            out[child.tag] = child.text or ""
    return out


def hostile_rows(start: datetime) -> list[dict]:
    """Hand-made events that stress every escaping rule, all of HOSTILE_EVENT."""
    rows = []
    payloads = [
        {"nested": {"a": [1, "b", None], "ü": True}, "list": [1, 2.5, "x"], "big": 2**62},
        {"tiny": 1e-7, "flag": False, "null": None, 'key, with "quotes" <&>': "v"},
        {"mixed": 1, "ключ": "значение", "emoji 🎉": "🛒"},
        {"mixed": "text now", "control\x07key": "bell\x07value"},
        {},
    ]
    for i, text in enumerate(HOSTILE_TEXTS):
        payload = dict(payloads[i % len(payloads)])
        payload["text"] = text
        identities = [(None, None, None), ("", f"e{i}@x.example", None), (None, None, "+91 1")]
        identity, email, phone = identities[i % 3] if i < 6 else (text or None, text, None)
        rows.append(
            {
                **{name: None for name in EVENT_SCHEMA.names},
                "event_name": HOSTILE_EVENT,
                "event_id": f"hostile-{i}",
                "event_type": "web",
                "ts": start + timedelta(minutes=i, milliseconds=999),
                "identity": identity,
                "email": email,
                "phone": phone,
                "url": text,
                "model": text,
                "pts": i,
                "payload": json.dumps(payload, ensure_ascii=False) if i != 4 else None,
            }
        )
    return rows


def staged_event(folder: Path, day: date, rows: int = 1_500) -> Path:
    """One event's staged Parquet file: generated rows of one event, renamed to the hostile
    event name, followed by the hand-made hostile rows."""
    generated = generate_hour(day, 9, rows * 4)
    generated = generated.filter(pc.equal(generated.column("event_name"), "app launched"))
    generated = generated.set_column(
        0, "event_name", pa.array([HOSTILE_EVENT] * generated.num_rows, pa.string())
    )
    start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)
    hostile = pa.Table.from_pylist(hostile_rows(start), schema=EVENT_SCHEMA)
    table = pa.concat_tables([generated, hostile])
    path = folder / "staged.parquet"
    pq.write_table(table, path)
    return path
