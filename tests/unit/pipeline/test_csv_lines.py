import csv
import io
import json
import random
import threading
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from event_export.formats.text import csv_field_py
from event_export.pipeline import csv_lines, payload_cells
from event_export.pipeline.lake import EVENT_SCHEMA
from event_export.pipeline.stages.csv_format import format_csv

# Values a client's data can hold, each in a field of its own: separators, quotes, line breaks,
# blanks at either end, control bytes, several scripts, and special bytes on either side of the
# C writer's 16-byte steps.
HOSTILE = [
    "", " ", "\t", ",", '"', '""', "\r", "\n", "\r\n", "a,b", 'say "hi"', "line1\nline2",
    " lead", "trail ", "\tlead", "trail\t", "mid dle", "mid\tdle", "nul\x00byte", "\x1f\x7f",
    "ü", "中文, 商品", "مرحبا", "🛒", "=1+2", "-3", "'quoted'", "back\\slash", "NULL", "null",
    *("x" * n + "," for n in range(12, 20)),
    *("x" * n + '"' + "y" * 7 for n in range(12, 20)),
    *("a" * n for n in range(14, 34)),
    "z" * 10_000 + '"',
]  # fmt: skip


def _reference(rows: list[list[str | None]]) -> bytes:
    """The rule, one field at a time in Python: formats/text.py's csv_field_py."""
    return "".join(
        ",".join("" if v is None else csv_field_py(v) for v in row) + "\n" for row in rows
    ).encode("utf-8")


def _columns(rows: list[list[str | None]]) -> list[pa.Array]:
    return [pa.array(list(column), pa.string()) for column in zip(*rows, strict=True)]


def _rows(seed: int, count: int, width: int) -> list[list[str | None]]:
    rng = random.Random(seed)
    return [[rng.choice([*HOSTILE, None, "plain"]) for _ in range(width)] for _ in range(count)]


def test_the_library_is_built_here():
    """Setup builds it (scripts/setup.sh); without it the tests below would compare the Arrow
    path with itself."""
    assert payload_cells.library() is not None


@pytest.mark.parametrize("seed", range(4))
def test_records_quote_only_where_needed_and_match_the_rule(seed):
    rows = _rows(seed, 300, 7)
    columns = _columns(rows)
    expected = _reference(rows)
    assert csv_lines.records(columns) == expected
    assert csv_lines.records_arrow(columns) == expected


@pytest.mark.parametrize("chunk", [600, csv_lines.CHUNK_BYTES])
def test_lines_are_the_records_one_per_row(monkeypatch, chunk):
    """gcp_export's CSV cuts files at record boundaries: one string per record, whichever
    pieces of the reused buffer they were written in."""
    monkeypatch.setattr(csv_lines, "CHUNK_BYTES", chunk)
    rows = _rows(5, 700, 5)
    got = []
    worker = threading.Thread(target=lambda: got.append(csv_lines.lines(_columns(rows))))
    worker.start()
    worker.join()
    expected = [_reference([row]).decode("utf-8") for row in rows]
    assert got[0].to_pylist() == expected
    assert csv_lines.lines_arrow(_columns(rows)).to_pylist() == expected
    assert csv_lines.lines(_columns(rows[:0])).to_pylist() == []


def test_every_hostile_value_reads_back_with_the_standard_reader():
    rows = [[value, None, value] for value in HOSTILE]
    text = csv_lines.records(_columns(rows)).decode("utf-8")
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read == [[value, "", value] for value in HOSTILE]
    assert text.startswith('"",,""\n" ",," "\n"\t",,"\t"\n",",,","\n')  # empty vs absent
    plain = csv_lines.records(_columns([["a b", "x-1", "2026-11-01T10:15:05.123+0530"]]))
    assert plain == b"a b,x-1,2026-11-01T10:15:05.123+0530\n"  # no quotes needed


def test_sliced_columns_and_null_bits_at_any_offset():
    """A batch's columns are often slices of larger arrays: offsets and validity bits start
    mid-buffer (and mid-byte)."""
    rows = _rows(7, 200, 3)
    whole = _columns(rows)
    for start in (0, 1, 3, 8, 13):
        for stop in (start, start + 1, start + 77, 200):
            sliced = [column.slice(start, stop - start) for column in whole]
            expected = _reference(rows[start:stop])
            assert csv_lines.records(sliced) == expected, (start, stop)
            assert csv_lines.records_arrow(sliced) == expected, (start, stop)


