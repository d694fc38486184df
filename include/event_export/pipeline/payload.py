"""Event payloads: JSON text in the lake, flattened to one column per key for tabular formats.

The reference is Python: `parse` then `as_text` per value. Parsing goes through msgspec's C
decoder; a text it refuses (NaN, a number out of float range, a lone surrogate, invalid JSON) goes
to `json.loads`, so every payload parses to exactly what the stdlib gives, or fails with its error.

`flatten_column`, `keys_of` and `keys_by_group`, what extract and format call per batch, run in
native code and hand the rows native code cannot spell exactly to the Python reference, so every
cell is what the reference gives. The native code is our own JSON scanner in C (`payload_cells`,
built by `make setup`), else DuckDB's JSON functions (`payload_native`, several times slower on
realistic payloads, where nearly every text is distinct); with DuckDB, batches under
`_NATIVE_MIN_ROWS` rows go to the reference whole: its set-up per batch costs more than reading
them in Python.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from event_export.pipeline import payload_cells
from event_export.pipeline.payload_native import (
    flatten_native,
    keys_and_members,
    keys_native,
)

# The staged column of each row's top-level member count (int32), null where extract set the
# row aside for the Python reference: `keys_by_group` finds it, `flatten_column` reads it. A
# change to what sets a row aside (payload_native's raw-text test) must rename the column, so a
# file staged before the change is tested again by format instead of trusted.
MEMBERS = "payload_members"
_COMPACT = {"ensure_ascii": False, "separators": (",", ":")}
_INT64 = (-(2**63), 2**63)
_EXACT_FLOAT_DIGITS = 15  # integers of more digits may pass 2^53: pyarrow refuses them as float64
_decode = msgspec.json.Decoder().decode
_decode_keys = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode  # values left undecoded


def parse(text: str | None) -> dict:
    """One payload as a dict; empty or null text is {}, a non-object value is {"value": v}."""
    if not text:
        return {}
    try:
        value = _decode(text)
    except msgspec.DecodeError:  # what msgspec refuses, the stdlib decides (or raises)
        value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def parse_column(column: pa.Array | pa.ChunkedArray) -> list[dict]:
    """Parse each distinct payload text once; repeated payloads share one parsed dict."""
    encoded = pc.dictionary_encode(column)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    out: list[dict] = []
    for chunk in chunks:
        parsed = [parse(t) for t in chunk.dictionary.to_pylist()]
        out.extend(parsed[i] if i is not None else {} for i in chunk.indices.to_pylist())
    return out


# Below this many rows a batch is spelled by the Python reference alone: native code's fixed cost
# per batch (two DuckDB queries, some hundred Arrow kernel calls: 8-10 ms with 17 keys) is more
# than the reference's 11 us a realistic row up to about 1,000 rows (measured: 512 rows, 12.7 ms
# native against 5.9 ms; 25 rows, 8.9 against 0.3). A small day's events are a batch each.
_NATIVE_MIN_ROWS = 512

# Below this share of distinct texts in a batch, native code reads only the distinct texts and
# rows take theirs (the pooled benchmark day: 2%); above it, it reads the rows directly.
_DISTINCT_SHARE = 0.5
_SAMPLE = 4096


def distinct_texts(column: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array | None]:
    """The texts to read and, when they are the distinct ones, each row's index into them."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    sample = column.slice(0, _SAMPLE)
    if len(column) > _SAMPLE and pc.count_distinct(sample).as_py() > _DISTINCT_SHARE * _SAMPLE:
        return column, None  # mostly distinct: hashing every text would not pay
    encoded = pc.dictionary_encode(column)
    if len(encoded.dictionary) <= _DISTINCT_SHARE * len(column):
        return encoded.dictionary, encoded.indices
    return column, None


def keys_of(batches: Iterable[pa.RecordBatch]) -> list[str]:
    """Every payload key seen in the batches, sorted."""
    return keys_in(batch.column("payload") for batch in batches)


def keys_in(columns: Iterable[pa.Array | pa.ChunkedArray]) -> list[str]:
    """Every top-level key of the JSON texts in the columns, sorted (`keys_of` for any column)."""
    keys: set[str] = set()
    scanner = payload_cells.available()
    for column in columns:
        if not scanner and len(column) < _NATIVE_MIN_ROWS:  # the reference (see flatten_column)
            found, rest = {}, pc.unique(column)
        else:  # the reference reads only the texts native code marks suspect
            texts, _ = distinct_texts(column)
            if scanner:
                found, suspect, _ = payload_cells.keys_and_members(texts)
            else:
                found, suspect = keys_native(texts)
            rest = texts.filter(suspect)
        keys.update(found.get(0, ()))
        for text in rest.to_pylist():
            keys.update(_keys(text))
    return sorted(keys)


