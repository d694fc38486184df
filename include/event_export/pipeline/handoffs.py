"""What the pipeline's tasks hand each other through XCom, declared once.

Why TypedDicts: XCom stores JSON, so the values stay plain dicts and lists (a task's return value
is what the next one receives), while every producer and consumer names the same fields. Staged
files travel as staging keys (`path`), events as their staging keys (`key`) and printable labels:
a raw event name (which may hold NUL or bidi characters) never goes through XCom.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class Extracted(TypedDict):
    """`extract`'s result: the run's rows, staged as one file."""

    day: str  # the first local day covered, ISO
    rows: int
    path: str


class Part(TypedDict):
    """One event's staged rows, or a row range of them when the event is cut over shards."""

    key: str  # the event's staging key (naming.staging_key)
    label: str  # printable, for the task's map index
    rows: int  # the whole event's rows
    path: str
    start: NotRequired[int]  # a cut event's range: rows [start, stop) of the staged file
    stop: NotRequired[int]
    piece: NotRequired[int]  # which range, from 0, of `pieces`
    pieces: NotRequired[int]


class Shard(TypedDict):
    """What one mapped `format` task formats (pipeline/shards.py): several small events, or one
    row range of a large one."""

    label: str  # printable, the task's map index: "3 events: a, b, c" or "x rows 0-999,999"
    rows: int  # rows this shard formats
    parts: list[Part]


class DeflatedFacts(TypedDict):
    """A zip member's deflate stream: see deflate.Deflated."""

    crc: int
    size: int
    compressed: int


class Chunk(TypedDict):
    """One staged gcp_export file of a series, hashed where it was written."""

    path: str
    rows: int
    size: int
    sha256: str


class Formatted(TypedDict):
    """One part formatted: a daily-zip member (`path`, `size`, `deflated`) or a gcp_export file
    series (`chunks`); a cut event's range gives one piece of either (`piece` of `pieces`)."""

    key: str
    label: str
    rows: int  # the rows formatted here (a piece's range)
    piece: NotRequired[int]
    pieces: NotRequired[int]
    path: NotRequired[str]
    size: NotRequired[int]  # the CSV's bytes before deflating
    deflated: NotRequired[DeflatedFacts]
    chunks: NotRequired[list[Chunk]]


class DeliveryDict(TypedDict):
    """A file to upload and validate (package.DeliveryFile as XCom carries it)."""

    name: str
    path: str
    size: int
    sha256: str
    rows: int
    events: dict[str, int]  # rows per event staging key
    members: dict[str, str]  # a zip's: member name -> event staging key


class UploadBatch(TypedDict):
    """What one mapped `upload` task delivers: several small files, or one large one."""

    label: str  # printable, the task's map index: the file's name, or "3 files: a, b, c"
    files: list[DeliveryDict]
