"""Reading the run's window from the lake: exactly the rows whose time is inside it, whether an
hour file lies wholly inside (passed as decoded, no copy) or across an edge (filtered), of the
events asked for, with a row that has no time left out and one that has no event name named ""."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from event_export.generator import generate_hour
from event_export.pipeline.lake import (
    LakeNotFoundError,
    Window,
    count_window,
    partition_dir,
    read_window,
    shown_uri,
)


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


def test_a_missing_lake_is_an_error_naming_it_never_an_empty_day(tmp_path):
    """A mistyped `source` (or a lake not mounted) must not deliver empty files every day."""
    window = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    wrong = tmp_path / "lake-typo"
    for root in (wrong, tmp_path):  # no folder at all; a folder without events/
        with pytest.raises(LakeNotFoundError, match="events/ folder does not exist") as raised:
            list(read_window(str(root), window))
        assert str(root) in str(raised.value)
        with pytest.raises(LakeNotFoundError):
            count_window(str(root), window)
    (tmp_path / "file-lake").mkdir()
    (tmp_path / "file-lake" / "events").write_text("not a folder")
    with pytest.raises(LakeNotFoundError):
        list(read_window(str(tmp_path / "file-lake"), window))


def test_a_lake_without_the_days_hours_is_an_empty_day(tmp_path):
    root = tmp_path / "lake"
    _write(root, datetime(2026, 11, 3, 5, tzinfo=UTC), 100)  # another day's hour only
    window = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    assert list(read_window(str(root), window)) == []
    assert count_window(str(root), window) == {}


def test_a_lake_uri_is_shown_without_credentials():
    assert shown_uri("s3://AKIAKEY:s3cret@bucket/lake?secret_key=s3cret") == "s3://bucket/lake"
    assert shown_uri("gs://bucket/lake") == "gs://bucket/lake"
    assert shown_uri("http://user:pw@127.0.0.1:9000/lake") == "http://127.0.0.1:9000/lake"
    assert shown_uri("/data/lake") == "/data/lake"
    error = LakeNotFoundError("s3://AKIAKEY:s3cret@bucket/lake?secret_key=s3cret")
    assert "s3cret" not in str(error) and "AKIAKEY" not in str(error)
    assert "s3://bucket/lake" in str(error)
