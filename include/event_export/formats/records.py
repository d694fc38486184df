"""What a GCP-export record holds, computed once per Arrow batch and shared by every format.

A layout names the client-facing fields and the lake columns they come from: timestamps, top-level
fields, fixed groups (`profile`, `deviceInfo`) and one free-form properties object (`eventProps`
or `profileProps`). `Rows` turns one lake batch into those fields; the formats only encode them.

Properties are read in native code (pipeline/payload_native.py, DuckDB's JSON functions over the
batch): one text column per property key (`props_text`) and typed columns (`props_typed`), with
the rows native code could spell differently spelled by the Python reference, so every byte is
what the reference writes. On real payloads nearly every text is distinct, and a Python parse
per text cost most of a writer's time. The reference (`NATIVE = False`: each distinct text
parsed in Python, `props_fragment`) stays for the tests that compare the two, and writes JSON's
properties object (DuckDB's `json()` with its checks measured no faster than msgspec and
`json.dumps` per text: docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

from event_export.formats.text import json_text
from event_export.pipeline import payload_cells
from event_export.pipeline.lake import EVENT_SCHEMA, PROFILE_SCHEMA
from event_export.pipeline.payload import (
    MEMBERS,
    as_text,
    distinct_texts,
    flatten_column,
    keys_in,
    kinds_of,
    parse,
    typed,
)

Fields = tuple[tuple[str, str], ...]  # (client-facing name, lake column)
IDENTIFIERS = ("identity", "email", "phone")
NATIVE = True  # False: the Python reference (tests compare the two byte for byte)


@dataclass(frozen=True)
class Layout:
    """The record shape of one export kind."""

    root: str  # XML root element of a file
    element: str  # XML element of one record
    times: Fields  # timestamps: yyyymmddHHMMSS in the client's zone in text formats
    scalars: Fields  # further top-level fields
    groups: tuple[tuple[str, Fields], ...]  # nested objects with fixed fields
    props: str  # the free-form properties object
    props_column: str  # lake column holding the properties as JSON text
    source: pa.Schema  # the lake table's schema
    name_field: str | None = None  # the event name: JSON files carry it once, on their first line


EVENTS = Layout(
    root="Events",
    element="Event",
    times=(("ts", "ts"),),
    scalars=(
        ("eventName", "event_name"),
        ("eventId", "event_id"),
        ("eventType", "event_type"),
        ("sessionId", "session_id"),
        ("sid", "sid"),
        ("msgId", "msg_id"),
        ("medium", "medium"),
        ("url", "url"),
        ("purl", "purl"),
        ("pts", "pts"),
    ),
    groups=(
        ("profile", (("identity", "identity"), ("email", "email"), ("phone", "phone"))),
        (
            "deviceInfo",
            (
                ("appVersion", "app_version"),
                ("appId", "app_id"),
                ("siteId", "site_id"),
                ("model", "model"),
                ("make", "make"),
                ("osType", "os_type"),
                ("osVersion", "os_version"),
                ("sdkVersion", "sdk_version"),
            ),
        ),
    ),
    props="eventProps",
    props_column="payload",
    source=EVENT_SCHEMA,
    name_field="eventName",
)

PROFILES = Layout(
    root="Profiles",
    element="Profile",
    times=(("firstSeen", "first_seen"), ("lastSeen", "last_seen")),
    scalars=(),
    groups=(
        (
            "profile",
            (
                ("identity", "identity"),
                ("email", "email"),
                ("phone", "phone"),
                ("name", "name"),
                ("gender", "gender"),
                ("city", "city"),
                ("country", "country"),
                ("platform", "platform"),
            ),
        ),
    ),
    props="profileProps",
    props_column="properties",
    source=PROFILE_SCHEMA,
)


@dataclass(frozen=True)
class Options:
    """How values are written, from the export config."""

    timezone: str = "UTC"
    identity_priority: tuple[str, ...] = ("identity",)
    values_as_strings: bool = False
    csv_for_excel: bool = False  # CSV only: a BOM, and formula-like cells quoted (text.excel_safe)


def resolve_identity(columns: dict[str, pa.Array], priority: Iterable[str]) -> pa.Array:
    """The identity column: the first present (non-null, non-empty) identifier in priority
    order, else the empty string."""
    candidates = []
    for name in priority:
        column = columns[name]
        candidates.append(pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column))
    return pc.coalesce(*candidates, pa.scalar("", pa.string()))


def _arrow_type(kinds: set[str]) -> pa.DataType:
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds == {"int"}:
        return pa.int64()
    if kinds and kinds <= {"int", "float"}:
        return pa.float64()
    return pa.string()  # strings, and objects, lists or mixed types as JSON text


@dataclass(frozen=True)
class PropsSchema:
    """Every property key of a file series, sorted, with the typed column it gets in Parquet."""

    keys: tuple[str, ...] = ()
    types: tuple[pa.DataType, ...] = ()
    exact: bool = False  # only `keys` are written, other properties dropped (schema: locked)
    drops: bool = False  # exact, and the data holds keys that are not written

    def only(self, keys: Iterable[str]) -> PropsSchema:
        """Exactly these keys, sorted, typed as scanned (text when the data has none)."""
        scanned = dict(zip(self.keys, self.types, strict=True))
        kept = tuple(sorted(set(keys)))
        types = tuple(scanned.get(k, pa.string()) for k in kept)
        return PropsSchema(kept, types, exact=True, drops=bool(set(self.keys) - set(kept)))


def props_schema(kinds: dict[str, Iterable[str]], values_as_strings: bool = False) -> PropsSchema:
    """The schema of a file series from its properties' keys and value kinds
    (`payload.kinds_of`; extract collects them for an event, see pipeline/stages/split.py)."""
    keys = tuple(sorted(kinds))
    if values_as_strings:
        return PropsSchema(keys, tuple(pa.string() for _ in keys))
    return PropsSchema(keys, tuple(_arrow_type(set(kinds[k])) for k in keys))


def scan_props(
    texts: Iterable[pa.Array], values_as_strings: bool = False, typed: bool = True
) -> PropsSchema:
    """Keys and types over all properties texts (a pre-pass, so every chunk shares one schema).

    Only Parquet reads the types (`typed`): they take a Python pass over every distinct text,
    where the keys alone are found in native code (text formats: every key typed as text)."""
    if typed and not values_as_strings:
        return props_schema(kinds_of(texts))
    return props_schema(dict.fromkeys(keys_in(texts), ()), values_as_strings=True)


class Rows:
    """One lake batch as a layout's fields; each view is computed on first use."""

    def __init__(self, batch: pa.RecordBatch, layout: Layout, options: Options, props: PropsSchema):
        self.batch = batch
        self.layout = layout
        self.options = options
        self.props_schema = props
        self.num_rows = batch.num_rows

    def column(self, lake_column: str) -> pa.Array:
        if lake_column == "identity":
            return self.identity
        return self.batch.column(lake_column)

    @cached_property
    def identity(self) -> pa.Array:
        columns = {name: self.batch.column(name) for name in IDENTIFIERS}
        return resolve_identity(columns, self.options.identity_priority)

    def times(self) -> list[tuple[str, pa.Array]]:
        """Timestamps in the client's zone (same instants; the zone travels in the type)."""
        out = []
        for name, column in self.layout.times:
            values = self.batch.column(column)
            out.append((name, values.cast(pa.timestamp(values.type.unit, self.options.timezone))))
        return out

    @cached_property
    def times_text(self) -> list[tuple[str, pa.Array]]:
        """Timestamps as yyyymmddHHMMSS in the client's zone, as the GCP document shows them.

        Built as the number Y*10^10 + M*10^8 + ... from the local fields: ten times faster than
        Arrow's strftime, which formats every value through the time zone database.
        """
        out = []
        for name, zoned in self.times():
            local = pc.local_timestamp(zoned)
            number = pc.year(local)
            for part, scale in ((pc.month, 100), (pc.day, 100), (pc.hour, 100), (pc.minute, 100)):
                number = pc.add(pc.multiply(number, scale), part(local))
            number = pc.add(pc.multiply(number, 100), pc.second(local))
            out.append((name, number.cast(pa.string())))
        return out

    def scalars(self, skip: str | None = None) -> list[tuple[str, pa.Array]]:
        return [(n, self.column(c)) for n, c in self.layout.scalars if n != skip]

    def groups(self) -> list[tuple[str, list[tuple[str, pa.Array]]]]:
        return [(g, [(n, self.column(c)) for n, c in fields]) for g, fields in self.layout.groups]

    @property
    def _members(self) -> pa.Array | None:
        """Extract's member count of each row's payload, when it staged them (payload.MEMBERS;
        a file staged without them: the payloads are tested and counted when flattened)."""
        if self.layout.props_column != "payload" or MEMBERS not in self.batch.schema.names:
            return None
        return self.batch.column(MEMBERS)

    @cached_property
    def _decoded(self) -> tuple[list[dict], pa.Array]:
        """Distinct properties texts parsed once, and each row's index into them (reference)."""
        encoded = pc.dictionary_encode(self.batch.column(self.layout.props_column))
        parsed = [parse(text) for text in encoded.dictionary.to_pylist()]
        return parsed, encoded.indices

    def props_fragment(self, render: Callable[[dict], str]) -> pa.Array:
        """`render(properties)` for each row, computed once per distinct properties text.

        The reference way of the text formats (JSON's where the payload scanner is not built): a
        row's whole properties part rendered in Python (a JSON object, XML entries, CSV fields).
        Values are already strings when values go as strings; absent properties render as {}.
        """
        parsed, indices = self._decoded
        texts = pa.array([render(p) for p in self._delivered(parsed)], pa.string())
        return pc.fill_null(texts.take(indices), render({}))

    def _delivered(self, parsed: list[dict]) -> list[dict]:
        """The parsed properties as the Python reference writes them: a locked schema's keys
        only (schema: locked, the one place other keys are dropped), values as `as_text` spells
        them when values go as strings."""
        if self.props_schema.exact:
            keep = frozenset(self.props_schema.keys)
            parsed = [{k: v for k, v in p.items() if k in keep} for p in parsed]
        if self.options.values_as_strings:
            parsed = [{k: as_text(v) for k, v in p.items()} for p in parsed]
        return parsed

    def props_text(self) -> list[tuple[str, pa.Array]]:
        """Each property key of the schema with its values as text (`payload.as_text`), null
        where the row has no value (absent or null)."""
        keys = list(self.props_schema.keys)
        column = self.batch.column(self.layout.props_column)
        return list(zip(keys, flatten_column(column, keys, members=self._members), strict=True))

    def props_typed(self) -> list[tuple[str, pa.Array]]:
        """Each property in its scanned type (all strings when values go as strings)."""
        schema = self.props_schema
        keys, types = list(schema.keys), list(schema.types)
        if NATIVE:
            column = self.batch.column(self.layout.props_column)
            columns = flatten_column(column, keys, types, self._members)
            return list(zip(keys, columns, strict=True))
        parsed, indices = self._decoded
        return list(zip(keys, [c.take(indices) for c in typed(parsed, keys, types)], strict=True))

    def props_json(self) -> pa.Array:
        """Each row's properties as one compact JSON object (values as strings if asked, only a
        locked schema's keys): from the payload scanner where it is built, the rows it sets
        aside rendered in Python."""
        if not (NATIVE and payload_cells.available()):
            return self.props_fragment(json_text)
        texts, indices = distinct_texts(self.batch.column(self.layout.props_column))
        keep = self.props_schema.keys if self.props_schema.exact else None
        written, suspect = payload_cells.objects(texts, self.options.values_as_strings, keep)
        if pc.any(suspect).as_py():
            parsed = [parse(text) for text in texts.filter(suspect).to_pylist()]
            rest = [json_text(p) for p in self._delivered(parsed)]
            written = pc.replace_with_mask(written, suspect, pa.array(rest, pa.string()))
        if indices is not None:
            written = pc.fill_null(written.take(indices), json_text({}))
        return written
