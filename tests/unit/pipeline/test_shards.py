"""Shard planning and upload batches: sized by rows and bytes, deterministic, every row once, and
labels that are printable whatever the event names."""

import itertools
import json
import re

import pytest
from event_export.pipeline.naming import event_label, staging_key
from event_export.pipeline.shards import (
    LABEL_CHARS,
    MAX_SHARDS,
    batch_uploads,
    joined_pieces,
    plan_shards,
)
from hostile_names import HOSTILE_EVENTS

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _parts(rows_by_event: dict[str, int]) -> list[dict]:
    """Parts as extract's index lists them: events in name order, raw names never in them."""
    return [
        {"key": staging_key(e), "label": event_label(e), "rows": n, "path": f"x/{staging_key(e)}"}
        for e, n in sorted(rows_by_event.items())
    ]


def _covered(shards) -> dict[str, list[tuple[int, int]]]:
    """Each event's row ranges over all shards, in order."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for shard in shards:
        for p in shard["parts"]:
            ranges.setdefault(p["key"], []).append((p.get("start", 0), p.get("stop", p["rows"])))
    return ranges


def _assert_every_row_once(parts, shards):
    ranges = _covered(shards)
    assert sorted(ranges) == sorted(p["key"] for p in parts)  # every event, once
    for part in parts:
        spans = ranges[part["key"]]
        assert spans[0][0] == 0 and spans[-1][1] == part["rows"]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # contiguous
    for shard in shards:
        assert shard["rows"] == sum(
            stop - start
            for p in shard["parts"]
            for start, stop in [(p.get("start", 0), p.get("stop", p["rows"]))]
        )


def test_a_small_day_is_one_shard():
    """40 events, 50 k rows (a typical client day): one format task."""
    parts = _parts({f"event {i:02d}": 1_250 for i in range(40)})
    shards = plan_shards(parts, 1_000_000)
    assert len(shards) == 1
    assert shards[0]["rows"] == 50_000
    assert shards[0]["label"] == "40 events: event 00, event 01, event 02…"
    assert all("start" not in p for p in shards[0]["parts"])
    _assert_every_row_once(parts, shards)


def test_small_events_are_packed_in_order_up_to_the_shard_size():
    parts = _parts({"a": 400, "b": 400, "c": 400, "d": 100, "e": 1000})
    shards = plan_shards(parts, 1000)
    assert [[p["label"] for p in s["parts"]] for s in shards] == [["a", "b"], ["c", "d"], ["e"]]
    assert [s["rows"] for s in shards] == [800, 500, 1000]
    assert shards[2]["label"] == "1 event: e"
    _assert_every_row_once(parts, shards)


def test_a_large_event_is_cut_into_near_equal_ranges_of_its_own():
    parts = _parts({"big": 2_500, "small": 10, "tiny": 1})
    shards = plan_shards(parts, 1000)
    big = [s for s in shards if s["parts"][0]["label"] == "big"]
    assert [(p["start"], p["stop"]) for s in big for p in s["parts"]] == [
        (0, 833),
        (833, 1666),
        (1666, 2500),
    ]
    assert [s["parts"][0]["piece"] for s in big] == [0, 1, 2]
    assert {s["parts"][0]["pieces"] for s in big} == {3}
    assert big[0]["label"] == "big rows 0-832"
    assert big[2]["label"] == "big rows 1,666-2,499"
    assert len(shards) == 4  # the small ones share one shard
    _assert_every_row_once(parts, shards)


def test_one_huge_event_spreads_over_workers_and_never_past_the_map_limit():
    parts = _parts({"purchase": 10_000_000})
    shards = plan_shards(parts, 1_000_000)
    assert len(shards) == 10
    assert shards[0]["label"] == "purchase rows 0-999,999"
    assert all(s["rows"] == 1_000_000 for s in shards)
    _assert_every_row_once(parts, shards)
    enormous = plan_shards(_parts({"e": 10**12}), 1_000)
    assert len(enormous) <= MAX_SHARDS
    _assert_every_row_once(_parts({"e": 10**12}), enormous)


def test_an_empty_day_has_no_shard_and_empty_events_still_get_one():
    assert plan_shards([], 1000) == []
    parts = _parts({"none": 0, "one": 1})
    shards = plan_shards(parts, 1000)
    assert [p["label"] for s in shards for p in s["parts"]] == ["none", "one"]


def test_the_plan_is_a_function_of_the_data_alone():
    rows = {f"e{i}": (i * 7919) % 3_000 for i in range(200)}
    first = plan_shards(_parts(rows), 1_000)
    again = plan_shards(_parts(dict(reversed(list(rows.items())))), 1_000)
    assert json.dumps(first) == json.dumps(again)
    _assert_every_row_once(_parts(rows), first)


def test_hostile_names_reach_labels_and_xcom_only_as_printable_labels():
    parts = _parts({e: 5_000 for e in HOSTILE_EVENTS})
    shards = plan_shards(parts, 12_000)
    text = json.dumps(shards, ensure_ascii=False)
    for event in HOSTILE_EVENTS:
        if event != event_label(event):
            assert json.dumps(event, ensure_ascii=False) not in text
    for shard in shards:
        assert not _UNPRINTABLE.search(shard["label"]), shard["label"]
        assert len(shard["label"]) <= LABEL_CHARS
    cut = plan_shards(_parts({HOSTILE_EVENTS[0]: 25_000}), 12_000)
    assert all(len(s["label"]) <= LABEL_CHARS for s in cut)
    _assert_every_row_once(parts, shards)


def test_joined_pieces_orders_an_events_pieces_and_refuses_a_gap():
    pieces = [
        {"key": "k", "label": "k", "rows": 5, "piece": 1, "pieces": 2},
        {"key": "j", "label": "j", "rows": 3},
        {"key": "k", "label": "k", "rows": 5, "piece": 0, "pieces": 2},
    ]
    joined = joined_pieces(pieces)
    assert list(joined) == ["k", "j"]
    assert [p["piece"] for p in joined["k"]] == [0, 1]
    with pytest.raises(ValueError, match="pieces"):
        joined_pieces([pieces[0], pieces[1]])
    with pytest.raises(ValueError, match="pieces"):
        joined_pieces([pieces[0], pieces[0], pieces[2]])


def _file(name: str, size: int) -> dict:
    return {
        "name": name,
        "path": f"p/{name}",
        "size": size,
        "sha256": "0" * 64,
        "rows": 1,
        "events": {},
        "members": {},
    }


def test_small_files_share_an_upload_and_large_ones_go_alone():
    files = [_file(f"f{i}", 10) for i in range(5)] + [_file("big", 500), _file("g", 10)]
    batches = batch_uploads(files, batch_bytes=100, batch_files=3)
    assert [[f["name"] for f in b["files"]] for b in batches] == [
        ["f0", "f1", "f2"],
        ["big"],
        ["f3", "f4", "g"],
    ]
    assert batches[0]["label"] == "3 files: f0, f1, f2"
    assert batches[1]["label"] == "big"
    by_bytes = batch_uploads([_file(f"m{i}", 40) for i in range(5)], batch_bytes=100)
    assert [len(b["files"]) for b in by_bytes] == [2, 2, 1]
    assert batch_uploads([]) == []
    names = [f["name"] for b in batches for f in b["files"]]
    assert sorted(names) == sorted(f["name"] for f in files)  # every file once
