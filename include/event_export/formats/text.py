"""Vectorised text building for the text formats: escaping and joining whole Arrow columns.

Records are built column by column with Arrow's string kernels instead of a Python loop per row.
An absent (null) piece stays null through `piece` and vanishes in `concat`, which is how optional
fields are left out of a record. Two shortcuts keep it cheap: a column with few distinct values
is escaped once per value (`by_value`), and a column with nothing to escape skips the escaping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

# JSON: characters needing work; control characters and the Unicode line breaks JSON allows raw
# (U+0085, U+2028, U+2029, which line readers such as Python's splitlines split on) are escaped.
_JSON_SPECIAL = '[\\x00-\\x1f"\\\\\\x{85}\\x{2028}\\x{2029}]'
_JSON_RARE = "[\\x00-\\x1f\\x{85}\\x{2028}\\x{2029}]"
_LINE_BREAKS = (("\u0085", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
# XML 1.0 cannot carry these even as references; they become '?' (the control-character rule)
_XML_ILLEGAL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{FFFE}\\x{FFFF}]"
_XML_SPECIAL = "[&<>\\r\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{FFFE}\\x{FFFF}]"
_XML_ILLEGAL_PY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_REFS = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_CSV_SPECIAL = '[,"\r\n]|^[ \t]|[ \t]$'  # leading or trailing blanks are quoted too, for Excel
_CSV_SPECIAL_PY = re.compile(_CSV_SPECIAL)
# Excel-safe CSV (OWASP, "CSV Injection"): a cell starting with one of these is a formula in a
# spreadsheet; a leading single quote makes it text. The BOM tells Excel the file is UTF-8.
_EXCEL_TRIGGER = "^[=+\\-@\t\r]"
_EXCEL_TRIGGER_PY = re.compile(_EXCEL_TRIGGER)
UTF8_BOM = b"\xef\xbb\xbf"
FEW = 4  # escape per distinct value when there are at most a quarter as many values as rows
SAMPLE = 1024  # rows looked at to guess whether a column is mostly distinct


def piece(*parts: pa.Array | str) -> pa.Array:
    """Parts joined end to end; null when any part is null (a field left out)."""
    return pc.binary_join_element_wise(*parts, "")


def concat(*parts: pa.Array | str) -> pa.Array:
    """Parts joined end to end; null parts count as empty."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def as_strings(column: pa.Array) -> pa.Array:
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


def drop_first_byte(column: pa.Array) -> pa.Array:
    """Each string without its first byte (an ASCII separator written before every member)."""
    sliced = pc.binary_slice(column.view(pa.binary()), 1, 1 << 30)
    return sliced.view(pa.string())


def by_value(column: pa.Array, build: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """`build` over the distinct values when they are few, spread back to the rows by `take`."""
    sample = min(len(column), SAMPLE)
    if pc.count_distinct(column.slice(0, sample)).as_py() * FEW > sample:
        return build(column)  # mostly distinct (ids): encoding would be wasted
    encoded = pc.dictionary_encode(column)
    if len(encoded.dictionary) * FEW <= len(column):
        return build(encoded.dictionary).take(encoded.indices)
    return build(column)


def json_text(value: object) -> str:
    """`json.dumps` with UTF-8 kept and the raw Unicode line breaks escaped: one line always."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if "\u0085" in text or "\u2028" in text or "\u2029" in text:
        for raw, escaped in _LINE_BREAKS:
            text = text.replace(raw, escaped)
    return text


def json_member(column: pa.Array, name: str, lead: str = "") -> pa.Array:
    """`"name":"value"` per row (after `lead`) with the value JSON-escaped as `json_text` would;
    null stays null."""
    prefix = lead + json_text(name) + ':"'

    def build(values: pa.Array) -> pa.Array:
        values = as_strings(values)
        if not _any(pc.match_substring_regex(values, _JSON_SPECIAL)):
            return piece(prefix, values, '"')
        escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
        members = piece(prefix, escaped, '"')
        rare = pc.fill_null(pc.match_substring_regex(values, _JSON_RARE), False)
        if not _any(rare):
            return members
        fixed = [prefix[:-1] + json_text(v) for v in values.filter(rare).to_pylist()]
        return pc.replace_with_mask(members, rare, pa.array(fixed, pa.string()))

    return by_value(column, build)


def xml_text_py(value: str) -> str:
    """One Python string as XML character data: &, <, > escaped, CR kept as a reference,
    characters XML cannot hold replaced by '?'."""
    value = _XML_ILLEGAL_PY.sub("?", value)
    for raw, ref in _XML_REFS:
        value = value.replace(raw, ref)
    return value


def xml_element(column: pa.Array, name: str) -> pa.Array:
    """`<name>text</name>` per row, the text escaped as `xml_text_py` does; null stays null."""
    return xml_wrapped(column, f"<{name}>", f"</{name}>")


def xml_wrapped(column: pa.Array, before: str, after: str) -> pa.Array:
    """`before` + the text escaped as `xml_text_py` does + `after` per row; null stays null."""

    def build(values: pa.Array) -> pa.Array:
        values = as_strings(values)
        if _any(pc.match_substring_regex(values, _XML_SPECIAL)):
            values = pc.replace_substring_regex(values, _XML_ILLEGAL, "?")
            for raw, ref in _XML_REFS:
                values = pc.replace_substring(values, raw, ref)
        return piece(before, values, after)

    return by_value(column, build)


def excel_safe_py(value: str) -> str:
    """`value` with a single quote before it when a spreadsheet would read it as a formula."""
    return "'" + value if _EXCEL_TRIGGER_PY.match(value) else value


def excel_safe(column: pa.Array) -> pa.Array:
    """`excel_safe_py` for a whole string column; null stays null."""
    values = as_strings(column)
    trigger = pc.match_substring_regex(values, _EXCEL_TRIGGER)
    if not _any(trigger):
        return values
    return pc.if_else(trigger, piece("'", values), values)


def csv_field_py(value: str) -> str:
    """One CSV field: quoted (quotes doubled) when it holds a comma, quote or line break, starts
    or ends with a blank, or is empty, so an empty string ("") differs from an absent value."""
    if value == "" or _CSV_SPECIAL_PY.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_field(column: pa.Array) -> pa.Array:
    """`csv_field_py` for a whole column; null stays null (an empty field)."""

    def build(values: pa.Array) -> pa.Array:
        values = as_strings(values)
        needs = pc.or_(pc.match_substring_regex(values, _CSV_SPECIAL), pc.equal(values, ""))
        if not _any(needs):
            return values
        quoted = piece('"', pc.replace_substring(values, '"', '""'), '"')
        return pc.if_else(needs, quoted, values)

    return by_value(column, build)
