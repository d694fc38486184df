"""The payload scanner in C (`payload_cells`) writes each cell as the Python reference spells it, or
leaves the row to the reference; never a third answer.

Beyond the hostile corpus (test_payload_native.py runs every corpus test with the scanner and with
DuckDB), this throws generated payloads at it: random values written in every spelling JSON
allows (whitespace, escapes, number forms, key order, repeated keys, nesting), and mutations of
them that are not JSON. Each non-suspect cell must equal `payload.as_text(payload.parse(t)[k])`.
"""

import json
import random
from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from event_export import generator
from event_export.pipeline import payload, payload_cells
from event_export.pipeline.payload import flatten_column, flatten_column_python
from payload_corpus import HOSTILE, ORDINARY

KEYS = ["a", "b", "c", "é", "👍", "", "k k", "A"]


def _reference(text: str | None, keys: list[str]) -> list[str | None] | type:
    try:
        parsed = payload.parse(text)
    except Exception as error:  # the reference raising: the scanner must leave the row to it
        return type(error)
    return [payload.as_text(parsed.get(k)) for k in keys]


def _check(texts: list[str | None], keys: list[str]) -> tuple[int, int]:
    """Every kept row equals the reference; returns (kept, suspect) counts."""
    flattened = payload_cells.flatten_cells(pa.array(texts, pa.string()), keys)
    cells = [c.to_pylist() for c in flattened.columns]
    kept = 0
    for row, (text, aside) in enumerate(zip(texts, flattened.suspect.to_pylist(), strict=True)):
        if aside:
            assert all(column[row] is None for column in cells), text
            continue
        kept += 1
        assert [column[row] for column in cells] == _reference(text, keys), text
    return kept, len(texts) - kept


def test_the_library_is_built():
    """`make setup` builds it: without it format falls back to DuckDB, a silent slowdown."""
    assert payload_cells.available()