def test_chunked_and_all_null_columns():
    chunked = pa.chunked_array([["a,b", None], ["", "c"]], pa.string())
    empty_nulls = pa.nulls(4, pa.string())
    out = csv_lines.records([chunked, empty_nulls])
    assert out == b'"a,b",\n,\n"",\nc,\n'
    assert csv_lines.records_arrow([chunked.combine_chunks(), empty_nulls]) == out


def test_header_names_follow_the_same_rule():
    names = ["appId", "payload.order id", "payload.a,b", 'payload."q"', "payload. x "]
    assert csv_lines.header(names) == (
        b'appId,payload.order id,"payload.a,b","payload.""q""","payload. x "\n'
    )


def _staged(tmp_path, values: list[str]) -> str:
    ts = datetime(2026, 11, 1, 4, 45, 5, 123000, tzinfo=UTC)
    rows = []
    for i, value in enumerate(values):
        row = {name: None for name in EVENT_SCHEMA.names}
        payload = {"note": value, "n": i} if i % 3 else {"note": value, "x": [value]}
        row.update(event_name="buy", event_id=f"e{i}", ts=ts, identity=value)
        row.update(url=value if i % 2 else None, payload=json.dumps(payload))
        rows.append(row)
    path = tmp_path / "event.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), path)
    return str(path)


@pytest.mark.parametrize("excel", [False, True])
def test_a_formatted_file_is_the_same_bytes_without_the_library(tmp_path, monkeypatch, excel):
    """format_csv as the daily zip runs it (deflated and plain), on a host with the library and
    on one without: the same bytes, and every value reads back."""
    staged = _staged(tmp_path, [v.replace("\x00", "") for v in HOSTILE] * 3)
    made = {}
    for built in (True, False):
        if not built:
            monkeypatch.setattr(payload_cells, "library", lambda: None)
        for deflate in (False, True):
            target = tmp_path / f"{built}-{deflate}.csv"
            format_csv(staged, "buy", "UTC", target, excel=excel, deflate=deflate)
            made[built, deflate] = target.read_bytes()
    assert made[True, False] == made[False, False]
    assert made[True, True] == made[False, True]
    text = made[True, False].decode("utf-8-sig")
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(records) == 3 * len(HOSTILE)
    if not excel:
        assert [r["Identity"] for r in records[: len(HOSTILE)]] == [
            v.replace("\x00", "") for v in HOSTILE
        ]


def test_records_larger_than_the_buffer_come_in_pieces(monkeypatch):
    """The reused buffer takes whole blocks of rows; a block larger than it gets a buffer of
    its own (the 10,000-byte value), and the pieces join to the same bytes."""
    monkeypatch.setattr(csv_lines, "CHUNK_BYTES", 600)
    rows = _rows(11, 1_000, 4)
    got = []
    worker = threading.Thread(target=lambda: got.append(csv_lines.records(_columns(rows))))
    worker.start()  # a thread of its own: a new buffer of CHUNK_BYTES
    worker.join()
    assert got == [_reference(rows)]


def test_pandas_and_duckdb_read_every_value_back(tmp_path):
    """What clients open the files with: pandas reads each value as written, DuckDB too, and
    tells an empty string from an absent value (`allow_quoted_nulls=false`; by default it reads
    `""` as null)."""
    import duckdb
    import pandas as pd

    values = [*HOSTILE, None]
    path = tmp_path / "values.csv"
    rows = [[f"r{i}", value] for i, value in enumerate(values)]
    path.write_bytes(csv_lines.header(["id", "value"]) + csv_lines.records(_columns(rows)))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert frame["value"].tolist() == ["" if value is None else value for value in values]
    read = duckdb.sql(
        "SELECT value FROM read_csv($path, all_varchar = true, header = true, "
        "allow_quoted_nulls = false) ORDER BY CAST(substr(id, 2) AS INTEGER)",
        params={"path": str(path)},
    ).fetchall()
    assert [value for (value,) in read] == values
