"""The gcp_export profile chained in-process: documented names, chunks, kinds, identical reruns."""

import csv
import gzip
import io
import json
import re
import xml.etree.ElementTree as ET

import pyarrow.parquet as pq
import pytest
from event_export.pipeline.lake import count_window, read_profiles
from event_export.pipeline.naming import request_id_for
from event_export.pipeline.run import ExportRun, run_export
from event_export.scheduling.schedules import day_period
from gcp_reference import expected_profile, identity_of

EVENT_NAME = re.compile(
    r"^(?P<request>\d{10})-(?P<ts>\d+)-(?P<event>.+)-(?P<day>\d{8})-(?P<index>\d+)-(?P<db>[^-]+)"
    r"\.(?P<ext>json|xml|csv|parquet|parquet\.gzip)$"
)
RUN_TS = "1793557800"  # 2026-11-02T00:00+05:30, the end of the Kolkata day 2026-11-01


def _names(result: dict) -> list[str]:
    return [f["name"] for f in result["files"]]


def _request_id(config, day) -> str:
    """The run's request id, as the Exports page computes it from the export and the period."""
    return request_id_for(config.client_id, config.export_id, day_period(day, config.tz).key)


def _delivered(tmp_path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((tmp_path / "client" / "out").iterdir())}


def test_event_files_follow_the_documented_name_and_rerun_identically(
    gcp_config, demo_day, tmp_path
):
    config = gcp_config(format="json", chunk_size_mb=0.05)
    result = run_export(config, demo_day)
    first = _delivered(tmp_path)
    request = _request_id(config, demo_day)
    manifest_name = f"{request}-{RUN_TS}-20261101-db1.manifest"
    assert result["manifest"] == manifest_name and manifest_name in first
    indices: dict[str, list[int]] = {}
    rows: dict[str, int] = {}
    for name in _names(result):
        match = EVENT_NAME.match(name)
        assert match, name
        assert (match["request"], match["ts"], match["day"], match["db"], match["ext"]) == (
            request,
            RUN_TS,
            "20261101",
            "db1",
            "json",
        )
        assert " " not in match["event"]
        indices.setdefault(match["event"], []).append(int(match["index"]))
        lines = first[name].decode("utf-8").splitlines()
        event = json.loads(lines[0])
        rows[event] = rows.get(event, 0) + len(lines) - 1
        assert len(first[name]) <= 50_000
    assert all(sorted(i) == list(range(len(i))) for i in indices.values())
    assert max(len(i) for i in indices.values()) > 1  # the busy events were cut
    window = ExportRun(config, demo_day).window
    assert rows == count_window(config.source, window) == result["rows_per_event"]

    run_export(config, demo_day)
    assert _delivered(tmp_path) == first  # same names, same bytes


def test_selected_events_in_xml(gcp_config, demo_day, tmp_path):
    config = gcp_config(format="xml", kind="selected_events", events=["add to cart", "खरीदारी पूरी"])
    result = run_export(config, demo_day)
    assert set(result["rows_per_event"]) == {"add to cart", "खरीदारी पूरी"}
    parts = {EVENT_NAME.match(n)["event"] for n in _names(result)}
    assert parts == {"add-to-cart", "खरीदारी-पूरी"}
    for name, body in _delivered(tmp_path).items():
        if name.endswith(".xml"):
            root = ET.fromstring(body)
            names = {e.findtext("eventName") for e in root}
            assert len(names) == 1 and names <= {"add to cart", "खरीदारी पूरी"}


def test_plain_parquet_switch(gcp_config, demo_day, tmp_path):
    config = gcp_config(format="parquet", parquet_compression="none")
    result = run_export(config, demo_day)
    assert all(n.endswith("-db1.parquet") for n in _names(result))
    path = tmp_path / "client" / "out" / _names(result)[0]
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "UNCOMPRESSED"


