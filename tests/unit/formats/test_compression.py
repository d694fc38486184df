"""Compressed file series (gcp_export `compression`): each file a standard gzip or zstd stream
that the command-line tools, DuckDB and pandas read, unpacking to exactly the plain series (the
size limit counts the uncompressed text, so the cut points do not move), hashed over the bytes
delivered, and written the same way twice (no time or name in a gzip header). Parquet codecs
are Parquet's own, inside the file."""

import hashlib
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from event_export.formats import EVENTS, Options, Output, extension, write_series
from gcp_reference import HOSTILE_EVENT, staged_event

LIMIT = 40_000
UNPACK = {"gzip": ["gzip", "-dc"], "zstd": ["zstd", "-dcq"]}
SUFFIX = {"gzip": "gz", "zstd": "zst"}


@pytest.fixture(scope="module")
def staged(tmp_path_factory, demo_day) -> Path:
    return staged_event(tmp_path_factory.mktemp("staged"), demo_day)


def _series(staged: Path, folder: Path, fmt: str, codec: str | None, limit=LIMIT):
    output = Output(folder, limit=limit, codec=codec)
    return write_series(str(staged), fmt, EVENTS, Options(), output, HOSTILE_EVENT)


def _unpack(codec: str, path: str) -> bytes:
    return subprocess.run([*UNPACK[codec], path], check=True, capture_output=True).stdout


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize("fmt", ["json", "csv", "xml"])
def test_each_file_unpacks_with_the_standard_tool_to_the_plain_file(staged, tmp_path, fmt, codec):
    plain = _series(staged, tmp_path / "plain", fmt, None)
    packed = _series(staged, tmp_path / "packed", fmt, codec)
    assert len(packed) == len(plain) >= 3  # cut at the same records
    for chunk, base in zip(packed, plain, strict=True):
        assert chunk.path.endswith(f".{fmt}.{SUFFIX[codec]}")
        body = Path(chunk.path).read_bytes()
        assert chunk.size == len(body) < base.size
        assert chunk.sha256 == hashlib.sha256(body).hexdigest()  # over the delivered bytes
        assert _unpack(codec, chunk.path) == Path(base.path).read_bytes()
        assert chunk.rows == base.rows
    assert extension(fmt, codec=codec) == f"{fmt}.{SUFFIX[codec]}"


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_the_same_input_gives_the_same_bytes(staged, tmp_path, codec):
    first = _series(staged, tmp_path / "a", "csv", codec)
    second = _series(staged, tmp_path / "b", "csv", codec)
    assert [c.sha256 for c in first] == [c.sha256 for c in second]
    if codec == "gzip":  # no FNAME flag, mtime 0: nothing of the staging file or the clock
        head = Path(first[0].path).read_bytes()[:10]
        assert head[:4] == b"\x1f\x8b\x08\x00" and head[4:8] == b"\0\0\0\0"


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_duckdb_and_pandas_read_the_compressed_files(staged, tmp_path, codec):
    rows = pq.ParquetFile(staged).metadata.num_rows
    csv_files = [c.path for c in _series(staged, tmp_path / "csv", "csv", codec)]
    read = duckdb.sql(f"SELECT count(*) FROM read_csv({csv_files}, all_varchar=true)").fetchall()
    assert read[0][0] == rows
    assert sum(len(pd.read_csv(f, dtype=str, keep_default_na=False)) for f in csv_files) == rows
    json_files = [c.path for c in _series(staged, tmp_path / "json", "json", codec)]
    # each file's first line is the event name (a JSON string), then one object per record
    read = duckdb.sql(
        f"SELECT count(*) FROM read_json_auto({json_files}, format='newline_delimited', "
        "records=false) WHERE json_type(json) = 'OBJECT'"
    ).fetchall()
    assert read[0][0] == rows


def test_a_record_longer_than_the_limit_still_goes_out_alone(staged, tmp_path):
    chunks = _series(staged, tmp_path, "json", "zstd", limit=100)
    assert {c.rows for c in chunks} == {1}
    assert len(chunks) == pq.ParquetFile(staged).metadata.num_rows


@pytest.mark.parametrize(
    ("codec", "suffix", "inside"),
    [
        ("gzip", "parquet.gzip", "GZIP"),
        ("zstd", "parquet.zstd", "ZSTD"),
        ("snappy", "parquet.snappy", "SNAPPY"),
        ("none", "parquet", "UNCOMPRESSED"),
    ],
)
def test_parquet_codecs_are_inside_the_file(staged, tmp_path, codec, suffix, inside):
    chunks = _series(staged, tmp_path, "parquet", codec)
    assert extension("parquet", codec=codec) == suffix
    total = 0
    for chunk in chunks:
        assert chunk.path.endswith(f".{suffix}") and chunk.size <= LIMIT
        meta = pq.ParquetFile(chunk.path).metadata
        assert {meta.row_group(0).column(i).compression for i in range(3)} == {inside}
        total += len(pd.read_parquet(chunk.path))
    assert total == pq.ParquetFile(staged).metadata.num_rows
