import csv
import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from event_export.pipeline.lake import EVENT_SCHEMA
from event_export.pipeline.payload import as_text
from event_export.pipeline.stages.csv_format import SEED_COLUMNS, format_csv, header

SEED_ORDER = [
    "appVersion", "appId", "siteId", "model", "eventId", "eventType", "ts", "purl", "url", "pts",
    "sdkVersion", "osVersion", "Identity", "osType", "Make", "Medium", "msgId", "sessionId", "sid",
]  # fmt: skip


def _row(**values):
    base = {name: None for name in EVENT_SCHEMA.names}
    base.update(values)
    return base


def _staged(tmp_path, rows):
    path = tmp_path / "event.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), path)
    return str(path)


def test_header_has_seed_columns_in_seed_order_then_sorted_payload_keys():
    assert [name for name, _ in SEED_COLUMNS] == SEED_ORDER
    assert header(["b", "a"])[-2:] == ["payload.b", "payload.a"]  # caller passes keys sorted


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        ("", ""),
        (None, None),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (59.99, "59.99"),
        ({"k": "ü"}, '{"k":"ü"}'),
        ([1, "a"], '[1,"a"]'),
    ],
)
def test_payload_values_are_spelled_consistently(value, text):
    assert as_text(value) == text


def test_csv_round_trips_hostile_values_through_the_standard_reader(tmp_path):
    ts = datetime(2026, 11, 1, 4, 45, 5, 123000, tzinfo=UTC)
    rows = [
        _row(
            event_name="add to cart",
            event_id="e1",
            ts=ts,
            identity='quote " and, comma',
            url="line1\nline2",
            pts=12,
            payload=json.dumps({"price": 59.99, "नाम": "मोबाइल, 🛒", "ok": True}),
        ),
        _row(event_name="add to cart", event_id="e2", ts=ts, identity="", payload='{"qty": 2}'),
    ]
    done = format_csv(_staged(tmp_path, rows), "add to cart", "Asia/Kolkata", tmp_path / "o.csv")
    assert done.rows == 2
    text = (tmp_path / "o.csv").read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(records[0]) == [
        *SEED_ORDER,
        "payload.ok",
        "payload.price",
        "payload.qty",
        "payload.नाम",
    ]
    first, second = records
    assert first["ts"] == "2026-11-01T10:15:05.123+0530"
    assert first["Identity"] == 'quote " and, comma'
    assert first["url"] == "line1\nline2"
    assert first["pts"] == "12"
    assert first["payload.price"] == "59.99"
    assert first["payload.ok"] == "true"
    assert first["payload.नाम"] == "मोबाइल, 🛒"
    assert first["payload.qty"] == ""
    assert second["payload.qty"] == "2"
    assert second["Identity"] == "" and second["appId"] == ""
    raw_second = text.rstrip("\n").rsplit("\n", 1)[-1]
    assert raw_second.startswith(',,,,"e2",')  # absent values: empty, unquoted
    assert ',"",' in raw_second  # an empty string: quoted
