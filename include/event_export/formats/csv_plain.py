"""CSV: comma-delimited, one record per row, a header. Columns: the timestamps (yyyymmddHHMMSS),
the event's own fields, then `profile.<field>`, `deviceInfo.<field>` and one `eventProps.<key>`
column per property key of the day's file series, sorted, so every chunk has the same header.

Fields are quoted when they hold a comma, a quote or a line break (quotes doubled) or start or end
with a blank, and an empty string is `""`, so an absent value (an empty field) stays
distinguishable. Any standard CSV reader round-trips it. CSV has no types: values read back as
text whatever `values_as_strings` says. With `csv_for_excel`, each file starts with a UTF-8 BOM
and a field a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) gets a
leading single quote (OWASP's advice against CSV injection).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from event_export.formats import records
from event_export.formats.base import TextWriter
from event_export.formats.records import Layout, PropsSchema, Rows
from event_export.formats.text import (
    UTF8_BOM,
    as_strings,
    csv_field,
    csv_field_py,
    excel_safe,
    excel_safe_py,
)
from event_export.pipeline import csv_lines
from event_export.pipeline.payload import as_text


def column_names(layout: Layout, props: PropsSchema) -> list[str]:
    names = [name for name, _ in layout.times] + [name for name, _ in layout.scalars]
    for group, fields in layout.groups:
        names += [f"{group}.{name}" for name, _ in fields]
    return names + [f"{layout.props}.{key}" for key in props.keys]


def _field(column: pa.Array, excel: bool) -> pa.Array:
    if excel:  # numbers too: a negative one starts with '-'
        return csv_field(excel_safe(column))
    return csv_field(column) if pa.types.is_string(column.type) else as_strings(column)


class CsvWriter(TextWriter):
    extension = "csv"

    @property
    def excel(self) -> bool:
        return self.options.csv_for_excel

    def header(self) -> bytes:
        names = column_names(self.layout, self.props)
        if self.excel:
            names = [excel_safe_py(n) for n in names]
        line = (",".join(csv_field_py(n) for n in names) + "\n").encode()
        return UTF8_BOM + line if self.excel else line

    def _props(self, props: dict) -> str:
        """A row's property fields (the reference: one dict in Python)."""
        texts = (as_text(props.get(key)) for key in self.props.keys)
        if self.excel:
            texts = (None if text is None else excel_safe_py(text) for text in texts)
        return ",".join("" if text is None else csv_field_py(text) for text in texts)

    def encode(self, rows: Rows) -> pa.Array:
        if records.NATIVE:  # every field text, quoted where needed by csv_lines
            texts = [text for _, text in rows.times_text]
            texts += [self._text(column) for _, column in rows.scalars()]
            for _, group in rows.groups():
                texts += [self._text(column) for _, column in group]
            texts += [self._text(text) for _, text in rows.props_text()]
            return csv_lines.lines(texts)
        fields = [text for _, text in rows.times_text]  # the reference
        fields += [_field(column, self.excel) for _, column in rows.scalars()]
        for _, group in rows.groups():
            fields += [_field(column, self.excel) for _, column in group]
        if self.props.keys:
            fields.append(rows.props_fragment(self._props))
        line = pc.binary_join_element_wise(
            *fields, ",", null_handling="replace", null_replacement=""
        )
        return pc.binary_join_element_wise(line, "\n", "")

    def _text(self, column: pa.Array) -> pa.Array:
        """A field's text before quoting (numbers too: a negative one starts with '-')."""
        return excel_safe(column) if self.excel else as_strings(column)
