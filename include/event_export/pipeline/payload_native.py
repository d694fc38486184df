"""Payload columns flattened in native code (DuckDB's JSON functions over the Arrow batch).

Why: on real payloads nearly every text is distinct, so parsing each distinct text once in Python
costs as much as a Python loop over the rows (about 13 µs a row). DuckDB parses the whole column
in C++ (yyjson) with one `json_transform` call that yields one text column per payload key, about
1.8 µs a row, and releases the GIL while it does.

Exactness is the contract: each cell must be what `payload.as_text(payload.parse(text)[key])`
gives. `json_transform` to VARCHAR spells strings unescaped, booleans `true`/`false`, integers
with their digits (integers past 64 bits as their raw digits) and doubles exactly as Python's
`repr` (shortest round trip, checked against `repr` in tests/unit/pipeline/test_payload_native.py).
Where DuckDB and Python can differ, the row is marked `suspect` and the caller spells it in
Python. Suspect rows, by a conservative test on the raw text (it may flag a good row, never
miss a bad one):
- not a JSON object (Python gives `{"value": v}`), empty or blank (Python raises);
- a row DuckDB refuses (invalid JSON: Python decides, usually by raising);
- what DuckDB accepts and Python does not or reads differently: a trailing comma, `nan`/`inf`
  literals in any case, an exponent of three or more digits or a 309-digit run (the number may
  overflow to infinity), nesting deeper than Python's parser goes;
- duplicate top-level keys (DuckDB keeps the first, Python the last);
- a nested object or list whose compact JSON DuckDB may spell differently from
  `json.dumps(ensure_ascii=False, separators=(",", ":"))`: one holding a `\\u` escape (DuckDB
  writes upper-case hex), a number with a fraction or exponent, an object inside it, or a
  duplicate key.

Per batch: one Arrow regex pass over the raw texts, one DuckDB query for the cells and member
counts, the nested-cell tests over the distinct nested texts of all columns together, one DuckDB
query for every repeated-key candidate (docs/performance.md, "Where format's CPU goes").

Extract runs the same raw-text test and parses every row's keys anyway (`keys_and_members`), so
it stages each row's top-level member count, null where it set the row aside; given those
(`members`), `flatten_native` skips its own raw-text test and the count, a second parse of each
text (docs/performance.md, "Facts extract stages for format"). Without them (a file staged by
an older version, or by an export that does not collect keys) it runs both as before.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WS = r"[ \t\n\r]"
# One scan of each raw payload text for what makes a row suspect (see the module docstring).
_SUSPECT_TEXT = "|".join(
    [
        rf"^{_WS}*(?:[^{{ \t\n\r]|$)",  # not an object, or blank
        rf"[:\[,]{_WS}*[-+]?(?i:nan|inf)",  # NaN, Infinity, inf (DuckDB takes any case)
        r"[eE][-+]?\d{3}|\d{309}",  # numbers that may overflow a double
        rf",{_WS}*[\]}}]",  # trailing comma
    ]
)
_MAX_OPENERS = 200  # Python's decoder raises RecursionError near 1,000 levels
_STRING = r'"(?:[^"\\]|\\.)*"'
_BRACE, _BRACKET = ord("{"), ord("[")


@dataclass(frozen=True)
class Flattened:
    """One string column per key, and which rows need the Python spelling instead."""

    columns: list[pa.Array]
    suspect: pa.Array  # bool, no nulls


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per thread (format runs events side by side on threads)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(config={"threads": 1})
        _local.con = con
    return con


def _key_groups(keys: list[str]) -> list[list[int]]:
    """Key positions split so no group holds two names DuckDB's struct would call equal
    (field names are case-insensitive there)."""
    groups: list[tuple[set[str], list[int]]] = []
    for i, key in enumerate(keys):
        folded = {key.lower(), key.casefold(), key.upper()}
        for seen, members in groups:
            if not seen & folded:
                seen.update(folded)
                members.append(i)
                break
        else:
            groups.append((set(folded), [i]))
    return [members for _, members in groups]


def _run(sql: str, tables: dict[str, pa.Table], params: list | None = None) -> pa.Table:
    """`sql` over Arrow tables registered by name, on this thread's connection."""
    con = _connection()
    for name, table in tables.items():
        con.register(name, table)
    try:
        return con.sql(sql, params=params or None).to_arrow_table().combine_chunks()
    finally:
        for name in tables:
            con.unregister(name)


def _falses(n: int) -> pa.Array:
    return pa.nulls(n, pa.bool_()).fill_null(False)


