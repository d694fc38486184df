"""The grammar of a gcp_export `path_template`: folders under the export's path, per file.

Why here, at config load: a template is checked once, when its file is read, so a bad one fails
alone with the file and the field named, and a template that passed can never render an empty,
absolute or escaping path whatever the run's values are. Rendering (pipeline/naming.py) only fills
in values that are safe by construction: digits, the export id (an identifier), the request id
(digits) and the event name through the same safe-naming function as file names.

A template is `/`-separated folder names, each literal text and `{placeholder}`s, e.g.
`dt={yyyy}-{mm}-{dd}/event={event}` (Hive style). No leading or trailing `/`, no empty, `.` or
`..` folder, no folder starting with a dot, no character a file system refuses, only the known
placeholders, braces balanced (a literal brace is not allowed at all: no file name needs one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from string import Formatter

# Placeholder -> the longest text it renders to (the event part is cut to EVENT_BYTES).
EVENT_BYTES = 100  # an event folder name's event part, UTF-8 bytes; longer names are cut + hashed
PLACEHOLDERS = {
    "yyyy": 4,
    "mm": 2,
    "dd": 2,
    "hh": 2,
    "event": EVENT_BYTES,
    "export_id": 63,
    "request_id": 10,
}
MAX_LENGTH = 200  # characters of the template itself
MAX_FOLDERS = 8
MAX_FOLDER_BYTES = 255  # a folder name on ext4, APFS, NTFS
# What a literal part may not hold: separators other than '/', characters Windows refuses,
# control characters, and whitespace (spaces in keys and folders trip up shell tools).
_REFUSED_LITERAL = re.compile(r'[\\<>:"|?*\x00-\x1f\x7f\s]')


@dataclass(frozen=True)
class Piece:
    """Literal text followed by a placeholder name (None at a folder's end)."""

    text: str
    field: str | None


Folder = tuple[Piece, ...]


def parse(template: str) -> tuple[Folder, ...]:
    """The template's folders, each a sequence of pieces; ValueError naming the first problem."""
    if not template:
        raise ValueError("must not be empty (leave the field out for no folders)")
    if len(template) > MAX_LENGTH:
        raise ValueError(f"must be at most {MAX_LENGTH} characters")
    if template.startswith("/"):
        raise ValueError("must be relative: no leading '/'")
    parts = template.split("/")
    if len(parts) > MAX_FOLDERS:
        raise ValueError(f"at most {MAX_FOLDERS} folder levels")
    return tuple(_folder(part, number) for number, part in enumerate(parts, 1))


def _folder(part: str, number: int) -> Folder:
    where = f"folder {number} ({part!r})"
    if not part:
        raise ValueError(f"folder {number} is empty: no '//' and no trailing '/'")
    if part in (".", ".."):
        raise ValueError(f"{where}: '.' and '..' are not allowed")
    if part.startswith("."):
        raise ValueError(f"{where}: must not start with '.' (a hidden folder)")
    if part.endswith("."):
        raise ValueError(f"{where}: must not end with '.' (Windows drops it)")
    try:
        parsed = list(Formatter().parse(part))
    except ValueError as exc:  # "Single '}' encountered", "expected '}' before end of string"
        raise ValueError(f"{where}: braces unbalanced ({exc})") from None
    pieces = []
    for text, field, spec, conversion in parsed:
        if "{" in text or "}" in text:  # '{{' / '}}' escapes: no name needs a brace
            raise ValueError(f"{where}: a literal brace is not allowed")
        if bad := _REFUSED_LITERAL.search(text):
            raise ValueError(f"{where}: the character {bad.group()!r} is not allowed")
        if field is not None:
            if field not in PLACEHOLDERS:
                known = " ".join(f"{{{name}}}" for name in PLACEHOLDERS)
                raise ValueError(f"{where}: unknown placeholder {{{field}}}; known: {known}")
            if spec or conversion:
                raise ValueError(f"{where}: {{{field}}} takes no format or conversion")
        pieces.append(Piece(text, field))
    longest = sum(len(p.text.encode()) + PLACEHOLDERS.get(p.field or "", 0) for p in pieces)
    if longest > MAX_FOLDER_BYTES:
        raise ValueError(f"{where}: may render to {longest} bytes, over {MAX_FOLDER_BYTES}")
    return tuple(pieces)


def longest(template: str, measure: Callable[[str], int] = lambda text: len(text.encode())) -> int:
    """The longest a valid template's folders can render to, separators included, in
    `measure`'s unit (UTF-8 bytes by default): literal text measured, each placeholder its
    PLACEHOLDERS maximum in bytes (so also a bound on its characters)."""
    folders = parse(template)
    pieces = [p for folder in folders for p in folder]
    return (
        sum(measure(p.text) + PLACEHOLDERS.get(p.field or "", 0) for p in pieces) + len(folders) - 1
    )


def fields(template: str) -> set[str]:
    """The placeholders a valid template uses."""
    return {p.field for folder in parse(template) for p in folder if p.field}


def check(template: str) -> str:
    """`template` if valid (pydantic's validator), else ValueError."""
    parse(template)
    return template
