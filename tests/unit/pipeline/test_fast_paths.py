"""The optimised paths give exactly what the straightforward ones give."""

import json
import threading
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from event_export.pipeline.payload import flatten, flatten_column, keys_of, parse, parse_column
from event_export.pipeline.stages.csv_format import TS_FORMAT, local_iso
from event_export.pipeline.streams import coalesce, ordered_map, prefetch

PAYLOADS = [
    json.dumps({"price": 59.99, "q": 3, "ok": True, "tags": ["a", 1], "meta": {"k": "ü"}}),
    None,
    "",
    json.dumps({"price": 1e21, "q": -0.0, "name": 'a,"b"\nc', "none": None}),
    json.dumps({"price": 59.99, "q": 3, "ok": True, "tags": ["a", 1], "meta": {"k": "ü"}}),
    json.dumps([1, 2]),
    json.dumps({"नाम": "मोबाइल 🛒", "big": 123456789012345678901234567890}),
]
KEYS = ["big", "meta", "name", "none", "ok", "price", "q", "tags", "value", "नाम", "absent"]


@pytest.mark.parametrize("chunked", [False, True])
def test_flatten_column_equals_flattening_row_by_row(chunked):
    column = pa.array(PAYLOADS, pa.string())
    if chunked:
        column = pa.chunked_array([column[:3], column[3:]])
    fast = flatten_column(column, KEYS)
    slow = flatten(parse_column(column), KEYS)
    assert [a.to_pylist() for a in fast] == [a.to_pylist() for a in slow]
    assert fast[KEYS.index("price")].to_pylist()[3] == "1e+21"
    assert fast[KEYS.index("q")].to_pylist()[3] == "-0.0"


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
@pytest.mark.parametrize(
    "timezone", ["UTC", "Asia/Kolkata", "America/New_York", "America/St_Johns", "Asia/Kathmandu"]
)
def test_local_iso_equals_strftime_across_zones_units_and_dst(unit, timezone):
    instants = [
        datetime(2026, 11, 1, 5, 59, 59, 999123, tzinfo=UTC),  # New York: last EDT moment
        datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC),  # first EST moment
        None,
        datetime(2026, 3, 8, 7, 0, 0, 5000, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    ]
    ts = pa.array(instants, pa.timestamp(unit, tz="UTC"))
    expected = pc.strftime(ts.cast(pa.timestamp(unit, tz=timezone)), format=TS_FORMAT)
    assert local_iso(ts, timezone).to_pylist() == expected.to_pylist()


def test_prefetch_keeps_order_and_raises_the_producers_error():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise ValueError("lake unreadable")

    got = []
    with pytest.raises(ValueError, match="lake unreadable"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1]


def test_prefetch_stops_its_producer_when_the_consumer_leaves_early():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    for item in prefetch(endless(), depth=2):
        if item == 5:
            break
    assert threading.active_count() == before
    assert len(produced) <= 5 + 4  # it ran at most a queue's depth (and one in hand) ahead


def test_ordered_map_keeps_order_whatever_the_finishing_order():
    import time

    def slow_for_small(x):
        time.sleep(0.001 * (10 - x % 10))
        return x * x

    assert list(ordered_map(slow_for_small, range(40), workers=3, ahead=2)) == [
        x * x for x in range(40)
    ]
    with pytest.raises(ZeroDivisionError):
        list(ordered_map(lambda x: 1 // (x - 5), range(10)))


def test_coalesce_joins_small_batches_without_losing_or_reordering_rows():
    batches = [pa.record_batch([pa.array(range(i * 10, (i + 1) * 10))], ["n"]) for i in range(7)]
    joined = list(coalesce(batches, 25))
    assert [b.num_rows for b in joined] == [30, 30, 10]
    assert pa.Table.from_batches(joined).column("n").to_pylist() == list(range(70))


PAYLOAD_CORPUS = [
    '{"a": 123456789012345678901234567890}', '{"a": 1, "a": 2}', '{"a": -0}', '{"a": -0.0}',
    '{"a": 1e400}', '{"a": "\\ud800"}', '{"a": NaN}', '{"a": -Infinity}', "[1, 2]", '"x"', "3",
    "null", '{"a": 1.0, "b": 1E5, "c": 2.50}', '{"b": {"y": 1, "x": [1, 2.5, null, true]}}',
    '{"a": 18446744073709551616}', ' {"a": 1} ', '{"\\u0000": "\\u202e"}', '{"k": "नमस्ते 🎉"}',
    "{}", '{"a": "line\\nbreak, \\"quoted\\""}',
]  # fmt: skip
BROKEN_PAYLOADS = ['{"a": 1} x', "{", '{"a": }', "{'a': 1}", '{"a": 1,}', "\ufeff{}"]


@pytest.mark.parametrize("text", PAYLOAD_CORPUS)
def test_parse_gives_what_the_stdlib_gives(text):
    value = json.loads(text)
    expected = value if isinstance(value, dict) else {"value": value}
    got = parse(text)
    assert json.dumps(got, sort_keys=False) == json.dumps(expected, sort_keys=False)
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_keys_of_gives_the_keys_parse_gives():
    texts = [*PAYLOAD_CORPUS, None, "", '{"z": {"inner": 1}, "a": [1]}']
    batch = pa.record_batch([pa.array(texts, pa.string())], names=["payload"])
    expected = sorted({k for t in texts for k in parse(t)})
    assert keys_of([batch]) == expected
    assert "value" in expected and "inner" not in expected  # non-objects; nested keys stay inside
    broken = pa.record_batch([pa.array(BROKEN_PAYLOADS[:1])], names=["payload"])
    with pytest.raises(json.JSONDecodeError):
        keys_of([broken])


@pytest.mark.parametrize("text", BROKEN_PAYLOADS)
def test_parse_fails_on_broken_payloads_as_the_stdlib_does(text):
    with pytest.raises(json.JSONDecodeError):
        parse(text)
