"""Payloads read by a JSON scanner of our own in C (`payload_cells.c`), one pass a row.

Why: on real payloads nearly every text is distinct, and DuckDB's `json_transform`, with the
checks around it that keep its spelling Python's (`payload_native`), cost about 2.7 µs a row of
format's 6.4 (docs/performance.md, "Where format's CPU goes"): issue 19 asks format on realistic
payloads to stay within 1.5 times format on pooled ones. The scanner writes each cell as the
Python reference spells it (`payload.as_text(payload.parse(text)[key])`) straight into the
Arrow string columns, and leaves every row outside a conservative subset of JSON to the
reference (`suspect`), as `payload_native` does:
- not an object, blank, invalid JSON, or anything past the end of the object;
- a top-level key with an escape, or a key of the event's list given twice (Python keeps the
  last);
- a string escape `\\u0000` or a lone surrogate;
- a number with an exponent, an integer of more than 18 digits or `-0`, a decimal of more than
  15 significant digits or below 1e-4 (within those bounds Python's `repr` of the double is the
  literal with its trailing zeros dropped: 15 digits always round-trip a double);
- in a nested object or list (written compact, as `json.dumps(separators=(",", ":"))`): an
  object inside, a repeated key, a decimal, a string escape `json.dumps` would respell (`\\/`,
  `\\u`), nesting past 64 levels.

The same pass serves extract (`keys_and_members`: each row's keys and member count;
`keys_and_kinds`: gcp_export Parquet's property kinds) and gcp_export's JSON lines (`objects`:
each row's properties object written compact); each function's docstring says what it sets
aside beyond the list above.

The library (this file's C and `csv_lines.c`, the CSV records' writer) is built by `make setup`
(scripts/setup.sh, from the sources next to this file) and by the image
(deploy/Dockerfile, at `EES_SCANNER_LIBRARY`: docker-compose mounts the host's `include` over the
package). Where neither loads, `available()` is false, a warning says so once, and format reads
payloads with DuckDB (`payload_native`) as before: the same cells, slower.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from event_export import settings
from event_export.pipeline.payload_native import Flattened

LIBRARY = Path(__file__).with_name("_payload_cells.so")
ABI = 7  # what payload_cells.c's ees_cells_abi() must return: a stale build is not called
log = logging.getLogger(__name__)

_P = ctypes.c_void_p
_I = ctypes.c_int64
_lib: ctypes.CDLL | None = None
_tried = False
_lock = threading.Lock()


def _load() -> ctypes.CDLL | None:
    """The built library (ctypes releases the GIL around each call), None when it is not built
    or was built from another version of the source."""
    global _lib, _tried
    with _lock:
        if not _tried:
            _tried = True
            _lib = _open()
    return _lib


def _open() -> ctypes.CDLL | None:
    places = [settings.scanner_library(), str(LIBRARY)]
    lib = None
    for place in filter(None, places):
        try:
            lib = ctypes.CDLL(place)
        except OSError:
            continue
        abi = getattr(lib, "ees_cells_abi", None)  # ctypes: AttributeError if not exported
        if abi is not None:
            abi.restype = _I
            if abi() == ABI:
                break
        log.warning("%s is a stale build (make setup rebuilds it)", place)
        lib = None
    if lib is None:
        log.warning("%s is not built (make setup): payloads are read with DuckDB", LIBRARY)
        return None
    lib.ees_cells_parse.restype = _I
    lib.ees_cells_parse.argtypes = [_I, _P, _P, _P, _I, _I, _P, _P, _P, _I, _P, _P, _P, _P]
    lib.ees_cells_parse.argtypes += [_P, _P]
    lib.ees_cells_gather.restype = None
    lib.ees_cells_gather.argtypes = [_I, _I, _P, _P, _P, _P, _P, _P, _P, _P, _P]
    lib.ees_keys_parse.restype = _I
    lib.ees_keys_parse.argtypes = [_I, _P, _P, _P, _I, _P, _I, _P, _P, _P, _P, _P, _P, _I, _I]
    lib.ees_pairs_rehash.restype = None
    lib.ees_pairs_rehash.argtypes = [_P, _P, _P, _P, _I, _P, _P, _P, _P, _P, _I]
    lib.ees_objects_parse.restype = _I
    lib.ees_objects_parse.argtypes = [_I, _P, _P, _P, _I, _P, _P, _P, _I, _I, _P, _P, _P, _I]
    lib.ees_csv_scratch.restype = _I  # csv_lines.c, built into the same library
    lib.ees_csv_scratch.argtypes = [_I]
    lib.ees_csv_lines.restype = _I
    lib.ees_csv_lines.argtypes = [_I, _I, _P, _P, _P, _P, _I, _P, _I, _P, _P, _P]
    return lib


def library() -> ctypes.CDLL | None:
    """The built library whatever EES_PAYLOAD_SCANNER says (csv_lines.py's writer is in it too),
    None when it is not built or is a stale build."""
    return _load()


def available() -> bool:
    """Whether payloads are read here: the library loads and EES_PAYLOAD_SCANNER is not off."""
    return settings.payload_scanner_enabled() and _load() is not None


def _address(array: np.ndarray) -> int:
    return array.ctypes.data


@dataclass(frozen=True)
class StringBuffers:
    """Texts as the C functions take them: one `pa.string()` array's buffers by address."""

    array: pa.Array
    offsets: int  # the first row's offset, as an address
    data: int  # the data buffer's address (a byte of ours when there is none)
    validity: int | None  # the validity bitmap's address, None: no nulls
    size: int  # the rows' bytes

    @property
    def rows(self) -> int:
        return len(self.array)

    @property
    def bit_offset(self) -> int:
        return self.array.offset

    def raw(self) -> np.ndarray:
        """The data buffer as bytes (offsets into it come back from the C functions)."""
        data = self.array.buffers()[2]
        return np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)


