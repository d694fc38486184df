"""Payloads flattened in native code give, cell by cell, what the Python reference gives.

The corpus is hostile on purpose: every way DuckDB's JSON reader and Python's `json` are known to
differ (duplicate keys, NaN and infinities, trailing commas, numbers past a double or 64 bits,
number spellings, escapes in nested values, deep nesting, non-objects, invalid text) and the
values the CSV layout pins (strings as they are, true/false, numbers as `repr`, nested values as
compact JSON). Each text goes through the production path (`flatten_column`, `keys_of`) alone and
mixed into a batch of ordinary payloads.
"""

import json
import random
import struct

import pyarrow as pa
import pytest
from event_export.pipeline import payload, payload_cells
from event_export.pipeline.payload import (
    flatten_column,
    flatten_column_python,
    keys_by_group,
    keys_of,
    keys_of_python,
)
from event_export.pipeline.payload_native import flatten_native
from payload_corpus import HOSTILE, ORDINARY


@pytest.fixture(autouse=True, params=["scanner", "duckdb"])
def engine(request, monkeypatch) -> str:
    """Each test with both native readers: our C scanner (`payload_cells`, what format uses where
    it is built) and DuckDB (`payload_native`, where it is not). The corpus batches are small:
    without `_NATIVE_MIN_ROWS` at 0 DuckDB's would go to the Python reference whole."""
    monkeypatch.setattr(payload, "_NATIVE_MIN_ROWS", 0)
    if request.param == "duckdb":
        monkeypatch.setattr(payload_cells, "available", lambda: False)
    return request.param


def _outcome(function, column, keys):
    try:
        return [c.to_pylist() for c in function(column, keys)]
    except Exception as error:  # the reference raising is part of what must match
        return type(error)


def _keys_for(texts):
    keys = {"absent", "A", "a", "value"}
    for text in texts:
        try:
            keys.update(keys_of_python([pa.record_batch([pa.array([text])], names=["payload"])]))
        except Exception:  # a broken text has no keys to add
            continue
    return sorted(keys)


@pytest.mark.parametrize("text", HOSTILE)
def test_each_hostile_payload_flattens_as_the_python_reference(text, monkeypatch):
    keys = _keys_for([text, *ORDINARY])
    column = pa.array([text, None], pa.string())
    expected = _outcome(flatten_column_python, column, keys)
    assert _outcome(flatten_column, column, keys) == expected
    monkeypatch.setattr(payload, "_DISTINCT_SHARE", 0.0)  # row by row
    assert _outcome(flatten_column, column, keys) == expected


def test_all_hostile_payloads_in_one_batch_match_cell_by_cell(payload_read_path):
    good = []
    for text in HOSTILE:  # keep what the reference spells (one raising text fails a batch)
        if not isinstance(_outcome(flatten_column_python, pa.array([text]), ["a"]), type):
            good.append(text)
    assert len(good) > 50  # the corpus is mostly texts the reference spells
    texts = [*good, *ORDINARY, None, "", *good[::-1]]
    keys = _keys_for(texts)
    column = pa.chunked_array([pa.array(texts[:40]), pa.array(texts[40:])])
    native = flatten_column(column, keys)
    reference = flatten_column_python(column, keys)
    for key, got, expected in zip(keys, native, reference, strict=True):
        for row, (a, b) in enumerate(zip(got.to_pylist(), expected.to_pylist(), strict=True)):
            assert a == b, (key, texts[row])


@pytest.mark.parametrize("text", HOSTILE)
def test_keys_of_gives_the_python_keys_or_the_same_error(text):
    batch = [pa.record_batch([pa.array([*ORDINARY, text, None, ""])], names=["payload"])]
    try:
        expected = keys_of_python(batch)
    except Exception as error:
        with pytest.raises(type(error)):
            keys_of(batch)
    else:
        assert keys_of(batch) == expected


