"""Event payloads: JSON text in the lake, flattened to one column per key for tabular formats."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

_COMPACT = {"ensure_ascii": False, "separators": (",", ":")}


def parse(text: str | None) -> dict:
    """One payload as a dict; empty or null text is {}, a non-object value is {"value": v}."""
    if not text:
        return {}
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


def keys_of(batches: Iterable[pa.RecordBatch]) -> list[str]:
    """Every payload key seen in the batches, sorted."""
    keys: set[str] = set()
    for batch in batches:
        encoded = pc.dictionary_encode(batch.column("payload"))
        for text in encoded.dictionary.to_pylist():
            keys.update(parse(text).keys())
    return sorted(keys)


def as_text(value: object) -> str | None:
    """A payload value as CSV text: strings as they are, JSON spelling for everything else.

    Booleans are `true`/`false`, numbers keep their JSON form (no float noise), nested objects and
    lists stay JSON, and an absent or null value is None (an empty CSV field).
    """
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, **_COMPACT)


def flatten(payloads: list[dict], keys: list[str]) -> list[pa.Array]:
    """One string column per key, in the order of `keys`."""
    return [pa.array([as_text(p.get(k)) for p in payloads], pa.string()) for k in keys]
