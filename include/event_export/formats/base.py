"""The one interface every format implements: feed `Rows` batches, get the files written.

A writer owns its file series: it opens files, cuts them at the size limit on record boundaries
and closes each one as a valid file of its format (header, records, footer).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from event_export.formats.chunks import Chunk, TextChunks
from event_export.formats.records import Layout, Options, PropsSchema, Rows


@dataclass(frozen=True)
class Output:
    """Where and how a file series is written."""

    out_dir: Path
    limit: int | None = None  # bytes per file; None: one file
    gzip: bool = False  # each file wrapped in gzip (profile exports' `.gz`)
    parquet_gzip: bool = True  # Parquet's own column compression (event exports)
    gzip_name: str | None = None  # the delivered file's name, for the gzip header
    codec: str | None = None  # event files: text stream gzip|zstd|none, parquet's own codec
    # gzip|zstd|snappy|none (None: parquet_gzip decides, text files are not compressed)


class FormatWriter(ABC):
    extension: ClassVar[str]

    def __init__(
        self,
        layout: Layout,
        options: Options,
        props: PropsSchema,
        output: Output,
        title: str | None = None,
    ):
        self.layout = layout
        self.options = options
        self.props = props
        self.output = output
        self.title = title  # the event name of an event file series

    @abstractmethod
    def write(self, rows: Rows) -> None:
        """Append one batch of records."""

    @abstractmethod
    def close(self) -> list[Chunk]:
        """Finish the series; returns its files in index order (at least one)."""


class TextWriter(FormatWriter):
    """A text format: a header, one line-terminated text per record, a footer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        out = self.output
        self.sink = TextChunks(
            out.out_dir,
            self.extension,
            self.header(),
            self.footer(),
            out.limit,
            out.gzip,
            out.gzip_name,
            codec=out.codec or "none",
        )

    def header(self) -> bytes:
        return b""

    def footer(self) -> bytes:
        return b""

    @abstractmethod
    def encode(self, rows: Rows) -> pa.Array:
        """One string per record, each ending in a newline."""

    def write(self, rows: Rows) -> None:
        self.sink.write(self.encode(rows))

    def close(self) -> list[Chunk]:
        return self.sink.close()
