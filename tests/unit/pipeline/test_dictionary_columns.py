"""The low-cardinality columns (lake.LOW_CARDINALITY) travel from the lake to the client's file
as dictionaries: each hour file's row groups bring dictionaries of their own, extract stages one
per event file, and the delivered CSV and JSON hold, row for row, what the lake holds, whatever
the values: separators, quotes, line breaks, NUL, other scripts, 10,000 characters, nulls."""

import csv
import io
import json
import random
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from event_export.formats import EVENTS, Options, Output, write_series
from event_export.generator import generate_hour
from event_export.pipeline import ipc
from event_export.pipeline import lake as lake_module
from event_export.pipeline.lake import LOW_CARDINALITY, partition_dir, read_window
from event_export.pipeline.stages.csv_format import READ_COLUMNS, SEED_COLUMNS, format_csv
from event_export.pipeline.stages.extract import extract
from event_export.scheduling.windows import day_window

DAY = date(2026, 11, 1)
HOSTILE = [
    "", " ", ",", '"', "\r\n", "line1\nline2", 'say "hi", twice', " lead", "trail ", "nul\x00byte",
    "\x1f\x7f", "ü", "中文, 商品", "مرحبا", "🛒", "=1+2", "NULL", "Ａpple", "Apple", "z" * 10_000,
]  # fmt: skip
CLIENT_NAME = {lake: name for name, lake in SEED_COLUMNS}


def _hostile_lake(root, hours: int = 4, rows: int = 1_500) -> None:
    """Hour files whose low-cardinality columns draw from HOSTILE (a different share of it each
    hour, so each file's dictionaries differ), in several row groups each."""
    rng = random.Random(19)
    for hour in range(hours):
        table = generate_hour(DAY, hour, rows)
        names = pa.array([["buy", "view", "search"][i % 3] for i in range(rows)], pa.string())
        table = table.set_column(table.schema.get_field_index("event_name"), "event_name", names)
        pool = HOSTILE[: 6 + 4 * hour]
        for column in LOW_CARDINALITY:
            values = [rng.choice([*pool, None]) for _ in range(rows)]
            at = table.schema.get_field_index(column)
            table = table.set_column(at, column, pa.array(values, pa.string()))
        folder = Path(partition_dir(str(root), datetime(2026, 11, 1, hour, tzinfo=UTC)))
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "part-0.parquet", row_group_size=400)


def _lake_rows(root, event: str) -> pa.Table:
    window = day_window(DAY, ZoneInfo("UTC"))
    lake = pa.Table.from_batches(list(read_window(str(root), window)))
    return lake.filter(pc.equal(lake.column("event_name"), event))


@pytest.mark.parametrize("bound", [ipc.MAX_DICTIONARY, 8], ids=["dictionaries", "outgrown"])
def test_hostile_values_reach_the_csv_as_the_lake_holds_them(tmp_path, monkeypatch, bound):
    """`outgrown`: past 8 values a column is restaged as text mid-file (ipc.MAX_DICTIONARY)."""
    monkeypatch.setattr(ipc, "MAX_DICTIONARY", bound)
    monkeypatch.setattr(lake_module, "DICTIONARIES_FROM_BYTES", 0)  # this small lake too
    _hostile_lake(tmp_path / "lake")
    window = day_window(DAY, ZoneInfo("UTC"))
    parts = extract(str(tmp_path / "lake"), window, None, tmp_path / "s", READ_COLUMNS, True)
    assert [p.event for p in parts] == ["buy", "search", "view"]
    for part in parts:
        staged = ipc.schema_of(part.path)
        coded = {n for n in staged.names if pa.types.is_dictionary(staged.field(n).type)}
        assert coded == (set(LOW_CARDINALITY) if bound > len(HOSTILE) else set())
        out = tmp_path / f"{part.key}.csv"
        done = format_csv(part.path, part.key, "UTC", out, keys=list(part.payload_keys))
        records = list(csv.DictReader(io.StringIO(out.read_bytes().decode(), newline="")))
        lake = _lake_rows(tmp_path / "lake", part.event)
        assert done.rows == len(records) == lake.num_rows == part.rows
        for column in LOW_CARDINALITY:
            expected = ["" if v is None else v for v in lake.column(column).to_pylist()]
            assert [r[CLIENT_NAME[column]] for r in records] == expected, column


def test_hostile_values_reach_gcp_json_as_the_lake_holds_them(tmp_path, monkeypatch):
    monkeypatch.setattr(lake_module, "DICTIONARIES_FROM_BYTES", 0)
    _hostile_lake(tmp_path / "lake", hours=2)
    window = day_window(DAY, ZoneInfo("UTC"))
    parts = extract(str(tmp_path / "lake"), window, None, tmp_path / "s")
    assert parts and all(p.rows for p in parts)
    for part in parts:
        assert pa.types.is_dictionary(ipc.schema_of(part.path).field("model").type)
        output = Output(tmp_path / "out" / part.key)
        chunks = write_series(part.path, "json", EVENTS, Options(), output)
        lines = [
            json.loads(line)
            for chunk in chunks
            for line in Path(chunk.path).read_text("utf-8").splitlines()
        ]
        lake = _lake_rows(tmp_path / "lake", part.event)
        assert len(lines) == lake.num_rows
        device = [line.get("deviceInfo") or {} for line in lines]
        assert [d.get("model") for d in device] == lake.column("model").to_pylist()
        assert [d.get("osType") for d in device] == lake.column("os_type").to_pylist()
        assert [line.get("medium") for line in lines] == lake.column("medium").to_pylist()
