"""The GCP export's file formats, streamed batch by batch and cut into files under a size limit.

`write_series` is the stage: one staged Parquet file (an event's rows, or the profile snapshot) in,
a series of files in one format out. Each format is a `FormatWriter` fed `Rows` batches; a
pre-pass over the properties column fixes the property columns first, so all files of a series
share one header or schema.
"""

from __future__ import annotations

from event_export.formats.base import FormatWriter, Output
from event_export.formats.chunks import Chunk, stream_extension
from event_export.formats.csv_plain import CsvWriter
from event_export.formats.json_lines import JsonLinesWriter
from event_export.formats.parquet import ParquetWriter, parquet_extension
from event_export.formats.records import (
    EVENTS,
    PROFILES,
    Layout,
    Options,
    PropsSchema,
    Rows,
    props_schema,
    scan_props,
)
from event_export.formats.xml import XmlWriter
from event_export.pipeline.ipc import decoded, read_staged
from event_export.pipeline.streams import coalesce

BATCH_ROWS = 65_536
WRITERS: dict[str, type[FormatWriter]] = {
    "csv": CsvWriter,
    "json": JsonLinesWriter,
    "parquet": ParquetWriter,
    "xml": XmlWriter,
}


def extension(file_format: str, parquet_gzip: bool = True, codec: str | None = None) -> str:
    """The file name extension of an event file in this format: `csv`, `json.gz`, `xml.zst`,
    `parquet.gzip`, ... (`codec` as in `Output.codec`; None: `parquet_gzip` decides)."""
    if file_format == "parquet":
        return parquet_extension(codec or parquet_gzip)
    return stream_extension(WRITERS[file_format].extension, codec or "none")


def scan_series(
    staged_path: str, layout: Layout, options: Options, file_format: str = "parquet"
) -> PropsSchema:
    """The pre-pass: the property keys of the whole staged file, and their types when the
    format writes them (Parquet)."""
    texts = (
        batch.column(0)
        for batch in coalesce(read_staged(staged_path, [layout.props_column]), BATCH_ROWS)
    )
    return scan_props(texts, options.values_as_strings, typed=file_format == "parquet")


def write_series(
    staged_path: str,
    file_format: str,
    layout: Layout,
    options: Options,
    output: Output,
    title: str | None = None,
    rows: tuple[int, int] | None = None,
    props: PropsSchema | None = None,
) -> list[Chunk]:
    """Write one staged file (pipeline/ipc.py) as files of `file_format` under `output.out_dir`.

    `rows` = (start, stop): only those rows (a cut event's range, pipeline/shards.py); the
    pre-pass still reads the whole file's properties, so every file of the event has one header.
    `props`: the property columns when the caller ran the pre-pass (and the schema lock).
    """
    if props is None:
        props = scan_series(staged_path, layout, options, file_format)
    writer = WRITERS[file_format](layout, options, props, output, title)
    for batch in coalesce(read_staged(staged_path, rows=rows), BATCH_ROWS):
        writer.write(Rows(decoded(batch), layout, options, props))
    return writer.close()


__all__ = [
    "EVENTS",
    "PROFILES",
    "Chunk",
    "FormatWriter",
    "Layout",
    "Options",
    "Output",
    "PropsSchema",
    "extension",
    "props_schema",
    "scan_series",
    "write_series",
]