_NO_BYTES = np.zeros(1, np.uint8)  # where an array has no data buffer (all null or empty)


def string_buffers(texts: pa.Array | pa.ChunkedArray) -> StringBuffers:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if texts.type != pa.string():
        texts = texts.cast(pa.string())
    validity, offsets, data = texts.buffers() if len(texts) else (None, None, None)
    if offsets is None:  # no rows: the callers return before any C call
        return StringBuffers(texts, _address(_NO_BYTES), _address(_NO_BYTES), None, 0)
    span = np.frombuffer(offsets, np.int32, len(texts) + 1, 4 * texts.offset)
    return StringBuffers(
        texts,
        offsets.address + 4 * texts.offset,
        data.address if data is not None and data.size else _address(_NO_BYTES),
        validity.address if validity is not None else None,
        int(span[-1] - span[0]),
    )


def _library() -> ctypes.CDLL:
    lib = _load()
    if lib is None:
        raise RuntimeError(f"{LIBRARY} is not built")
    return lib


def _codes(groups: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(groups, pa.ChunkedArray):
        groups = groups.combine_chunks()
    return pc.fill_null(groups.cast(pa.int32()), -1).to_numpy(zero_copy_only=False)  # null: -1


def _grown(lib: ctypes.CDLL, table: list[np.ndarray], slots: int, data_at: int) -> list:
    """The pair table (group, start, length, kinds) with twice the slots, its pairs placed
    again."""
    bigger = _table(2 * slots)
    lib.ees_pairs_rehash(
        *(_address(column) for column in table),
        slots - 1,
        data_at,
        *(_address(column) for column in bigger),
        2 * slots - 1,
    )
    return bigger


def _table(slots: int) -> list[np.ndarray]:
    empty = np.full(slots, -1, np.int32)  # a length of -1: an empty slot
    return [np.empty(slots, np.int32), np.empty(slots, np.int32), empty, np.zeros(slots, np.int32)]


def _key_table(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The keys as the C side's key table takes them: offsets, UTF-8 bytes, and room for slots
    (a power of two, at least twice the keys)."""
    encoded = [k.encode("utf-8", "surrogatepass") for k in keys]
    key_offsets = np.zeros(len(keys) + 1, np.int32)
    key_offsets[1:] = np.cumsum([len(k) for k in encoded], dtype=np.int64)
    key_data = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
    slots = np.empty(1 << max(3, (2 * len(keys)).bit_length()), np.int32)
    return key_offsets, key_data, slots


def flatten_cells(texts: pa.Array | pa.ChunkedArray, keys: list[str]) -> Flattened:
    """One string column per key for the payload texts (null or empty
    text: all null), and the rows left to the Python reference (their cells null)."""
    lib, view = _library(), string_buffers(texts)
    n = view.rows
    if n == 0:
        empty = pa.array([], pa.string())
        return Flattened([empty] * len(keys), pa.array([], pa.bool_()))
    key_offsets, key_data, slots = _key_table(keys)
    seen = np.empty(max(len(keys), 1), np.int32)
    suspect = np.empty(n, np.uint8)
    cell_start = np.empty(max(n * len(keys), 1), np.int32)
    cell_len = np.empty(max(n * len(keys), 1), np.int32)
    scratch = np.empty(view.size + 64, np.uint8)
    key_bytes = np.zeros(max(len(keys), 1), np.int64)
    lib.ees_cells_parse(
        n,
        view.offsets,
        view.data,
        view.validity,
        view.bit_offset,
        len(keys),
        _address(key_offsets),
        _address(key_data),
        _address(slots),
        len(slots) - 1,
        _address(seen),
        _address(suspect),
        _address(cell_start),
        _address(cell_len),
        _address(scratch),
        _address(key_bytes),
    )
    bitmap = (n + 7) // 8
    key_base = np.zeros(max(len(keys), 1), np.int64)
    np.cumsum(key_bytes[:-1], out=key_base[1:])
    out_offsets = np.empty((len(keys), n + 1), np.int32)
    out_data = np.empty(max(int(key_bytes.sum()), 1), np.uint8)
    out_valid = np.empty((len(keys), bitmap), np.uint8)
    nulls = np.empty(max(len(keys), 1), np.int64)
    lib.ees_cells_gather(
        n,
        len(keys),
        _address(cell_start),
        _address(cell_len),
        _address(scratch),
        view.data,
        _address(key_base),
        _address(out_offsets),
        _address(out_data),
        _address(out_valid),
        _address(nulls),
    )
    columns = []
    data_buffer = pa.py_buffer(out_data)
    for k in range(len(keys)):
        buffers = [
            pa.py_buffer(out_valid[k]),
            pa.py_buffer(out_offsets[k]),
            data_buffer.slice(int(key_base[k]), int(key_bytes[k])),
        ]
        columns.append(pa.Array.from_buffers(pa.string(), n, buffers, null_count=int(nulls[k])))
    return Flattened(columns, pa.array(suspect.view(np.bool_)))


def keys_and_members(
    texts: pa.Array | pa.ChunkedArray, groups: pa.Array | None = None
) -> tuple[dict[int, set[str]], pa.Array, pa.Array]:
    """What `payload_native.keys_and_members` gives, from one pass of C: the top-level keys per
    group (`groups`: each row's group number, else all 0), the rows left to the Python reference,
    and each row's member count (int32; null for a null or empty text and for those rows).

    A row is left to Python when it is not strict JSON of an object, has a key with an escape, or
    holds what makes the DuckDB reader set a row aside (an exponent of three digits, a run of 309,
    nesting past 64): the counts extract stages tell format's DuckDB reader which rows it may
    trust, as `payload_native`'s own counts do (payload.MEMBERS). A row set aside adds none of
    its keys here: the caller reads it in Python."""
    pairs, suspect, members = _pairs(texts, groups, kinds=False)
    found: dict[int, set[str]] = {}
    for group, key, _ in pairs:
        found.setdefault(group, set()).add(key)
    return found, suspect, members


# the kinds payload.value_kind names, by their bit in payload_cells.c (KIND_BOOL ...)
KINDS = {1: "bool", 2: "int", 4: "float", 8: "str", 16: "other"}


def keys_and_kinds(texts: pa.Array | pa.ChunkedArray) -> tuple[dict[str, set[str]], pa.Array]:
    """Every top-level key of the texts with the kinds of its non-null values (what
    `payload.kinds_of` gives the rows this keeps), and the rows left to the Python reference:
    those `keys_and_members` leaves, and those with an integer past 18 digits (int or other by
    its size)."""
    pairs, suspect, _ = _pairs(texts, None, kinds=True)
    kinds = {key: {name for bit, name in KINDS.items() if mask & bit} for _, key, mask in pairs}
    return kinds, suspect


def _pairs(
    texts: pa.Array | pa.ChunkedArray, groups: pa.Array | None, kinds: bool
) -> tuple[list[tuple[int, str, int]], pa.Array, pa.Array]:
    """(group, key, kind bits) of every distinct pair, the suspect rows, the member counts."""
    lib, view = _library(), string_buffers(texts)
    n = view.rows
    suspect = np.zeros(n, np.uint8)
    members = np.full(n, -1, np.int32)
    if n == 0:
        return [], pa.array([], pa.bool_()), pa.array([], pa.int32())
    codes = None if groups is None else np.ascontiguousarray(_codes(groups), np.int32)
    slots = 256
    table = _table(slots)
    done = used = 0
    while done < n:
        done = lib.ees_keys_parse(
            n,
            view.offsets,
            view.data,
            view.validity,
            view.bit_offset,
            None if codes is None else _address(codes),
            done,
            _address(suspect),
            _address(members),
            *(_address(column) for column in table[:3]),
            _address(table[3]) if kinds else None,
            slots - 1,
            used,
        )
        used = int(np.count_nonzero(table[2] >= 0))
        if done < n:  # the table is half full: twice the slots, the pairs placed again
            table, slots = _grown(lib, table, slots, view.data), slots * 2
    group, start, length, bits = table
    raw = view.raw()
    pairs = []
    for slot in np.flatnonzero(length >= 0):
        at = int(start[slot])
        key = raw[at : at + int(length[slot])].tobytes().decode("utf-8")
        pairs.append((int(group[slot]), key, int(bits[slot])))
    counts = pa.array(members, pa.int32(), mask=members < 0)
    return pairs, pa.array(suspect.view(np.bool_)), counts


OBJECTS_ROOM = 2**31  # the bytes `objects` may write in one Arrow string column


def objects(
    texts: pa.Array | pa.ChunkedArray, strings: bool = False, keep: Sequence[str] | None = None
) -> tuple[pa.Array, pa.Array]:
    """Each text's object written compact, as `json.dumps(payload.parse(text),
    ensure_ascii=False, separators=(",", ":"))` writes it (a null or empty text: `{}`), and the
    rows left to the Python reference (written empty): those `flatten_cells` leaves, a repeated
    key, and a raw U+0085, U+2028 or U+2029 (the JSON lines writer escapes them). With
    `strings`, each value as `payload.as_text` spells it (null stays null): gcp_export's
    `values_as_strings`. With `keep`, only the members of those keys (a locked schema's)."""
    lib, view = _library(), string_buffers(texts)
    n = view.rows
    if n == 0:
        return pa.array([], pa.string()), pa.array([], pa.bool_())
    suspect = np.empty(n, np.uint8)
    out_offsets = np.empty(n + 1, np.int32)
    # as strings, a nested value's quotes and backslashes are escaped and each value quoted:
    # at most twice its bytes plus 2, and a member is at least 4 bytes (`"":0`)
    room = (3 if strings else 1) * view.size + 2 * n
    if room >= OBJECTS_ROOM:  # past int32 offsets: every row to the Python reference
        offsets = pa.py_buffer(np.zeros(n + 1, np.int32))
        aside = pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(b"")])
        return aside, pa.array(np.ones(n, np.bool_))
    out_data = np.empty(room, np.uint8)
    key_offsets, key_data, slots = _key_table(keep or ())
    written = lib.ees_objects_parse(
        n,
        view.offsets,
        view.data,
        view.validity,
        view.bit_offset,
        _address(suspect),
        _address(out_offsets),
        _address(out_data),
        int(strings),
        -1 if keep is None else len(keep),
        _address(key_offsets),
        _address(key_data),
        _address(slots),
        len(slots) - 1,
    )
    buffers = [None, pa.py_buffer(out_offsets), pa.py_buffer(out_data).slice(0, written)]
    return pa.Array.from_buffers(pa.string(), n, buffers), pa.array(suspect.view(np.bool_))