def test_keys_by_group_gives_each_groups_python_keys():
    """Extract's one pass per batch: each group's keys are what `keys_of` gives its rows alone,
    hostile rows (set aside to Python) included; a text Python refuses raises the same error."""
    good, bad = [], []
    for text in HOSTILE:
        batch = [pa.record_batch([pa.array([text])], names=["payload"])]
        try:
            keys_of_python(batch)
        except Exception as error:
            bad.append((text, type(error)))
        else:
            good.append(text)
    texts = [*good, *ORDINARY, None, "", *ORDINARY[::-1]]
    groups = [i % 3 for i in range(len(texts))]
    found, _ = keys_by_group(pa.array(texts, pa.string()), pa.array(groups, pa.int32()))
    for group in range(3):
        rows = [t for t, g in zip(texts, groups, strict=True) if g == group]
        batch = [pa.record_batch([pa.array(rows, pa.string())], names=["payload"])]
        assert sorted(found.get(group, ())) == keys_of_python(batch)
    assert len(bad) > 5
    for text, error in bad:
        with pytest.raises(error):
            keys_by_group(pa.array([*ORDINARY, text]), pa.array([0] * len(ORDINARY) + [1]))


def test_ordinary_payloads_stay_in_native_code():
    """The fallback is for the hostile rows only: ordinary payloads are never set aside."""
    texts = pa.array(ORDINARY * 50, pa.string())
    keys = _keys_for(ORDINARY)
    flattened = flatten_native(texts, keys)
    assert not any(flattened.suspect.to_pylist())
    assert [c.to_pylist() for c in flattened.columns] == _outcome(
        flatten_column_python, texts, keys
    )


def test_doubles_are_spelled_as_repr():
    """Top-level doubles come from DuckDB: random bit patterns and decimals match `repr`."""
    rng = random.Random(19)
    values = [0.0, -0.0, 1e16, 1e15, 9999999999999998.0, 1e-4, 9.999e-5, 5e-324, 1e22]
    while len(values) < 20_000:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if value == value and abs(value) != float("inf"):
            values.append(value)
        values.append(rng.randrange(-(10**9), 10**9) / 10 ** rng.randrange(0, 9))
    texts = pa.array([json.dumps({"v": v}) for v in values])
    flattened = flatten_native(texts, ["v"])
    cells, suspect = flattened.columns[0].to_pylist(), flattened.suspect.to_pylist()
    for value, cell, aside in zip(values, cells, suspect, strict=True):
        if aside:  # only an exponent of three digits sets a double aside (it may overflow)
            assert abs(int(repr(value).partition("e")[2] or 0)) >= 100
        else:
            assert cell == repr(value)
    assert suspect.count(False) > 10_000


def test_small_batches_go_to_the_python_reference_whole_without_the_scanner(engine, monkeypatch):
    """Without the scanner, below `_NATIVE_MIN_ROWS` rows a batch skips DuckDB (its set-up costs
    more than the reference); at the threshold it is read natively. The scanner costs next to
    nothing to set up: it reads every batch. The cells are the same either way."""
    monkeypatch.setattr(payload, "_NATIVE_MIN_ROWS", 64)
    calls = []
    reader = "flatten_cells" if engine == "scanner" else "flatten_native"
    module = payload_cells if engine == "scanner" else payload
    native = getattr(module, reader)
    monkeypatch.setattr(module, reader, lambda *a: calls.append(1) or native(*a))
    keys = _keys_for(ORDINARY)
    small, large = pa.array(ORDINARY * 21, pa.string()), pa.array(ORDINARY * 22, pa.string())
    expected = _outcome(flatten_column_python, small, keys)
    assert _outcome(flatten_column, small, keys) == expected
    assert bool(calls) == (engine == "scanner")
    assert _outcome(flatten_column, large, keys) == _outcome(flatten_column_python, large, keys)
    assert calls