def _query(
    texts: pa.Array, keys: list[str], members: pa.Array | None = None
) -> tuple[list[pa.Array], pa.Array]:
    """DuckDB's cells per key, and the rows whose top-level keys must be counted exactly.
    `members`: each row's top-level member count as extract found it (else counted here)."""
    groups = _key_groups(keys)
    schemas = [json.dumps({keys[i]: "VARCHAR" for i in g}, ensure_ascii=False) for g in groups]
    select = ", ".join(f"json_transform(p, ${n + 1}) AS v{n}" for n in range(len(groups)))
    count = ", len(json_keys(p)) AS members" if members is None else ""
    result = _run(f"SELECT {select}{count} FROM t", {"t": pa.table({"p": texts})}, schemas)
    cells: list[pa.Array] = [pa.array([], pa.string())] * len(keys)
    if not result.num_rows:
        return cells, pa.array([], pa.bool_())
    for n, group in enumerate(groups):
        struct = result.column(f"v{n}").chunk(0)
        for j, i in enumerate(group):
            cells[i] = struct.field(j).cast(pa.string())
    # A row whose members all landed in distinct non-null cells repeats no key; the others
    # (a null value, a key not asked for, or a repeated key) are counted exactly.
    filled = pa.nulls(len(texts), pa.int64()).fill_null(0)
    for column in cells:
        filled = pc.add(filled, pc.is_valid(column).cast(pa.int64()))
    if members is None:
        members = result.column("members").chunk(0)
    return cells, pc.greater(pc.fill_null(members.cast(pa.int64()), 0), filled)


def _repeats(candidates: list[pa.Array]) -> list[pa.Array]:
    """Whether each text of each array is a JSON object repeating a key: one query for all of a
    batch's candidates (the rows whose top-level count is unsure, every column's flat nested
    objects). A text that is not JSON is a string value, spelled exactly: not a repeat (`TRY`
    gives null for it, one parse where `json_valid` around `json_keys` took three)."""
    sql = (
        "SELECT len(k) <> len(list_distinct(k)) AS dup FROM (SELECT TRY(json_keys(c)) AS k FROM c)"
    )
    texts = pa.chunked_array(candidates, pa.string()).combine_chunks()
    dup = pc.fill_null(_run(sql, {"c": pa.table({"c": texts})}).column("dup").chunk(0), False)
    out, start = [], 0
    for part in candidates:
        out.append(dup.slice(start, len(part)))
        start += len(part)
    return out


def _valid(texts: pa.Array) -> pa.Array:
    """Which texts DuckDB reads as JSON (null texts count as valid)."""
    result = _run("SELECT json_valid(p) AS ok FROM t", {"t": pa.table({"p": texts})})
    return pc.fill_null(result.column("ok").chunk(0), True)


def _nested_masks(cells: list[pa.Array]) -> list[tuple[int, pa.Array]]:
    """(column, mask) of each column holding a cell that may be a nested object or list: a cell
    starting with `{` or `[`."""
    found = []
    for i, column in enumerate(cells):
        maybe = _opens_nested(column)
        if maybe is not None:
            found.append((i, maybe))
    return found


def _opens_nested(column: pa.Array) -> pa.Array | None:
    """Which cells start with `{` or `[` (no nulls), None if none does. Read from the offsets and
    data buffers in numpy, one byte a cell: a third of two `starts_with` kernels' cost
    (docs/performance.md)."""
    bufs = column.buffers()
    if column.type != pa.string() or len(column) == 0 or bufs[2] is None or bufs[2].size == 0:
        maybe = pc.or_(pc.starts_with(column, "{"), pc.starts_with(column, "["))
        return pc.fill_null(maybe, False) if pc.any(maybe).as_py() else None
    offsets = np.frombuffer(bufs[1], np.int32)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(bufs[2], np.uint8)
    starts = offsets[:-1]
    first = data[np.minimum(starts, len(data) - 1)]
    maybe = ((first == _BRACE) | (first == _BRACKET)) & (offsets[1:] > starts)
    if bufs[0] is not None:  # a null cell's bytes, if any, are not a value
        bits = np.unpackbits(np.frombuffer(bufs[0], np.uint8), bitorder="little")
        maybe &= bits[column.offset : column.offset + len(column)].astype(bool)
    return pa.array(maybe) if maybe.any() else None


