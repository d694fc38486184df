"""Extract and split: every row of the window once, per event, in the extract's order."""

from zoneinfo import ZoneInfo

import pyarrow as pa
from event_export.pipeline.ipc import read_staged, schema_of
from event_export.pipeline.lake import read_window
from event_export.pipeline.stages import split as split_module
from event_export.pipeline.stages.extract import extract
from event_export.pipeline.stages.split import split_by_event
from event_export.scheduling.windows import day_window


def test_split_keeps_each_events_rows_in_extract_order(
    kolkata_lake, demo_day, tmp_path, monkeypatch
):
    monkeypatch.setattr(split_module, "FLUSH_BYTES", 64 * 1024)  # many batches per event
    window = day_window(demo_day, ZoneInfo("Asia/Kolkata"))
    extracted = extract(str(kolkata_lake), window, None, tmp_path / "extract")
    staged = pa.Table.from_batches(list(read_staged(extracted.path)))
    lake = pa.Table.from_batches(list(read_window(str(kolkata_lake), window)))
    assert staged.equals(lake) and extracted.rows == lake.num_rows
    assert extracted.path.endswith(".arrow")

    parts = split_by_event(extracted.path, tmp_path / "split")
    assert [p.event for p in parts] == sorted(set(lake.column("event_name").to_pylist()))
    for part in parts:
        batches = list(read_staged(part.path))
        got = pa.Table.from_batches(batches, schema_of(part.path))
        assert len(batches) > 1 or part.rows < 200
        payloads = pa.Table.from_batches(list(read_staged(part.path, ["payload"])))
        assert payloads.column_names == ["payload"]
        assert payloads.column(0).equals(got.column("payload"))
        expected = lake.filter(pa.compute.equal(lake.column("event_name"), part.event))
        assert got.num_rows == part.rows == expected.num_rows
        assert got.column("event_id").to_pylist() == expected.column("event_id").to_pylist()
        assert got.equals(expected.select(got.column_names))
    rerun = split_by_event(extracted.path, tmp_path / "split")
    assert [p.to_dict() for p in rerun] == [p.to_dict() for p in parts]