def test_small_batches_find_the_same_keys_in_python(engine, monkeypatch):
    """`keys_of` and `keys_by_group` under `_NATIVE_MIN_ROWS` rows read in Python where DuckDB is
    the native reader (the scanner reads every batch): the same keys per group as the native
    pass, hostile texts included."""
    good = []
    for text in [*HOSTILE, *ORDINARY, None, ""]:
        try:
            keys_of_python([pa.record_batch([pa.array([text], pa.string())], ["payload"])])
        except Exception:  # a text the reference refuses fails both ways (tested above)
            continue
        good.append(text)
    assert len(good) > 50
    column, groups = pa.array(good, pa.string()), pa.array([i % 4 for i in range(len(good))])
    native = keys_by_group(column, groups), keys_of([pa.record_batch([column], ["payload"])])
    monkeypatch.setattr(payload, "_NATIVE_MIN_ROWS", 10_000)
    small = keys_by_group(column, groups), keys_of([pa.record_batch([column], ["payload"])])
    assert {g: sorted(k) for g, k in small[0][0].items() if k} == {
        g: sorted(k) for g, k in native[0][0].items() if k
    }
    assert small[1] == native[1]
    assert len(small[1]) > 20
    # a batch read in Python counts no members: format tests and counts those rows itself
    assert (small[0][1].null_count == len(good)) == (engine == "duckdb")
    assert native[0][1].null_count < len(good)


def test_a_nested_value_in_several_rows_and_columns_sets_each_of_its_rows_aside():
    """Nested cells are tested once per distinct text over every column of the batch: a risky
    or repeating value sets aside each row holding it, in whichever column, and no other."""
    repeat, fraction, fine = '{"x": 1, "x": 2}', '{"p": 2.50}', '{"y": 1}'
    rows = [
        f'{{"a": {repeat}, "b": {fine}}}',
        f'{{"a": {fine}, "b": {repeat}}}',
        f'{{"a": [1], "b": {fraction}}}',
        f'{{"a": {fine}, "b": ["{{}}", 2]}}',
        f'{{"a": {fraction}, "b": 1}}',
        f'{{"a": {fine}, "b": {fine}}}',
    ]
    texts = pa.array(rows * 3, pa.string())
    flattened = flatten_native(texts, ["a", "b"])
    assert flattened.suspect.to_pylist() == [True, True, True, False, True, False] * 3
    kept = [i for i, aside in enumerate(flattened.suspect.to_pylist()) if not aside]
    expected = _outcome(flatten_column_python, texts, ["a", "b"])
    for got, want in zip(flattened.columns, expected, strict=True):
        assert [got.to_pylist()[i] for i in kept] == [want[i] for i in kept]


def test_nested_cells_are_found_by_their_first_byte_in_any_layout():
    """The nested-cell mask reads each cell's first byte from Arrow's buffers: right for a sliced
    array, empty cells, and a null cell whose slot still holds bytes (Arrow allows it)."""
    from event_export.pipeline.payload_native import _opens_nested

    cells = ["[1]", "", "x{", '{"a": 1}', None, "", "[", "{}"]
    array = pa.array(cells, pa.string())
    expected = [c is not None and c[:1] in ("{", "[") for c in cells]
    assert _opens_nested(array).to_pylist() == expected
    for start in range(1, 5):
        assert _opens_nested(array.slice(start)).to_pylist() == expected[start:]
    assert _opens_nested(array.slice(1, 2)) is None  # "", "x{": none
    data = b'{"a":1}[2]'  # the null second cell's slot holds `[2]`
    offsets = pa.py_buffer(struct.pack("<3i", 0, 7, 10))
    validity = pa.py_buffer(bytes([0b01]))
    holding = pa.Array.from_buffers(pa.string(), 2, [validity, offsets, pa.py_buffer(data)])
    assert _opens_nested(holding).to_pylist() == [True, False]
    assert _opens_nested(pa.array(["a", None, ""], pa.string())) is None


def _good_texts() -> list[str]:
    """The hostile texts the reference spells, and the ordinary ones."""
    good = []
    for text in [*HOSTILE, *ORDINARY]:
        if not isinstance(_outcome(flatten_column_python, pa.array([text]), ["a"]), type):
            good.append(text)
    return good