def _nested_tests(nested: pa.Array) -> tuple[pa.Array, pa.Array]:
    """For cells that may be nested objects or lists: which DuckDB may spell differently from
    Python, and which are flat objects left to test for a repeated key (`_repeats`)."""
    risky = pc.match_substring(nested, "\\u")
    # A fraction or exponent digit, or an object inside, outside the strings. Blanking the
    # strings costs a regex rewrite: only the cells whose raw text matches at all get it (a match
    # with the strings blanked is also a match without).
    raw = pc.match_substring_regex(nested, r"\d[.eE]|^.+\{")
    if pc.any(raw).as_py():
        stripped = pc.replace_substring_regex(nested.filter(raw), _STRING, '""')
        inner = pc.or_(
            pc.match_substring_regex(stripped, r"\d[.eE]"),
            pc.match_substring_regex(stripped, r"^.+\{"),  # an object inside: repeats unchecked
        )
        risky = pc.or_(risky, pc.replace_with_mask(_falses(len(nested)), raw, inner))
    return risky, pc.and_(pc.starts_with(nested, "{"), pc.invert(risky))


def _suspect_texts(texts: pa.Array) -> pa.Array:
    """Rows the raw-text test sets aside (null texts are not suspect)."""
    suspect = pc.fill_null(pc.match_substring_regex(texts, _SUSPECT_TEXT), False)
    # nesting deeper than _MAX_OPENERS needs as many closers too: only long texts can
    long = pc.fill_null(pc.greater(pc.binary_length(texts), 2 * _MAX_OPENERS), False)
    if pc.any(long).as_py():
        openers = pc.count_substring_regex(texts.filter(long), r"[\[{]")
        deep = pc.replace_with_mask(_falses(len(texts)), long, pc.greater(openers, _MAX_OPENERS))
        suspect = pc.or_(suspect, deep)
    return suspect


def _normalized(texts: pa.Array) -> pa.Array:
    """Texts as strings, empty ones as null (Python reads both as {})."""
    texts = texts.cast(pa.string())
    empty = pc.equal(texts, "")
    if pc.any(empty).as_py():
        texts = pc.if_else(empty, pa.scalar(None, pa.string()), texts)
    return texts


