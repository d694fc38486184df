import csv
import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from event_export.pipeline import ipc, payload, payload_cells, payload_native
from event_export.pipeline.lake import EVENT_SCHEMA
from event_export.pipeline.payload import MEMBERS, as_text
from event_export.pipeline.stages.csv_format import READ_COLUMNS, SEED_COLUMNS, format_csv, header
from event_export.pipeline.stages.split import split_by_event
from payload_corpus import HOSTILE, ORDINARY

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
    raw_header, raw_first = text.split("\n", 1)  # the first record, and the second after it
    assert raw_header.startswith("appVersion,appId,siteId,")  # names need no quotes
    assert raw_first.startswith(",,,,e1,,2026-11-01T10:15:05.123+0530,,")  # quoted only if needed
    assert ',"quote "" and, comma",' in raw_first  # a comma or quote: quoted, quotes doubled
    assert ',"line1\nline2",' in raw_first and ',"मोबाइल, 🛒"' in raw_first
    assert ",12," in raw_first and ",59.99," in raw_first and ",true," in raw_first
    raw_second = text.rstrip("\n").rsplit("\n", 1)[-1]
    assert raw_second.startswith(",,,,e2,,")  # absent values: empty, unquoted
    assert ',"",' in raw_second  # an empty string: quoted


def _spelled(text: str) -> bool:
    """Whether the Python reference spells the payload as UTF-8 (a text it refuses, or a lone
    surrogate it decodes, fails its batch)."""
    try:
        [(as_text(v) or "").encode() for v in payload.parse(text).values()]
    except Exception:
        return False
    return True


def test_a_file_staged_without_member_counts_formats_the_same_bytes(tmp_path, monkeypatch):
    """Extract stages each row's payload member count (payload.MEMBERS) for format's DuckDB
    reader; a file staged without it (by the version before, say a run in flight during a
    deploy) is formatted with format's own tests, to the same bytes, which are the Python
    reference's. The scanner, which needs no count, writes those bytes from either file too."""
    monkeypatch.setattr(payload_cells, "available", lambda: False)
    texts = [t for t in [*HOSTILE, *ORDINARY] if _spelled(t)]
    assert len(texts) > 60
    ts = datetime(2026, 11, 1, 4, 45, 5, 123000, tzinfo=UTC)
    rows = [
        _row(event_name="buy", event_id=f"e{i}", ts=ts, payload=texts[i % len(texts)])
        for i in range(1_200)  # over payload._NATIVE_MIN_ROWS: native code on both sides
    ]
    batch = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA).combine_chunks().to_batches()[0]
    (part,) = split_by_event([batch], tmp_path / "new", READ_COLUMNS, payload_keys=True)
    staged = pa.Table.from_batches(list(ipc.read_staged(part.path)))
    assert staged.column_names == [*READ_COLUMNS, MEMBERS]
    assert staged.column(MEMBERS).null_count < 0.5 * len(rows)  # hostile rows are null
    old = tmp_path / "old.arrow"  # what extract staged before the counts
    with ipc.open_writer(old, staged.drop_columns([MEMBERS]).schema) as writer:
        writer.write_table(staged.drop_columns([MEMBERS]), max_chunksize=500)
    keys = list(part.payload_keys)
    assert "" in keys  # the corpus has an empty key, which sets every batch aside: not here
    keys.remove("")
    tested = []
    own_tests = payload_native._suspect_texts
    monkeypatch.setattr(
        payload_native, "_suspect_texts", lambda t: tested.append(1) or own_tests(t)
    )
    written = {}
    for name, path in (("new", part.path), ("old", str(old))):
        tested.clear()
        target = tmp_path / f"{name}.csv.deflate"
        format_csv(path, "buy", "Asia/Kolkata", target, deflate=True, keys=keys)
        written[name] = (target.read_bytes(), len(tested))
    pieces = [  # a cut event's row range (pipeline/shards.py), read from either file
        format_csv(path, "buy", "UTC", tmp_path / f"{n}.piece", rows=(300, 1_100), keys=keys)
        for n, path in (("new", part.path), ("old", str(old)))
    ]
    assert pieces[0].rows == pieces[1].rows == 800
    assert (tmp_path / "new.piece").read_bytes() == (tmp_path / "old.piece").read_bytes()
    monkeypatch.setattr(payload, "_NATIVE_MIN_ROWS", 10**9)  # the Python reference alone
    format_csv(part.path, "buy", "Asia/Kolkata", tmp_path / "ref", deflate=True, keys=keys)
    assert written["new"][0] == written["old"][0] == (tmp_path / "ref").read_bytes()
    assert written["new"][1] == 0 and written["old"][1] == 1  # format's own test: old file only
    monkeypatch.undo()
    assert payload_cells.available()
    for name, path in (("new", part.path), ("old", str(old))):
        target = tmp_path / f"{name}.scanner"
        format_csv(path, "buy", "Asia/Kolkata", target, deflate=True, keys=keys)
        assert target.read_bytes() == written["new"][0]
