"""JSON lines, as the GCP document describes: the event name on the first line, then one JSON
object per record: `ts` (yyyymmddHHMMSS, a number), the event's own fields, `profile`,
`deviceInfo` and `eventProps`. Absent fields are left out; property values keep their JSON types
unless values go as strings. The first line is the name as a JSON string, so every line parses.
The Unicode line breaks JSON allows raw (U+0085, U+2028, U+2029) are written escaped, so readers
that split lines on them (Python's `str.splitlines`, JavaScript) still see one record per line.
"""

from __future__ import annotations

import pyarrow as pa

from event_export.formats.base import TextWriter
from event_export.formats.records import Rows
from event_export.formats.text import (
    as_strings,
    concat,
    drop_first_byte,
    json_member,
    json_text,
    piece,
)


def _members(parts: list[pa.Array]) -> pa.Array:
    """Members written as `,"a":1` (null when absent) joined, without the first comma."""
    return drop_first_byte(concat(*parts))


def _member(name: str, value: pa.Array) -> pa.Array:
    return piece("," + json_text(name) + ":", value)


class JsonLinesWriter(TextWriter):
    extension = "json"

    def header(self) -> bytes:
        if self.title is None:  # profile files have no event name line
            return b""
        return (json_text(self.title) + "\n").encode()

    def encode(self, rows: Rows) -> pa.Array:
        top = [_member(name, text) for name, text in rows.times_text]
        for name, column in rows.scalars(skip=self.layout.name_field):
            if pa.types.is_string(column.type):
                top.append(json_member(column, name, lead=","))
            else:
                top.append(_member(name, as_strings(column)))
        for group, fields in rows.groups():
            inner = _members([json_member(column, name, lead=",") for name, column in fields])
            top.append(piece("," + json_text(group) + ":{", inner, "}"))
        top.append(_member(self.layout.props, rows.props_json()))
        return piece("{", _members(top), "}\n")