def _prepared(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Texts with empty ones as null, and the rows the raw-text test sets aside."""
    texts = _normalized(texts)
    return texts, _suspect_texts(texts)


def _set_aside(texts: pa.Array, suspect: pa.Array) -> pa.Array:
    """`texts` with the suspect rows null (no copy when there are none)."""
    if not pc.any(suspect).as_py():
        return texts
    return pc.if_else(suspect, pa.scalar(None, pa.string()), texts)


def flatten_native(texts: pa.Array, keys: list[str], members: pa.Array | None = None) -> Flattened:
    """One string column per key for the payload texts (null or empty text: all null).

    Cells of `suspect` rows are not to be used: the caller spells those rows in Python. A key
    DuckDB cannot name as a struct field (the empty key), or any other DuckDB error, sets the
    whole batch aside. `members`, each text's top-level member count from `keys_and_members`
    (null: set aside there), replaces the raw-text test and the count here.
    """
    if members is None:
        texts, suspect = _prepared(texts)
    else:  # what extract set aside: a null count for a text that is not null
        texts = _normalized(texts)
        suspect = pc.and_(pc.is_null(members), pc.is_valid(texts))
    if "" in keys:
        return _all_suspect(len(texts), keys)
    clean = _set_aside(texts, suspect)
    try:
        try:
            cells, unsure = _query(clean, keys, members)
        except duckdb.InvalidInputException:  # a text DuckDB refuses fails the whole batch
            suspect = pc.or_(suspect, pc.invert(_valid(clean)))
            clean = _set_aside(texts, suspect)
            cells, unsure = _query(clean, keys, members)
        # The cells that may be nested, of every column at once, each distinct text tested once
        # for a spelling DuckDB may not share with Python (nested values often repeat: 182,010
        # nested cells in 300,000 realistic bench rows, 65,221 distinct); then one query tests
        # every candidate for a repeated key: the rows whose top-level count is unsure and the
        # distinct flat nested objects.
        masks = _nested_masks(cells)
        is_unsure = pc.any(unsure).as_py()
        candidates = [clean.filter(unsure)] if is_unsure else []
        if masks:
            parts = [cells[i].filter(mask) for i, mask in masks]
            encoded = pc.dictionary_encode(pa.concat_arrays(parts))
            risky, flat = _nested_tests(encoded.dictionary)
            any_flat = pc.any(flat).as_py()
            if any_flat:
                candidates.append(encoded.dictionary.filter(flat))
        found = _repeats(candidates) if candidates else []
        if is_unsure:
            suspect = pc.or_(suspect, pc.replace_with_mask(_falses(len(texts)), unsure, found[0]))
        if masks and any_flat:
            risky = pc.or_(risky, pc.replace_with_mask(_falses(len(flat)), flat, found[-1]))
        if masks and pc.any(risky).as_py():  # each row holding a bad text, in any column
            bad, start = risky.take(encoded.indices), 0
            for (_, mask), part in zip(masks, parts, strict=True):
                here = bad.slice(start, len(part))
                start += len(part)
                suspect = pc.or_(suspect, pc.replace_with_mask(_falses(len(texts)), mask, here))
    except duckdb.Error:  # anything else DuckDB will not do: the batch goes to Python
        return _all_suspect(len(texts), keys)
    return Flattened(cells, suspect)


def _all_suspect(rows: int, keys: list[str]) -> Flattened:
    nulls = pa.nulls(rows, pa.string())
    return Flattened([nulls] * len(keys), pa.nulls(rows, pa.bool_()).fill_null(True))


T = TypeVar("T")  # what a key query returns


def _read_keys(texts: pa.Array, run: Callable[[pa.Array], T]) -> tuple[T, pa.Array]:
    """`run`'s query over the texts the raw-text test keeps, and the rows left to Python: a
    text DuckDB refuses fails the whole query, so those are set aside too and it runs again."""
    texts, suspect = _prepared(texts)
    try:
        return run(_set_aside(texts, suspect)), suspect
    except duckdb.InvalidInputException:
        suspect = pc.or_(suspect, pc.invert(_valid(_set_aside(texts, suspect))))
        return run(_set_aside(texts, suspect)), suspect


def keys_native(
    texts: pa.Array, groups: pa.Array | None = None
) -> tuple[dict[int, set[str]], pa.Array]:
    """The top-level keys of the texts DuckDB reads exactly, per group, and the rows left to
    Python. `groups` numbers each row's group (an event name's dictionary code), so a batch of
    many events is one query, not one per event; without it every row is group 0."""
    group = "g" if groups is not None else "0 AS g"
    sql = f"SELECT DISTINCT {group}, unnest(json_keys(p)) AS k FROM t"

    def run(clean: pa.Array) -> pa.Table:
        table = pa.table({"p": clean} if groups is None else {"p": clean, "g": groups})
        return _run(sql, {"t": table})

    found, suspect = _read_keys(texts, run)
    keys: dict[int, set[str]] = {}
    for g, k in zip(found.column("g").to_pylist(), found.column("k").to_pylist(), strict=True):
        keys.setdefault(g, set()).add(k)
    return keys, suspect


def keys_and_members(
    texts: pa.Array, groups: pa.Array | None = None
) -> tuple[dict[int, set[str]], pa.Array, pa.Array]:
    """`keys_native`'s keys per group and rows left to Python, and each row's top-level member
    count (int32; null for a null or empty text and for the rows left to Python), from one parse
    of each row's keys: DuckDB lists them per row, Arrow finds the distinct (group, key) pairs.
    Extract stages the counts for `flatten_native` (see the module docstring)."""

    def run(clean: pa.Array) -> pa.Array:
        result = _run("SELECT json_keys(p) AS k FROM t", {"t": pa.table({"p": clean})})
        return (
            result.column("k").chunk(0) if result.num_rows else pa.array([], pa.list_(pa.string()))
        )

    lists, suspect = _read_keys(texts, run)
    lengths = pc.list_value_length(lists)
    members = lengths.cast(pa.int32())
    names = pc.list_flatten(lists)
    keys: dict[int, set[str]] = {}
    if not len(names):
        return keys, suspect, members
    encoded = pc.dictionary_encode(names)
    width = len(encoded.dictionary)
    rows = np.zeros(len(texts), np.int64) if groups is None else _int64(groups)
    per_name = np.repeat(rows, pc.fill_null(lengths, 0).to_numpy())
    pairs = pc.unique(pa.array(per_name * width + _int64(encoded.indices))).to_numpy()
    spelled = encoded.dictionary.to_pylist()
    for group, name in zip((pairs // width).tolist(), (pairs % width).tolist(), strict=True):
        keys.setdefault(group, set()).add(spelled[name])
    return keys, suspect, members


def _int64(codes: pa.Array) -> np.ndarray:
    return codes.cast(pa.int64()).to_numpy()