def _top_level_members(text: str) -> int:
    """Members of the JSON object `text`, a repeated key counted each time (Python's reading)."""
    return len(json.loads(text, object_pairs_hook=lambda pairs: pairs))


def test_keys_by_group_counts_each_rows_top_level_members():
    """Extract stages these counts for format: each one the row's members, a repeated key
    counted each time; null for a null or empty text and for every row set aside for Python
    (not an object, or a text the raw-text test or DuckDB refuses)."""
    good = _good_texts()
    texts = [*good, None, "", *ORDINARY]
    groups = pa.array([i % 2 for i in range(len(texts))], pa.int32())
    _, members = keys_by_group(pa.array(texts, pa.string()), groups)
    counted = dict(zip(texts, members.to_pylist(), strict=True))
    assert counted[None] is None and counted[""] is None
    for text in ORDINARY:
        assert counted[text] == _top_level_members(text)
    assert counted['{"a": 1, "a": 2}'] == 2 and counted['{"a": 1, "b": null, "a": 2}'] == 3
    for aside in ["[1, 2]", '"x"', "null", '{"a": NaN}', '{"a": -Infinity}', '{"a": 1e400}']:
        assert counted[aside] is None
    assert sum(c is not None for c in counted.values()) > 35  # the scanner: keys with escapes too
    for text, count in counted.items():
        if count is not None:
            assert count == _top_level_members(text), text


def test_staged_member_counts_flatten_as_the_python_reference(
    engine, payload_read_path, monkeypatch
):
    """Format given extract's counts (payload.MEMBERS) runs neither the raw-text test nor its
    own count, and every cell is still the reference's, hostile rows included. The scanner needs
    no count and runs no DuckDB query at all."""
    from event_export.pipeline import payload_native

    good = _good_texts()
    texts = [*good, *ORDINARY, None, "", *good[::-1]]
    keys = [k for k in _keys_for(texts) if k]  # the empty key sets a whole batch aside
    column = pa.array(texts, pa.string())
    _, members = keys_by_group(column, pa.array([0] * len(texts), pa.int32()))
    reference = flatten_column_python(column, keys)
    tested, sql = [], []
    run = payload_native._run
    monkeypatch.setattr(payload_native, "_suspect_texts", lambda t: tested.append(1))
    monkeypatch.setattr(payload_native, "_run", lambda q, *a: sql.append(q) or run(q, *a))
    chunked = pa.chunked_array([column.slice(0, 40), column.slice(40)])
    for given in (column, chunked):
        native = flatten_column(given, keys, members=pa.chunked_array([members]))
        for key, got, expected in zip(keys, native, reference, strict=True):
            for row, (a, b) in enumerate(zip(got.to_pylist(), expected.to_pylist(), strict=True)):
                assert a == b, (key, texts[row])
    assert not tested
    if engine == "scanner":
        assert not sql
    else:
        assert sql and not any("json_keys(p)" in q for q in sql)


def test_a_text_set_aside_in_any_extract_batch_is_set_aside_in_every_row():
    """Pooled payloads are read once per distinct text: its count is any of its rows' (equal
    texts, equal counts), and null if any row's is (read in Python in one extract batch)."""
    from event_export.pipeline.payload import _members_of

    indices = pa.array([0, 1, None, 0, 2, 1, 2], pa.int32())
    members = pa.array([3, 5, None, 3, None, 5, 4], pa.int32())
    assert _members_of(members, indices, 3).to_pylist() == [3, 5, None]
    assert _members_of(members, None, 7) is members
    texts = pa.array(['{"a": 1, "a": 2}'] * 600 + ['{"b": 1}'] * 600, pa.string())
    counts = pa.array([2] * 600 + [None] + [1] * 599, pa.int32())
    assert [c.to_pylist() for c in flatten_column(texts, ["a", "b"], members=counts)] == [
        c.to_pylist() for c in flatten_column_python(texts, ["a", "b"])
    ]
