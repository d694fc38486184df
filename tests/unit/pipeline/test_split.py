"""Extract, split by event as it streams: every row of the window once, per event, in the
lake's order, holding only the columns asked for."""

import json
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
from event_export.formats import EVENTS, Options, props_schema, scan_series
from event_export.generator import write_window
from event_export.pipeline import ipc
from event_export.pipeline import lake as lake_module
from event_export.pipeline.ipc import read_staged, schema_of
from event_export.pipeline.lake import LOW_CARDINALITY, read_window
from event_export.pipeline.payload import MEMBERS
from event_export.pipeline.stages import extract as extract_module
from event_export.pipeline.stages import split as split_module
from event_export.pipeline.stages.csv_format import READ_COLUMNS
from event_export.pipeline.stages.extract import extract
from event_export.scheduling.windows import day_window


def test_extract_stages_each_events_rows_once_in_lake_order(
    kolkata_lake, demo_day, tmp_path, monkeypatch
):
    monkeypatch.setattr(split_module, "FLUSH_BYTES", 16 * 1024)  # many batches per event
    monkeypatch.setattr(extract_module, "COALESCE_ROWS", 1)  # the lake's batches as they come
    monkeypatch.setattr(lake_module, "DICTIONARIES_FROM_BYTES", 0)  # a small lake, as a large one
    window = day_window(demo_day, ZoneInfo("Asia/Kolkata"))
    lake = pa.Table.from_batches(list(read_window(str(kolkata_lake), window)))
    parts = extract(str(kolkata_lake), window, None, tmp_path / "extract")
    assert [p.event for p in parts] == sorted(set(lake.column("event_name").to_pylist()))
    assert sum(p.rows for p in parts) == lake.num_rows
    for part in parts:
        assert part.path.endswith(".arrow")
        batches = list(read_staged(part.path))
        staged = schema_of(part.path)
        assert [n for n in staged.names if pa.types.is_dictionary(staged.field(n).type)] == [
            n for n in staged.names if n in LOW_CARDINALITY
        ]
        got = pa.Table.from_batches([ipc.decoded(b) for b in batches])
        assert len(batches) > 1 or part.rows < 200
        payloads = pa.Table.from_batches(list(read_staged(part.path, ["payload"])))
        assert payloads.column_names == ["payload"]
        assert payloads.column(0).equals(got.column("payload"))
        expected = lake.filter(pa.compute.equal(lake.column("event_name"), part.event))
        assert got.num_rows == part.rows == expected.num_rows
        assert got.equals(expected)
    rerun = extract(str(kolkata_lake), window, None, tmp_path / "extract")
    assert [p.to_dict() for p in rerun] == [p.to_dict() for p in parts]


def test_extract_stages_only_the_columns_asked_for_compressed(tmp_path, monkeypatch):
    """Realistic payloads (nearly all distinct, so no dictionary keeps them small): the staged
    day is ZSTD-compressed to well under its plain size."""
    monkeypatch.setattr(ipc, "PLAIN_BELOW", 0)  # this day's events are small enough to go plain
    monkeypatch.setenv("EES_STAGING_COMPRESSION", "zstd")
    window = day_window(date(2026, 11, 1), ZoneInfo("UTC"))
    write_window(tmp_path / "lake", window, 20_000, distinct=0.95)
    lake_uri = str(tmp_path / "lake")
    lake = pa.Table.from_batches(list(read_window(lake_uri, window)))
    parts = extract(lake_uri, window, None, tmp_path / "narrow", READ_COLUMNS)
    for part in parts:
        got = _staged(part.path)
        assert got.column_names == READ_COLUMNS  # no event name, email or phone
        expected = lake.filter(pa.compute.equal(lake.column("event_name"), part.event))
        assert got.equals(expected.select(READ_COLUMNS))
    staged = {"zstd": sum(_size(p) for p in parts)}
    for codec in ("lz4", "none"):  # EES_STAGING_COMPRESSION: the same rows, other bytes
        monkeypatch.setenv("EES_STAGING_COMPRESSION", codec)
        other = extract(lake_uri, window, None, tmp_path / codec, READ_COLUMNS)
        for part, again in zip(parts, other, strict=True):
            assert _staged(again.path).equals(_staged(part.path))
        staged[codec] = sum(_size(p) for p in other)
    assert staged["zstd"] < 0.6 * staged["none"]
    assert staged["zstd"] < staged["lz4"] < staged["none"], staged