def test_profile_export_is_one_gzip_file_with_every_profile(gcp_config, demo_day, tmp_path):
    priority = ("email", "phone", "identity")
    config = gcp_config(
        format="csv", kind="user_profiles", account_id=42, identity_priority=list(priority)
    )
    result = run_export(config, demo_day)
    request = _request_id(config, demo_day)
    assert _names(result) == [f"42-{request}-{RUN_TS}-db1-csv.gz"]
    assert result["manifest"] == f"42-{request}-{RUN_TS}-20261101-db1.manifest"
    body = gzip.decompress(_delivered(tmp_path)[_names(result)[0]]).decode("utf-8")
    records = list(csv.DictReader(io.StringIO(body, newline="")))
    lake = [r for batch in read_profiles(config.source, demo_day) for r in batch.to_pylist()]
    assert len(records) == len(lake) == result["rows_per_event"]["user_profiles"] == 800
    for got, row in zip(records, lake, strict=True):
        expected = expected_profile(row, "Asia/Kolkata", priority)
        assert got["profile.identity"] == identity_of(row, priority)
        assert got["firstSeen"] == str(expected["firstSeen"])
        assert got["profile.name"] == (row["name"] or "")
        props = json.loads(row["properties"])
        for key, value in props.items():
            assert got[f"profileProps.{key}"] == (
                value
                if isinstance(value, str)
                else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            )
    assert any(r["profile.identity"].startswith("+9198") for r in records)  # phone fallback


def test_profile_export_without_a_snapshot_fails_loudly(gcp_config, demo_day):
    config = gcp_config(format="json", kind="user_profiles", account_id=1)
    with pytest.raises(FileNotFoundError, match="no profile snapshot"):
        ExportRun(config, demo_day.replace(day=20)).extract()


@pytest.mark.parametrize("file_format", ["csv"])
def test_a_cut_event_numbers_its_files_across_its_ranges(
    gcp_config, demo_day, tmp_path, monkeypatch, file_format
):
    """Issue 18.2: an event cut over shards writes a file series per range; its files are
    numbered consecutively as one series, none collide or is overwritten, each keeps the size
    limit and one header, and the records are the uncut day's, in order."""
    config = gcp_config(format=file_format, chunk_size_mb=0.05)
    uncut = run_export(config, demo_day)
    before = _delivered(tmp_path)
    monkeypatch.setenv("EES_SHARD_ROWS", "300")
    for stale in (tmp_path / "client" / "out").iterdir():
        stale.unlink()
    result = run_export(config, demo_day)
    after = _delivered(tmp_path)
    assert len(_names(result)) == len(set(_names(result))) == len(after) - 1  # and the manifest
    assert result["rows_per_event"] == uncut["rows_per_event"]
    series: dict[str, list[int]] = {}
    for name in _names(result):
        match = EVENT_NAME.match(name)
        series.setdefault(match["event"], []).append(int(match["index"]))
        assert len(after[name]) <= 0.05 * 1_000_000
    assert all(sorted(v) == list(range(len(v))) for v in series.values())
    assert any(
        len(v) > len([n for n in _names(uncut) if EVENT_NAME.match(n)["event"] == e])
        for e, v in series.items()
    )  # a range's last file starts the next anew

    def records(files: dict[str, bytes]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name in sorted(
            files, key=lambda n: (EVENT_NAME.match(n)["event"], int(EVENT_NAME.match(n)["index"]))
        ):
            lines = files[name].decode().splitlines()
            # a CSV file's first line is its header, a JSON lines file's the event's name
            out.setdefault(EVENT_NAME.match(name)["event"], []).extend(lines[1:])
            out.setdefault("header:" + EVENT_NAME.match(name)["event"], []).append(lines[0])
        return out

    data = {k: v for k, v in after.items() if EVENT_NAME.match(k)}
    old = {k: v for k, v in before.items() if EVENT_NAME.match(k)}
    got, expected = records(data), records(old)
    for key in got:
        if key.startswith("header:"):
            assert len(set(got[key])) == 1  # every file of an event has the same header
            assert got[key][0] == expected[key][0]
        else:
            assert got[key] == expected[key]
    again = run_export(config, demo_day)
    assert _delivered(tmp_path) == after and again["files"] == result["files"]