def _scalar(rng: random.Random):
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice([True, False, None])
    if kind == 1:
        return rng.randrange(-(10**6), 10**6)
    if kind == 2:
        return rng.choice([0, -1, 2**53 + 1, 10**18 - 1, 10**18, -(10**19), 10**25])
    if kind == 3:
        return round(rng.uniform(-5000, 5000), rng.randrange(0, 6))
    if kind == 4:
        return rng.choice([0.0, -0.0, 1e-4, 9.99e-5, 0.00012, 1e15, 1e16, 123456789012345.6])
    if kind == 5:
        return rng.uniform(-1, 1) * 10 ** rng.randrange(-30, 30)
    plain, hostile = "abcdef ,.é中👍", '"\\/\n\t\r\x00\x01\x1f\x7f\u2028🇮🇳\ud7ff\ue000'
    alphabet = plain * 3 + hostile  # mostly plain: both sides of the subset, often
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(10)
    if depth < 3 and kind == 0:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if depth < 3 and kind == 1:
        return {rng.choice(KEYS): _value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    return _scalar(rng)


def _spell(rng: random.Random, value) -> str:
    """`value` as JSON in one of the spellings JSON allows."""
    if isinstance(value, dict):
        items = list(value.items())
        if items and rng.random() < 0.1:  # a repeated key
            items.append((items[0][0], _value(rng, 2)))
        ws = rng.choice(["", " ", "\n\t ", "\r\n"])
        inner = f",{ws}".join(f"{_key(rng, k)}{ws}:{ws}{_spell(rng, v)}" for k, v in items)
        return f"{{{ws}{inner}{ws}}}"
    if isinstance(value, list):
        ws = rng.choice(["", " "])
        return "[" + f",{ws}".join(_spell(rng, v) for v in value) + "]"
    if isinstance(value, str):
        return _string(rng, value)
    if isinstance(value, float) and rng.random() < 0.3:
        return rng.choice([f"{value:.17g}", f"{value:e}", f"{value:.3f}0", repr(value)])
    return json.dumps(value)


def _key(rng: random.Random, key: str) -> str:
    return _string(rng, key)


def _string(rng: random.Random, text: str) -> str:
    """A JSON string for `text`: raw UTF-8, `\\u` escapes, or `\\/` for slashes."""
    spelled = json.dumps(text, ensure_ascii=rng.random() < 0.3)
    if rng.random() < 0.2:
        spelled = spelled.replace("/", "\\/")
    if rng.random() < 0.1:
        spelled = spelled.replace("a", "\\u0061")
    return spelled


def _mutate(rng: random.Random, text: str) -> str:
    """A text that is probably not JSON, or JSON of another shape."""
    kind = rng.randrange(6)
    at = rng.randrange(len(text) + 1)
    if kind == 0:
        return text[:at]
    if kind == 1:
        return text[:at] + rng.choice([",", "}", "]", '"', "\\", ":", "NaN", "-", "01"]) + text[at:]
    if kind == 2:
        return text + rng.choice([" x", ",", "}", " "])
    if kind == 3:
        return rng.choice(["[", '"', "1", "null", " "]) + text
    if kind == 4:
        return text.replace(":", ': 1e400, "z":', 1)
    return text[:at] + text[at + 1 :]


def _generated(seed: int, rows: int = 3_000) -> list[str | None]:
    rng = random.Random(seed)
    texts = []
    for _ in range(rows):
        members = {rng.choice(KEYS): _value(rng) for _ in range(rng.randrange(0, 7))}
        text = _spell(rng, members)
        texts.append(_mutate(rng, text) if rng.random() < 0.2 else text)
    return [*texts, None, "", " ", "{}", "[]"]


@pytest.mark.parametrize("seed", range(6))
def test_generated_payloads_match_the_reference_or_are_set_aside(seed):
    kept, aside = _check(_generated(seed), KEYS)
    assert kept > 600 and aside > 600  # both sides of the subset are exercised


def test_decimals_are_spelled_as_repr_in_every_form():
    """Top-level decimals: the scanner's digits are Python's `repr` of the double, whatever the
    trailing zeros; those it cannot prove (an exponent, 16 digits, below 1e-4) go to Python."""
    rng = random.Random(7)
    literals = ["0.0", "-0.0", "0.0001", "0.00010", "0.00009", "1.0", "100.000", "1.5e3", "0.10"]
    literals += ["123456789012345.0", "1234567890123456.0", "999999999999999.9", "-12.340"]
    for _ in range(20_000):
        digits = rng.randrange(1, 18)
        mantissa = str(rng.randrange(10 ** (digits - 1), 10**digits))
        point = rng.randrange(0, len(mantissa))
        literal = f"{mantissa[: point or 1]}.{mantissa[point or 1 :] or '0'}"
        zeros = "0" * rng.randrange(0, 3)
        literals.append(rng.choice(["", "-"]) + literal + zeros)
        literals.append(f"0.{'0' * rng.randrange(0, 6)}{mantissa}")
    texts = [f'{{"a": {v}}}' for v in literals]
    kept, _ = _check(texts, ["a"])
    assert kept > 20_000


def test_the_realistic_bench_day_stays_in_the_scanner():
    """The benchmark's realistic payloads (ids, amounts, timestamps, free text in several scripts
    with quotes and newlines, nested objects) are nearly all read in C, cell for cell."""
    day = generator.generate_hour(date(2026, 11, 1), 5, 20_000, seed=3, distinct=0.95)
    texts = day.column("payload").to_pylist()
    keys = sorted({k for t in texts if t for k in json.loads(t)})
    kept, aside = _check(texts, keys)
    assert aside < 0.01 * len(texts) and kept + aside == len(texts), aside


def test_sliced_and_chunked_columns_with_nulls_read_their_own_rows():
    texts = [*ORDINARY, None, "", *ORDINARY[::-1], None] * 5
    column = pa.array(texts, pa.string())
    keys = sorted({k for t in ORDINARY for k in json.loads(t)})
    whole = payload_cells.flatten_cells(column, keys)
    for start, stop in [(1, 7), (3, 40), (9, len(texts))]:
        part = payload_cells.flatten_cells(column.slice(start, stop - start), keys)
        for got, full in zip(part.columns, whole.columns, strict=True):
            assert got.to_pylist() == full.to_pylist()[start:stop]
    large = payload_cells.flatten_cells(column.cast(pa.large_string()), keys)
    assert [c.to_pylist() for c in large.columns] == [c.to_pylist() for c in whole.columns]
    chunked = pa.chunked_array([column.slice(0, 10), column.slice(10)])
    assert [c.to_pylist() for c in flatten_column(chunked, keys)] == [
        c.to_pylist() for c in flatten_column_python(column, keys)
    ]


def test_every_hostile_text_alone_is_the_reference_or_set_aside():
    keys = sorted({k for t in [*HOSTILE, *ORDINARY] if (r := _keys(t)) for k in r} | {"a"})
    kept, aside = _check([*HOSTILE, *ORDINARY], keys)
    assert kept > len(ORDINARY) and aside > 20


def _keys(text):
    try:
        return list(payload.parse(text))
    except Exception:  # a text the reference refuses has no keys
        return []


def test_cells_are_valid_arrow_strings():
    """The columns are built from raw buffers: Arrow's full validation (UTF-8, offsets) passes."""
    rng = random.Random(11)
    texts = [_spell(rng, {k: _value(rng) for k in KEYS}) for _ in range(2_000)]
    flattened = payload_cells.flatten_cells(pa.array(texts), KEYS)
    for column in flattened.columns:
        column.validate(full=True)
    assert np.count_nonzero(flattened.suspect.to_numpy(zero_copy_only=False)) < len(texts)


def _pairs(text: str) -> list:
    return json.loads(text, object_pairs_hook=lambda pairs: pairs)


@pytest.mark.parametrize("seed", range(3))
def test_keys_are_the_references_and_counts_are_pythons_pairs(seed):
    """Extract's pass: each group's keys are what the reference finds in the rows the scanner
    keeps (the rows it sets aside go to the reference), and a kept row's count is its members,
    a repeated key counted each time."""
    texts = _generated(seed)
    groups = [i % 4 for i in range(len(texts))]
    found, suspect, members = payload_cells.keys_and_members(
        pa.array(texts, pa.string()), pa.array(groups, pa.int32())
    )
    expected: dict[int, set[str]] = {}
    kept = 0
    for text, group, aside, count in zip(
        texts, groups, suspect.to_pylist(), members.to_pylist(), strict=True
    ):
        if aside or not text:
            assert count is None
            continue
        kept += 1
        assert count == len(_pairs(text)), text
        expected.setdefault(group, set()).update(payload.parse(text))
    assert found == expected  # a row set aside adds none of its keys: Python reads it
    assert kept > 600


@pytest.mark.parametrize("seed", range(3))
def test_counts_the_scanner_stages_keep_the_duckdb_reader_exact(seed):
    """Format's DuckDB reader (where the scanner is not built) trusts the rows extract counted:
    given the scanner's counts, its cells are still the reference's for every row it keeps."""
    from event_export.pipeline.payload_native import flatten_native

    texts = _generated(seed, 1_500)
    column = pa.array(texts, pa.string())
    _, _, members = payload_cells.keys_and_members(column)
    keys = [k for k in KEYS if k]  # DuckDB cannot name the empty key: a whole batch aside
    flattened = flatten_native(column, keys, members)
    cells = [c.to_pylist() for c in flattened.columns]
    kept = 0
    for row, (text, aside) in enumerate(zip(texts, flattened.suspect.to_pylist(), strict=True)):
        if not aside and text:
            kept += 1
            assert [column[row] for column in cells] == _reference(text, keys), text
    assert kept > 300


def test_many_keys_grow_the_pair_table():
    """The (group, key) table starts small and grows: thousands of distinct keys all come back."""
    texts = [f'{{"key {i}": {i}, "shared": 1}}' for i in range(5_000)]
    groups = pa.array([i % 7 for i in range(len(texts))], pa.int32())
    found, suspect, members = payload_cells.keys_and_members(pa.array(texts), groups)
    assert not any(suspect.to_pylist()) and set(members.to_pylist()) == {2}
    for group in range(7):
        assert found[group] == {f"key {i}" for i in range(group, 5_000, 7)} | {"shared"}


def test_the_scanner_can_be_switched_off(monkeypatch):
    """EES_PAYLOAD_SCANNER=off: extract and format read with DuckDB, to the same cells."""
    texts = pa.array([*ORDINARY, None, ""] * 300, pa.string())
    keys = sorted({k for t in ORDINARY for k in json.loads(t)})
    scanned = [c.to_pylist() for c in flatten_column(texts, keys)]
    read = []
    native = payload.flatten_native
    monkeypatch.setattr(payload, "flatten_native", lambda *a: read.append(1) or native(*a))
    monkeypatch.setenv("EES_PAYLOAD_SCANNER", "off")
    assert not payload_cells.available()
    assert [c.to_pylist() for c in flatten_column(texts, keys)] == scanned
    assert read


def test_a_stale_or_missing_build_is_not_called(tmp_path, monkeypatch):
    """A library built from another version of the source (its ABI number differs, or it has
    none) is passed over for the next place, and with none left DuckDB reads: never a call with
    the wrong arguments."""
    import subprocess

    stale = tmp_path / "stale.so"
    source = tmp_path / "stale.c"
    source.write_text("long long ees_cells_abi(void) { return 999; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", stale, source], check=True)
    bare = tmp_path / "bare.so"
    source.write_text("int unrelated(void) { return 0; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", bare, source], check=True)
    for library in (stale, bare, tmp_path / "missing.so"):
        monkeypatch.setenv("EES_SCANNER_LIBRARY", str(library))
        assert payload_cells._open() is not None  # the build next to the source
        monkeypatch.setattr(payload_cells, "LIBRARY", tmp_path / "none.so")
        assert payload_cells._open() is None
        monkeypatch.undo()


