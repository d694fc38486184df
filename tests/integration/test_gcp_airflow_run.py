"""Real Airflow DAG runs (dag.test) of the gcp_export profile, one per format, read back with
independent readers and compared value by value with the lake."""

import csv
import gzip
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from conftest import export_dags, set_local_connection, task_instances
from event_export.pipeline.lake import read_profiles, read_window
from event_export.scheduling.windows import day_window
from gcp_reference import (
    as_text_view,
    expected_event,
    expected_profile,
    read_xml_record,
    xml_view,
)

TZ = "Asia/Kolkata"
CONFIG = """\
client_id: acme
export_id: it_gcp_{fmt}
source: {lake}
profile: gcp_export
format: {fmt}
database_id: db9
schedule: {{timezone: {tz}}}
destination: {{type: local, conn_id: it_gcp, path: gcp}}
"""
EXTRA = {
    "json": "identity_priority: [identity, email, phone]\nchunk_size_mb: 0.1\n",
    "xml": "kind: selected_events\nevents: [add to cart, product purchase, खरीदारी पूरी]\n",
    "csv": "kind: user_profiles\naccount_id: 77\nidentity_priority: [email, identity]\n",
    "parquet": "values_as_strings: true\n",
}


def _lake_events(lake, day, events=None) -> dict[str, dict]:
    window = day_window(day, ZoneInfo(TZ))
    rows = [r for b in read_window(str(lake), window, events) for r in b.to_pylist()]
    return {r["event_id"]: r for r in rows}


def _check_json(files, lake, day):
    expected = _lake_events(lake, day)
    seen = set()
    for name, body in files.items():
        lines = body.decode("utf-8").splitlines()
        event = json.loads(lines[0])
        for line in lines[1:]:
            record = json.loads(line)
            row = expected[record["eventId"]]
            want = expected_event(row, TZ, ("identity", "email", "phone"))
            assert want.pop("eventName") == event, name
            assert record == want
            seen.add(record["eventId"])
    assert seen == set(expected)
    assert len(files) > 40  # chunked at 0.1 MB


def _check_xml(files, lake, day):
    events = ["add to cart", "product purchase", "खरीदारी पूरी"]
    expected = _lake_events(lake, day, events)
    seen = set()
    for body in files.values():
        for element in ET.fromstring(body):
            got = read_xml_record(element, "eventProps")
            assert got == xml_view(expected_event(expected[got["eventId"]], TZ), "eventProps")
            seen.add(got["eventId"])
    assert seen == set(expected)


def _check_csv(files, lake, day):
    [(name, body)] = files.items()
    assert name.startswith("77-") and name.endswith("-db9-csv.gz")
    records = list(csv.DictReader(io.StringIO(gzip.decompress(body).decode(), newline="")))
    lake_rows = [r for b in read_profiles(str(lake), day) for r in b.to_pylist()]
    assert len(records) == len(lake_rows)
    for got, row in zip(records, lake_rows, strict=True):
        view = as_text_view(expected_profile(row, TZ, ("email", "identity")), "profileProps")
        flat = {k: v for k, v in view.items() if not isinstance(v, dict)}
        for group in ("profile", "profileProps"):
            flat.update({f"{group}.{k}": v for k, v in view[group].items()})
        assert {k: v for k, v in got.items() if k in flat} == flat
        assert all(v == "" for k, v in got.items() if k not in flat)


def _check_parquet(files, lake, day):
    expected = _lake_events(lake, day)
    seen = set()
    for name, body in files.items():
        assert name.endswith("-db9.parquet.gzip")
        for record in pq.read_table(io.BytesIO(body)).to_pylist():
            row = expected[record["eventId"]]
            assert record["ts"] == row["ts"] and record["eventName"] == row["event_name"]
            want = expected_event(row, TZ, as_strings=True)["eventProps"]
            assert {k: v for k, v in record["eventProps"].items() if v is not None} == {
                k: v for k, v in want.items() if v is not None
            }
            seen.add(record["eventId"])
    assert seen == set(expected)


CHECKS = {"json": _check_json, "xml": _check_xml, "csv": _check_csv, "parquet": _check_parquet}


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "parquet"])
def test_dag_run_delivers_the_format(
    fmt, tmp_path, monkeypatch, kolkata_lake, airflow_db, demo_day
):
    text = CONFIG.format(fmt=fmt, lake=kolkata_lake, tz=TZ) + EXTRA[fmt]
    dag = export_dags(tmp_path, monkeypatch, {f"it_gcp_{fmt}": text})[f"export_it_gcp_{fmt}"]
    set_local_connection("it_gcp", tmp_path / "client")
    if fmt == "json":  # issue 18.2: events cut over several format tasks, files over uploads
        monkeypatch.setenv("EES_SHARD_ROWS", "1000")  # 7 shards
        monkeypatch.setattr("event_export.pipeline.shards.BATCH_FILES", 16)
    logical = datetime.combine(demo_day + timedelta(days=1), datetime.min.time(), ZoneInfo(TZ))
    run = dag.test(logical_date=logical)
    assert run.state == "success"
    if fmt == "json":
        mapped = task_instances(run)
        assert mapped["format"] > 5 and mapped["upload"] > 2

    delivered = {p.name: p.read_bytes() for p in (tmp_path / "client" / "gcp").iterdir()}
    [manifest_name] = [n for n in delivered if n.endswith(".manifest")]
    manifest = json.loads(delivered.pop(manifest_name))
    assert sorted(f["name"] for f in manifest["files"]) == sorted(delivered)
    CHECKS[fmt](delivered, kolkata_lake, demo_day)