def test_extract_decodes_only_the_lake_columns_it_stages_or_scans(tmp_path, monkeypatch):
    """The daily zip stages neither `email` nor `phone`: the lake's reader is not asked for them
    (each is a string column decoded for nothing), but it is for the names the cut needs and the
    payload the key scan reads; without `columns`, every lake column, as before."""
    window = day_window(date(2026, 11, 1), ZoneInfo("UTC"))
    write_window(tmp_path / "lake", window, 2_000)
    asked = []

    def reading(root, window, events=None, columns=None, **options):
        asked.append(columns)
        return read_window(root, window, events, columns, **options)

    monkeypatch.setattr(extract_module, "read_window", reading)
    parts = extract(str(tmp_path / "lake"), window, None, tmp_path / "a", READ_COLUMNS, True)
    assert sum(p.rows for p in parts) == 2_000
    assert {"email", "phone"}.isdisjoint(asked[0])
    assert set(asked[0]) == {*READ_COLUMNS, "event_name", "payload"}
    extract(str(tmp_path / "lake"), window, None, tmp_path / "b")
    assert asked[1] is None


def test_a_small_days_event_is_staged_as_one_batch(tmp_path):
    """A small day holds a few rows per hour file: each event's rows arrive as one batch to stage
    and to read back, not one per hour (each staged batch costs its own compressed buffers)."""
    window = day_window(date(2026, 11, 1), ZoneInfo("UTC"))
    write_window(tmp_path / "lake", window, 5_000)
    lake_uri = str(tmp_path / "lake")
    assert len(list(read_window(lake_uri, window))) >= 24  # one batch per hour file, or more
    lake = pa.Table.from_batches(list(read_window(lake_uri, window)))
    parts = extract(lake_uri, window, None, tmp_path / "extract", READ_COLUMNS)
    assert len(parts) > 20 and sum(p.rows for p in parts) == lake.num_rows
    for part in parts:
        batches = list(read_staged(part.path))
        assert len(batches) == 1, (part.event, [b.num_rows for b in batches])
        expected = lake.filter(pa.compute.equal(lake.column("event_name"), part.event))
        assert _staged(part.path).equals(expected.select(READ_COLUMNS))


def test_a_small_day_reads_and_stages_its_low_cardinality_columns_as_text(tmp_path, monkeypatch):
    """Under lake.DICTIONARIES_FROM_BYTES of lake files in the window, no column is read as a
    dictionary (its many small row groups cost more to read and unify than codes save); at the
    threshold the same day stages the ten columns as dictionaries, the same rows either way."""
    window = day_window(date(2026, 11, 1), ZoneInfo("UTC"))
    write_window(tmp_path / "lake", window, 5_000)
    lake_uri = str(tmp_path / "lake")
    size = sum(f.stat().st_size for f in (tmp_path / "lake").rglob("*.parquet"))
    assert size < lake_module.DICTIONARIES_FROM_BYTES
    staged = {}
    for name, threshold in (("small", lake_module.DICTIONARIES_FROM_BYTES), ("large", size)):
        monkeypatch.setattr(lake_module, "DICTIONARIES_FROM_BYTES", threshold)
        parts = extract(lake_uri, window, None, tmp_path / name, READ_COLUMNS)
        coded = set()
        for part in parts:
            schema = schema_of(part.path)
            coded |= {n for n in schema.names if pa.types.is_dictionary(schema.field(n).type)}
        staged[name] = ([p.rows for p in parts], [_staged(p.path) for p in parts], coded)
    assert staged["small"][2] == set()
    assert staged["large"][2] == set(LOW_CARDINALITY)
    assert staged["small"][0] == staged["large"][0]
    assert all(a.equals(b) for a, b in zip(staged["small"][1], staged["large"][1], strict=True))