@pytest.mark.parametrize("seed", range(3))
def test_kinds_are_the_references(seed):
    """gcp_export's property types: each key's value kinds from the scanner (and Python for the
    rows it sets aside) are what the reference finds, integers past 64 bits and floats in every
    spelling included; a text the reference refuses raises the same error."""
    rng = random.Random(seed)
    texts = [_spell(rng, {rng.choice(KEYS): _value(rng) for _ in range(4)}) for _ in range(2_000)]
    texts += ['{"a": 9223372036854775807}', '{"a": 9223372036854775808}', '{"b": -0}', None, ""]
    column = pa.array(texts, pa.string())
    found = payload.kinds_of([column])
    assert found == payload.kinds_of_python([column])
    assert found["a"] >= {"int", "other"}
    _, suspect = payload_cells.keys_and_kinds(column)
    assert 0 < suspect.to_pylist().count(True) < len(texts) // 2
    broken = pa.array([*texts[:50], '{"a": 1,}'], pa.string())
    with pytest.raises(json.JSONDecodeError):
        payload.kinds_of_python([broken])
    with pytest.raises(json.JSONDecodeError):
        payload.kinds_of([broken])


@pytest.mark.parametrize(
    "keep", [None, ("a", "i", "o", "price", "s", "x", "zz")], ids=["all", "locked"]
)
@pytest.mark.parametrize("strings", [False, True], ids=["typed", "values as strings"])
@pytest.mark.parametrize("seed", range(3))
def test_objects_are_written_as_the_json_lines_reference(seed, strings, keep):
    """gcp_export's JSON lines: each kept row's object is what the writer's reference gives
    (`json_text(parse(text))`; values as strings: each value `as_text` first; a locked schema:
    only its keys), a null or empty text `{}`; rows set aside are left empty."""
    from event_export.formats.text import json_text

    texts = [*_generated(seed, 2000), '{"a": "line\u2028break"}', '{"a": 1, "a": 2}']
    texts += [  # what values as strings quote, escape or keep
        '{"n": null, "t": true, "f": false, "i": -12, "x": 1.50, "s": "q\\"b\\\\s\\n"}',
        '{"o": {"k": "v \\"q\\" \\\\ \\t", "l": [1, -25, null, "ü"]}, "e": {}, "a": []}',
        '{"deep": [[{"k": ["\\"", "\\\\"]}]], "u": "中文, 🛒"}',
    ]
    written, suspect = payload_cells.objects(pa.array(texts, pa.string()), strings, keep)
    kept = dropped = 0
    for text, got, aside in zip(texts, written.to_pylist(), suspect.to_pylist(), strict=True):
        if aside:
            assert got == ""
            continue
        kept += 1
        expected = payload.parse(text)
        if keep is not None and isinstance(expected, dict):
            expected = {k: v for k, v in expected.items() if k in keep}
        if strings and isinstance(expected, dict):
            expected = {k: payload.as_text(v) for k, v in expected.items()}
        assert got == json_text(expected), text
        dropped += keep is not None and len(expected) < len(payload.parse(text))
    assert (dropped > 100) == (keep is not None)  # a locked schema dropped members
    assert suspect.to_pylist()[-5:-3] == [True, True]  # the raw line break, the repeated key
    assert suspect.to_pylist()[-3:-1] == [False, False]  # written here, not by Python
    assert kept > 400


def test_objects_past_int32_offsets_go_to_python(monkeypatch):
    """A batch whose objects could pass Arrow's int32 offsets is left to the Python reference
    whole, rather than written past its buffer (values as strings take up to 3x the bytes)."""
    texts = pa.array(['{"a": [1, "x"]}'] * 10, pa.string())  # 150 bytes of text
    monkeypatch.setattr(payload_cells, "OBJECTS_ROOM", 300)  # typed: 170, as strings: 470
    assert payload_cells.objects(texts)[1].to_pylist() == [False] * 10
    written, suspect = payload_cells.objects(texts, strings=True)
    assert suspect.to_pylist() == [True] * 10 and written.to_pylist() == [""] * 10
