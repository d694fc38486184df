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
    """One of `split_by_event`'s parts, what one mapped `format` task formats."""

    key: str  # the event's staging key (naming.staging_key)
    label: str  # printable, for the task's map index
    rows: int
    path: str


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
    series (`chunks`)."""

    key: str
    label: str
    rows: int
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