def test_a_small_event_written_in_one_batch_is_staged_plain(tmp_path, monkeypatch):
    """Under ipc.PLAIN_BELOW bytes in one batch, an event is staged without compression (its
    buffers' ZSTD set-up and compression cost more than the bytes they save); a larger one, or one
    written in several batches, is compressed. Both read back as the lake's rows."""
    window = day_window(date(2026, 11, 1), ZoneInfo("UTC"))
    write_window(tmp_path / "lake", window, 20_000, distinct=0.95)
    lake_uri = str(tmp_path / "lake")
    lake = pa.Table.from_batches(list(read_window(lake_uri, window))).select(
        [*READ_COLUMNS, "event_name"]
    )
    sizes = sorted(
        lake.filter(pa.compute.equal(lake.column("event_name"), name)).select(READ_COLUMNS).nbytes
        for name in set(lake.column("event_name").to_pylist())
    )
    threshold = sizes[len(sizes) // 2]  # half the events under it
    monkeypatch.setattr(ipc, "PLAIN_BELOW", threshold)
    parts = extract(lake_uri, window, None, tmp_path / "extract", READ_COLUMNS)
    plain = compressed = 0
    for part in parts:
        batches = list(read_staged(part.path))
        got = pa.Table.from_batches(batches, schema_of(part.path))  # as staged: dictionaries
        expected = lake.filter(pa.compute.equal(lake.column("event_name"), part.event))
        assert _staged(part.path).equals(expected.select(READ_COLUMNS))
        if len(batches) == 1 and got.nbytes < threshold:
            assert _size(part) > got.nbytes, part.event  # the buffers as they are, and a footer
            plain += 1
        else:
            assert _size(part) < 0.6 * got.nbytes, part.event
            compressed += 1
    assert plain >= 5 and compressed >= 5


def _staged(path: str) -> pa.Table:
    """A staged file's rows as the lake holds them (its dictionary columns spelled out)."""
    return pa.Table.from_batches([ipc.decoded(b) for b in read_staged(path)])


def _size(part) -> int:
    return Path(part.path).stat().st_size


def test_extract_collects_the_properties_schema_the_gcp_formats_would_scan(
    kolkata_lake, demo_day, tmp_path, monkeypatch
):
    """gcp_export's ranges of a cut event take the schema extract collected instead of
    scanning the whole event each: it must be the scan's, keys and Parquet types."""
    monkeypatch.setattr(split_module, "FLUSH_BYTES", 16 * 1024)  # many batches per event
    monkeypatch.setattr(extract_module, "COALESCE_ROWS", 1)  # the lake's batches as they come
    window = day_window(demo_day, ZoneInfo("Asia/Kolkata"))
    parts = extract(str(kolkata_lake), window, None, tmp_path / "k", payload_kinds=True)
    for part in parts:
        assert part.payload_keys is None
        scanned = scan_series(part.path, EVENTS, Options(), "parquet")
        assert props_schema(part.payload_kinds) == scanned
    assert any(t != pa.string() for p in parts for t in props_schema(p.payload_kinds).types)


def test_extract_with_the_keys_stages_each_rows_payload_member_count(tmp_path):
    """Collecting the payload keys parses every row's keys: each row's top-level member count is
    staged beside the columns asked for (payload.MEMBERS), for format; without the keys, none."""
    window = day_window(date(2026, 11, 1), ZoneInfo("UTC"))
    write_window(tmp_path / "lake", window, 6_000, distinct=0.95)
    lake_uri = str(tmp_path / "lake")
    parts = extract(lake_uri, window, None, tmp_path / "keys", READ_COLUMNS, payload_keys=True)
    counted = 0
    for part in parts:
        got = pa.Table.from_batches(list(read_staged(part.path)), schema_of(part.path))
        assert got.column_names == [*READ_COLUMNS, MEMBERS]
        members = got.column(MEMBERS).to_pylist()
        for text, count in zip(got.column("payload").to_pylist(), members, strict=True):
            pairs = json.loads(text, object_pairs_hook=lambda pairs: pairs)
            assert count == len(pairs), text
            counted += 1
    assert counted == sum(p.rows for p in parts) > 5_000
    plain = extract(lake_uri, window, None, tmp_path / "plain", READ_COLUMNS)
    assert all(schema_of(p.path).names == READ_COLUMNS for p in plain)


def test_a_batch_is_cut_per_event_into_compact_copies_in_batch_order():
    """`_runs` (column by column, for the CPU cache): each event gets exactly its rows, in the
    batch's order, as its own compact copy: no slice that would keep the whole lake batch alive
    while the event's buffer waits to be written. Null values, an empty name and a hostile one
    too (a null name never gets here: lake.read_window names it "")."""
    names = ["b", "a\x00tab\t", "b", "", "a\x00tab\t", "b", "é", "c"]
    payloads = ['{"i":0}', None, '{"i":2}', '{"i":3}', '{"i":4}', "x" * 5000, '{"i":6}', "[]"]
    batch = pa.record_batch(
        {
            "event_name": pa.array(names, pa.string()),
            "n": pa.array(range(8), pa.int64()),
            "payload": pa.array(payloads, pa.string()),
            "skipped": pa.array([1.5] * 8),
        }
    )
    runs = split_module._runs(batch, ["event_name", "n", "payload"])
    expected = {}
    for i, name in enumerate(names):
        expected.setdefault(name, []).append(i)
    assert {name for name, _ in runs} == set(expected)
    for name, part in runs:
        assert part.schema.names == ["event_name", "n", "payload"]
        assert part.column("n").to_pylist() == expected[name], name
        assert part.column("payload").to_pylist() == [payloads[i] for i in expected[name]]
        # compact: the buffers hold this event's rows only, not the batch's
        assert part.get_total_buffer_size() <= part.nbytes + 64 * part.num_columns, name
    assert split_module._runs(batch.slice(0, 0), ["n"]) == []
