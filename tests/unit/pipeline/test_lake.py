"""Reading the run's window from the lake: exactly the rows whose time is inside it, whether an
hour file lies wholly inside (passed as decoded, no copy) or across an edge (filtered), of the
events asked for, with a row that has no time left out and one that has no event name named ""."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from event_export.generator import generate_hour
from event_export.pipeline.lake import Window, count_window, partition_dir, read_window


def _write(root, hour: datetime, rows: int, edit=None) -> pa.Table:
    table = generate_hour(hour.date(), hour.hour, rows)
    if edit:
        table = edit(table)
    folder = Path(partition_dir(str(root), hour))
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-0.parquet", row_group_size=700)  # several batches
    return table


def _with_nulls(table: pa.Table) -> pa.Table:
    ts = table.column("ts").to_pylist()
    names = table.column("event_name").to_pylist()
    ts[3] = None  # no time: in no window
    names[5] = None  # no name: goes out as ""
    table = table.set_column(
        table.schema.get_field_index("ts"), "ts", pa.array(ts, table["ts"].type)
    )
    return table.set_column(0, "event_name", pa.array(names, pa.string()))


def test_the_window_holds_its_rows_only_inside_hours_whole_and_edge_hours_filtered(tmp_path):
    root = tmp_path / "lake"
    start = datetime(2026, 11, 1, 10, 30, tzinfo=UTC)  # a half-hour zone's edge
    hours = [datetime(2026, 11, 1, h, tzinfo=UTC) for h in (10, 11, 12)]
    tables = [_write(root, hours[0], 2000), _write(root, hours[1], 2000, _with_nulls)]
    tables.append(_write(root, hours[2], 2000))
    window = Window(start, start + timedelta(hours=2))
    every = pa.concat_tables(tables)
    inside = pc.and_(
        pc.greater_equal(every["ts"], pa.scalar(window.start, every["ts"].type)),
        pc.less(every["ts"], pa.scalar(window.end, every["ts"].type)),
    )
    expected = every.filter(inside)
    got = pa.Table.from_batches(list(read_window(str(root), window)))
    assert 2000 < got.num_rows < 6000 - 1  # part of each edge hour, all of the middle one but one
    assert got["event_id"].to_pylist() == expected["event_id"].to_pylist()
    assert got["payload"].to_pylist() == expected["payload"].to_pylist()
    assert got["event_name"].null_count == 0
    assert got["event_name"].to_pylist() == pc.fill_null(expected["event_name"], "").to_pylist()
    counts = count_window(str(root), window)
    assert sum(counts.values()) == got.num_rows and counts[""] >= 1

    names = sorted(set(got["event_name"].to_pylist()))[:2]
    some = pa.Table.from_batches(list(read_window(str(root), window, names, ["event_id"])))
    assert some.column_names == ["event_id"]
    assert some["event_id"].to_pylist() == [
        e for e, n in zip(got["event_id"].to_pylist(), got["event_name"].to_pylist(), strict=True)
        if n in names
    ]  # fmt: skip