def keys_by_group(
    column: pa.Array | pa.ChunkedArray, groups: pa.Array
) -> tuple[dict[int, set[str]], pa.Array]:
    """Every payload key per group of rows (`groups`: each row's group number), in one native
    pass over the batch: what `keys_of` gives for each group's rows alone. Extract collects
    each event's keys this way, one query per lake batch instead of one per event in it
    (measured: 5.4 -> 1.7 CPU-s per million realistic payloads).

    Also each row's top-level member count (int32), null where the row is left to the Python
    reference (and for every row of a batch read in Python): extract stages it as `MEMBERS`,
    so `flatten_column` need not test and count each text again."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    scanner = payload_cells.available()
    if not scanner and len(column) < _NATIVE_MIN_ROWS:  # the reference (see flatten_column)
        found: dict[int, set[str]] = {}
        rest_groups, rest = groups, column
        members = pa.nulls(len(column), pa.int32())
    else:  # the reference reads only the rows native code marks suspect
        reader = payload_cells.keys_and_members if scanner else keys_and_members
        found, suspect, members = reader(column, groups)
        rest_groups, rest = groups.filter(suspect), column.filter(suspect)
    for group, text in zip(rest_groups.to_pylist(), rest.to_pylist(), strict=True):
        found.setdefault(group, set()).update(_keys(text))
    return found, members


def keys_of_python(batches: Iterable[pa.RecordBatch]) -> list[str]:
    """`keys_of` in Python alone: the reference the native path is tested against."""
    keys: set[str] = set()
    for batch in batches:
        encoded = pc.dictionary_encode(batch.column("payload"))
        for text in encoded.dictionary.to_pylist():
            keys.update(_keys(text))
    return sorted(keys)


def _keys(text: str | None):
    """`parse(text).keys()` without decoding the values (about 3x faster on real payloads)."""
    if not text:
        return ()
    try:
        return _decode_keys(text).keys()
    except msgspec.DecodeError:  # not an object, or a text only the stdlib takes
        return parse(text).keys()


def as_text(value: object) -> str | None:
    """A payload value as CSV text: strings as they are, JSON spelling for everything else.

    Booleans are `true`/`false`, numbers keep their JSON form (no float noise), nested objects and
    lists stay JSON, and an absent or null value is None (an empty CSV field).
    """
    kind = type(value)
    if value is None or kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)  # what json.dumps writes for them, at a fraction of its cost
    return json.dumps(value, **_COMPACT)


def flatten(payloads: list[dict], keys: list[str]) -> list[pa.Array]:
    """One string column per key, in the order of `keys`."""
    return [pa.array([as_text(p.get(k)) for p in payloads], pa.string()) for k in keys]


def flatten_column(
    column: pa.Array | pa.ChunkedArray,
    keys: list[str],
    types: list[pa.DataType] | None = None,
    members: pa.Array | pa.ChunkedArray | None = None,
) -> list[pa.Array]:
    """`flatten(parse_column(column), keys)`, in native code where it is exact.

    Rows native code marks suspect (see `payload_native`) are spelled by the Python reference
    and put in place with one mask per key; pooled payloads are read once per distinct text.
    With `types`, each key's column has its type: `typed(parse_column(column), keys, types)`
    (the text of a string column, the value itself of an int64, float64 or boolean one).
    `members`: the rows' staged `MEMBERS` column, when extract staged one.
    """
    if not keys:
        return []
    scanner = payload_cells.available()  # no set-up cost to speak of: every batch
    if not scanner and len(column) < _NATIVE_MIN_ROWS:  # cheaper than DuckDB's set-up
        parsed = parse_column(column)
        return flatten(parsed, keys) if types is None else typed(parsed, keys, types)
    texts, indices = distinct_texts(column)
    if scanner:
        native = payload_cells.flatten_cells(texts, keys)
    else:
        if members is not None:
            members = _members_of(members, indices, len(texts))
        native = flatten_native(texts, keys, members)
    columns, suspect = native.columns, native.suspect
    if types is not None:
        columns, suspect = _cast(columns, types, suspect)
    if pc.any(suspect).as_py():
        parsed = [parse(t) for t in texts.filter(suspect).to_pylist()]
        spelled = flatten(parsed, keys) if types is None else typed(parsed, keys, types)
        columns = [
            pc.replace_with_mask(c, suspect, s) for c, s in zip(columns, spelled, strict=True)
        ]
    if indices is not None:
        columns = [c.take(indices) for c in columns]  # a null payload takes null everywhere
    return columns


def _members_of(
    members: pa.Array | pa.ChunkedArray, indices: pa.Array | None, distinct: int
) -> pa.Array:
    """The staged member counts for the texts `distinct_texts` gave: the rows' own, or one per
    distinct text (any of its rows': equal texts have equal counts), null where any of its
    rows was set aside (a text read in Python in one extract batch and natively in another)."""
    if isinstance(members, pa.ChunkedArray):
        members = members.combine_chunks()
    if indices is None:
        return members
    rows = pc.is_valid(indices)  # a null payload has no text to count
    index = pc.filter(indices, rows).cast(pa.int64()).to_numpy()
    counts = pc.fill_null(pc.filter(members, rows), -1).cast(pa.int64()).to_numpy()
    out = np.zeros(distinct, np.int64)
    out[index] = counts
    out[index[counts < 0]] = -1
    return pa.array(out, pa.int32(), mask=out < 0)


def _cast(
    columns: list[pa.Array], types: list[pa.DataType], suspect: pa.Array
) -> tuple[list[pa.Array], pa.Array]:
    """Native text cells as their types; float64 cells holding long integers become suspect
    (pyarrow refuses an integer past 2^53 as a double: Python decides, and raises)."""
    for cells, type_ in zip(columns, types, strict=True):
        if pa.types.is_floating(type_):
            digits = pc.match_substring_regex(cells, rf"^-?[0-9]{{{_EXACT_FLOAT_DIGITS + 1},}}$")
            suspect = pc.or_(suspect, pc.fill_null(digits, False))
    out = []
    for cells, type_ in zip(columns, types, strict=True):
        if pa.types.is_string(type_):
            out.append(cells)
            continue
        cells = pc.if_else(suspect, pa.scalar(None, pa.string()), cells)
        try:
            out.append(cells.cast(type_))
        except pa.ArrowInvalid:  # not expected: the whole batch goes to Python
            every = pa.nulls(len(cells), pa.bool_()).fill_null(True)
            return [pa.nulls(len(c), t) for c, t in zip(columns, types, strict=True)], every
    return out, suspect


def typed(payloads: list[dict], keys: list[str], types: list[pa.DataType]) -> list[pa.Array]:
    """One column per key in its type: text (`as_text`) for string columns, else the value."""
    return [
        pa.array([as_text(p.get(k)) for p in payloads], t)
        if pa.types.is_string(t)
        else pa.array([p.get(k) for p in payloads], t)
        for k, t in zip(keys, types, strict=True)
    ]


def value_kind(value: object) -> str:
    """What a property value types a Parquet column as: bool, int (64 bits), float, str, or
    other (objects, lists, larger integers)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64[0] <= value < _INT64[1] else "other"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "other"


def kinds_of(columns: Iterable[pa.Array]) -> dict[str, set[str]]:
    """Every top-level key of the payload texts and the kinds of its non-null values: from the
    scanner where it is built (`payload_cells.keys_and_kinds`, the rows it sets aside parsed in
    Python), else each distinct text parsed once in Python (msgspec; DuckDB's ways measured no
    faster: docs/performance.md, "gcp_export's properties in native code")."""
    if not payload_cells.available():
        return kinds_of_python(columns)
    kinds: dict[str, set[str]] = {}
    for column in columns:
        texts, _ = distinct_texts(column)
        found, suspect = payload_cells.keys_and_kinds(texts)
        for key, seen in found.items():
            kinds.setdefault(key, set()).update(seen)
        for text in texts.filter(suspect).to_pylist():
            _add_kinds(kinds, parse(text))
    return kinds


def kinds_of_python(columns: Iterable[pa.Array]) -> dict[str, set[str]]:
    """`kinds_of` in Python alone: the reference the scanner is tested against."""
    kinds: dict[str, set[str]] = {}
    for column in columns:
        for text in pc.unique(column).to_pylist():
            _add_kinds(kinds, parse(text))
    return kinds


def _add_kinds(kinds: dict[str, set[str]], payload: dict) -> None:
    for key, value in payload.items():
        seen = kinds.setdefault(key, set())
        if value is not None:
            seen.add(value_kind(value))


def flatten_column_python(column: pa.Array | pa.ChunkedArray, keys: list[str]) -> list[pa.Array]:
    """`flatten(parse_column(column), keys)` without per-row Python work for repeated payloads.

    Each distinct payload text is parsed and spelled once; rows then pick their values with one
    `take` per key, so the cost follows the distinct payloads, not the rows.
    """
    encoded = pc.dictionary_encode(column)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    out: list[list[pa.Array]] = [[] for _ in keys]
    for chunk in chunks:
        distinct = flatten([parse(t) for t in chunk.dictionary.to_pylist()], keys)
        for values, parts in zip(distinct, out, strict=True):
            parts.append(values.take(chunk.indices))  # a null payload takes null everywhere
    return [pa.concat_arrays(p) if p else pa.array([], pa.string()) for p in out]
