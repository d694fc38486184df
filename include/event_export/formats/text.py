"""Vectorised text building for the text formats: escaping and joining whole Arrow columns.

Records are built column by column with Arrow's string kernels instead of a Python loop per row.
An absent (null) piece stays null through `piece` and vanishes in `concat`, which is how optional
fields are left out of a record.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_JSON_CONTROL = r"[\x00-\x1f]"
# Characters XML 1.0 cannot carry even as references; they become '?' (the control-character rule)
_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
_XML_ILLEGAL_PY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CSV_SPECIAL = '[,"\r\n]|^\\s|\\s$'  # leading or trailing blanks are quoted too, for Excel


def piece(*parts: pa.Array | str) -> pa.Array:
    """Parts joined end to end; null when any part is null (a field left out)."""
    return pc.binary_join_element_wise(*parts, "")


def concat(*parts: pa.Array | str) -> pa.Array:
    """Parts joined end to end; null parts count as empty."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def as_strings(column: pa.Array) -> pa.Array:
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def json_string(column: pa.Array) -> pa.Array:
    """Each value as a JSON string literal, quotes included; null stays null.

    Backslashes and quotes are escaped by kernels; the rare values holding control characters
    are encoded by the json module, so the result is always what `json.dumps` would write.
    """
    column = as_strings(column)
    escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
    quoted = piece('"', escaped, '"')
    control = pc.fill_null(pc.match_substring_regex(column, _JSON_CONTROL), False)
    if not pc.any(control).as_py():
        return quoted
    where = np.flatnonzero(control.to_numpy(zero_copy_only=False))
    fixed = [json.dumps(v, ensure_ascii=False) for v in column.take(where).to_pylist()]
    return pc.replace_with_mask(quoted, control, pa.array(fixed, pa.string()))


def xml_text(column: pa.Array) -> pa.Array:
    """Each value as XML character data: &, <, > escaped, CR kept as a reference, characters XML
    cannot hold replaced by '?'; null stays null."""
    column = as_strings(column)
    if pc.any(pc.fill_null(pc.match_substring_regex(column, _XML_ILLEGAL), False)).as_py():
        column = pc.replace_substring_regex(column, _XML_ILLEGAL, "?")
    for raw, ref in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
        column = pc.replace_substring(column, raw, ref)
    return column


def xml_text_py(value: str) -> str:
    """`xml_text` for one Python string (element content known up front, e.g. property keys)."""
    value = _XML_ILLEGAL_PY.sub("?", value)
    for raw, ref in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
        value = value.replace(raw, ref)
    return value


def csv_field(column: pa.Array) -> pa.Array:
    """Each value as a CSV field: quoted (quotes doubled) when it holds a comma, quote or line
    break, starts or ends with a blank, or is empty, so an empty string ("") differs from an
    absent value (nothing)."""
    column = as_strings(column)
    needs = pc.or_(pc.match_substring_regex(column, _CSV_SPECIAL), pc.equal(column, ""))
    quoted = piece('"', pc.replace_substring(column, '"', '""'), '"')
    return pc.if_else(needs, quoted, column)


def csv_field_py(value: str) -> str:
    if value == "" or re.search(_CSV_SPECIAL, value):
        return '"' + value.replace('"', '""') + '"'
    return value
