"""XML, as the GCP document shows it: one `<Event>` per record with `ts`, `eventName`, the event's
own fields, `profile`, `deviceInfo` and `eventProps` as `<entry><key/><value/></entry>` pairs.

Every file is a complete UTF-8 document under one root element (`<Events>`, or `<Profiles>` of
`<Profile>` records). Text is escaped; characters XML 1.0 cannot carry at all (control
characters other than tab and line breaks) become '?'. Absent fields and properties are left out.
"""

from __future__ import annotations

import pyarrow as pa

from event_export.formats import records
from event_export.formats.base import TextWriter
from event_export.formats.records import Rows
from event_export.formats.text import concat, piece, xml_element, xml_text_py, xml_wrapped
from event_export.pipeline.payload import as_text

PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _entries(props: dict) -> str:
    """A row's properties as entries, sorted by key (the reference: one dict in Python)."""
    return "".join(
        f"<entry><key>{xml_text_py(key)}</key><value>{xml_text_py(as_text(value))}</value></entry>"
        for key, value in sorted(props.items())
        if value is not None
    )


def _entry_columns(rows: Rows) -> list[pa.Array]:
    """`_entries` per row, one column per key (sorted as `_entries` sorts), null when absent."""
    return [
        xml_wrapped(text, f"<entry><key>{xml_text_py(key)}</key><value>", "</value></entry>")
        for key, text in rows.props_text()
    ]


class XmlWriter(TextWriter):
    extension = "xml"

    def header(self) -> bytes:
        return f"{PROLOG}<{self.layout.root}>\n".encode()

    def footer(self) -> bytes:
        return f"</{self.layout.root}>\n".encode()

    def encode(self, rows: Rows) -> pa.Array:
        parts: list[pa.Array | str] = [f"<{self.layout.element}>"]
        parts += [piece(f"<{name}>", text, f"</{name}>") for name, text in rows.times_text]
        parts += [xml_element(column, name) for name, column in rows.scalars()]
        for group, fields in rows.groups():
            parts.append(f"<{group}>")
            parts += [xml_element(column, name) for name, column in fields]
            parts.append(f"</{group}>")
        props = self.layout.props
        parts.append(f"<{props}>")
        if records.NATIVE:
            parts += _entry_columns(rows)
        else:
            parts.append(rows.props_fragment(_entries))
        parts.append(f"</{props}>")
        parts.append(f"</{self.layout.element}>\n")
        return concat(*parts)
