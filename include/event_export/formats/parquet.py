"""Parquet: the timestamp, the event name, the event's fields and its properties, nested as in the
JSON (`profile`, `deviceInfo`, `eventProps` structs). Properties keep their types: one struct
field per key of the file series, int64, float64, boolean or string; objects, lists and keys whose
type varies are JSON text; everything is a string when values go as strings.

Event files use Parquet's own codec, named after `.parquet`: gzip at an explicit level
(`.parquet.gzip`, the default; pyarrow's default gzip level is the slow level 9), zstd at level 1
(`.parquet.zstd`), snappy (`.parquet.snappy`) or none (`.parquet`). The suffix names the codec
inside; the file itself is plain Parquet that any reader opens (never `gunzip` it).

Files are cut at the size limit between row groups: each row group is sized from the bytes per
row seen so far, and a file that
still ends up over the limit is rewritten as two, so the limit always holds.
"""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from event_export.formats.base import FormatWriter
from event_export.formats.chunks import Chunk, chunk_path, open_output
from event_export.formats.records import Layout, Options, PropsSchema, Rows

GZIP_LEVEL = 1
ZSTD_LEVEL = 1
CODEC_LEVELS: dict[str, int | None] = {"gzip": GZIP_LEVEL, "zstd": ZSTD_LEVEL, "snappy": None}
ROW_GROUP_ROWS = 65_536
MARGIN = 1.15  # row groups are planned at 115% of the observed bytes per row
TAIL_SHARE = 16  # a file is closed rather than given a row group under 1/16 of its rows
LEAF_FOOTER_BYTES = 160  # footer bytes per column chunk beyond its path, conservatively


def arrow_schema(layout: Layout, options: Options, props: PropsSchema) -> pa.Schema:
    fields = [
        pa.field(name, pa.timestamp(layout.source.field(col).type.unit, options.timezone))
        for name, col in layout.times
    ]
    fields += [pa.field(name, layout.source.field(col).type) for name, col in layout.scalars]
    for group, members in layout.groups:
        fields.append(pa.field(group, pa.struct([pa.field(n, pa.string()) for n, _ in members])))
    if props.keys:  # Parquet has no empty groups: no properties, no column
        children = [pa.field(k, t) for k, t in zip(props.keys, props.types, strict=True)]
        fields.append(pa.field(layout.props, pa.struct(children)))
    return pa.schema(fields)


def _struct(members: list[tuple[str, pa.Array]], type_: pa.DataType) -> pa.StructArray:
    return pa.StructArray.from_arrays([column for _, column in members], fields=list(type_))


def record_batch(rows: Rows, schema: pa.Schema) -> pa.RecordBatch:
    arrays = [column for _, column in rows.times()]
    arrays += [column for _, column in rows.scalars()]
    arrays += [_struct(members, schema.field(group).type) for group, members in rows.groups()]
    if rows.props_schema.keys:
        arrays.append(_struct(rows.props_typed(), schema.field(rows.layout.props).type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _leaf_paths(type_: pa.DataType, prefix: str) -> list[str]:
    if pa.types.is_struct(type_):
        return [p for f in type_ for p in _leaf_paths(f.type, f"{prefix}.{f.name}")]
    return [prefix]


def parquet_extension(gzip: bool | str) -> str:
    """`parquet`, or `parquet.<codec>` for a codec inside (True: gzip, as before codecs)."""
    codec = ("gzip" if gzip else "none") if isinstance(gzip, bool) else gzip
    return "parquet" if codec == "none" else f"parquet.{codec}"


def inner_codec(output) -> str:
    """Parquet's own codec for a series: none inside a `.gz` file (gzip is outside)."""
    if output.gzip:
        return "none"
    if output.codec is not None:
        return output.codec
    return "gzip" if output.parquet_gzip else "none"


class ParquetWriter(FormatWriter):
    @property
    def extension(self) -> str:  # type: ignore[override]  # depends on the compression
        return parquet_extension(inner_codec(self.output))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema = arrow_schema(self.layout, self.options, self.props)
        codec = inner_codec(self.output)
        self.settings = {
            "compression": codec,
            "compression_level": CODEC_LEVELS.get(codec),
            "write_statistics": [name for name, _ in self.layout.times],
        }
        self.chunks: list[Chunk] = []
        self._writer: pq.ParquetWriter | None = None
        self._sink = None
        self._path: Path | None = None
        self._rows = 0
        self._groups = 0
        self._per_row: float | None = None
        leaves = [p for f in self.schema for p in _leaf_paths(f.type, f.name)]
        self._group_footer = sum(len(p.encode()) + LEAF_FOOTER_BYTES for p in leaves)
        self._base_footer = self._empty_file_size() if self.output.limit else 0

    def _empty_file_size(self) -> int:
        sink = pa.BufferOutputStream()
        pq.ParquetWriter(sink, self.schema, **self.settings).close()
        return sink.getvalue().size

    def _open(self) -> None:
        index = len(self.chunks)
        self._path = chunk_path(self.output.out_dir, index, self.extension)
        if self.output.gzip:
            self._sink = open_output(self._path, gzip=True, name=self.output.gzip_name)
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._sink = pa.OSFile(str(self._path), "wb")
        self._writer = pq.ParquetWriter(self._sink, self.schema, **self.settings)
        self._rows = self._groups = 0

    def _position(self) -> int:
        return self._sink.tell()

    def _room(self) -> float:
        """Bytes still free for row data if one more row group is added."""
        assert self.output.limit is not None
        footer = self._base_footer + (self._groups + 1) * self._group_footer
        return self.output.limit - self._position() - footer

    def write(self, rows: Rows) -> None:
        batch = record_batch(rows, self.schema)
        start, count = 0, batch.num_rows
        while start < count:
            if self._writer is None:
                self._open()
            take = min(count - start, ROW_GROUP_ROWS)
            if self.output.limit is not None:
                per_row = self._per_row or batch.nbytes / max(count, 1)
                take = min(take, math.floor(self._room() / (per_row * MARGIN)))
                if take < max(1, self._rows // TAIL_SHARE) and self._rows:
                    self._finish()  # full, or nearly: no crumbs of row groups at a file's end
                    continue
                take = max(take, 1)
            before = self._position() if self.output.limit is not None else 0
            self._writer.write_batch(batch.slice(start, take), row_group_size=take)
            if self.output.limit is not None:
                self._per_row = (self._position() - before) / take
            self._rows += take
            self._groups += 1
            start += take

    def _finish(self) -> None:
        assert self._writer is not None and self._path is not None
        self._writer.close()
        self._sink.close()
        self._writer = None
        size = self._path.stat().st_size
        limit = self.output.limit
        if limit is not None and size > limit and self._rows > 1:
            self._split(self._path)
        else:
            self.chunks.append(Chunk(str(self._path), self._rows, size))

    def _split(self, path: Path) -> None:
        """Rewrite an over-limit file as two halves (rare: the row groups are planned below it)."""
        table = pq.read_table(path, schema=self.schema)
        path.unlink()
        half = table.num_rows // 2
        for part in (table.slice(0, half), table.slice(half)):
            self._open()
            self._writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
            self._rows, self._groups = part.num_rows, 1
            self._finish()

    def close(self) -> list[Chunk]:
        if self._writer is None and not self.chunks:
            self._open()
        if self._writer is not None:
            self._finish()
        return self.chunks
