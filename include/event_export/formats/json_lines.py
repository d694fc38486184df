"""JSON lines, as the GCP document describes: the event name on the first line, then one JSON
object per record: `ts` (yyyymmddHHMMSS, a number), the event's own fields, `profile`,
`deviceInfo` and `eventProps`. Absent fields are left out; property values keep their JSON types
unless values go as strings. The first line is the name as a JSON string, so every line parses.
The Unicode line breaks JSON allows raw (U+0085, U+2028, U+2029) are written escaped, so readers
that split lines on them (Python's `str.splitlines`, JavaScript) still see one record per line.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from event_export.formats.base import TextWriter
from event_export.formats.records import Rows
from event_export.formats.text import as_strings, concat, json_string, piece

_LINE_BREAKS = (("\u0085", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _one_line(text: pa.Array) -> pa.Array:
    """Escape the raw Unicode line breaks (they can only occur inside JSON strings)."""
    if not pc.any(pc.match_substring_regex(text, "[\u0085\u2028\u2029]")).as_py():
        return text
    for raw, escaped in _LINE_BREAKS:
        text = pc.replace_substring(text, raw, escaped)
    return text


def _key(name: str) -> str:
    return "," + json.dumps(name, ensure_ascii=False) + ":"


def _members(inner: pa.Array) -> pa.Array:
    """`,"a":1,"b":2` -> `"a":1,"b":2` (every member is written with a leading comma)."""
    return pc.utf8_slice_codeunits(inner, 1)


class JsonLinesWriter(TextWriter):
    extension = "json"

    def header(self) -> bytes:
        if self.title is None:  # profile files have no event name line
            return b""
        title = json.dumps(self.title, ensure_ascii=False)
        for raw, escaped in _LINE_BREAKS:
            title = title.replace(raw, escaped)
        return (title + "\n").encode()

    def encode(self, rows: Rows) -> pa.Array:
        top = [piece(_key(name), text) for name, text in rows.times_text]
        for name, column in rows.scalars(skip=self.layout.name_field):
            value = json_string(column) if pa.types.is_string(column.type) else as_strings(column)
            top.append(piece(_key(name), value))
        for group, fields in rows.groups():
            inner = concat(*[piece(_key(name), json_string(column)) for name, column in fields])
            top.append(piece(_key(group), "{", _members(inner), "}"))
        top.append(piece(_key(self.layout.props), rows.props_json()))
        return _one_line(piece("{", _members(concat(*top)), "}\n"))
