"""A real Airflow DAG run (dag.test) of the daily zip, read back with independent readers."""

import csv
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import METADATA_DB, export_dags, set_local_connection, task_instances
from event_export.pipeline.lake import read_window
from event_export.pipeline.staging_cleanup import SWEPT
from event_export.scheduling.windows import day_window

CONFIG = """\
client_id: acme
export_id: it_acme
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_local, path: acme}}
"""


@pytest.fixture
def export_dag(tmp_path, monkeypatch, kolkata_lake, airflow_db):
    dags = export_dags(tmp_path, monkeypatch, {"it_acme": CONFIG.format(lake=kolkata_lake)})
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.delenv("EES_STAGING_KEEP_DAYS", raising=False)
    set_local_connection("it_local", tmp_path / "client")
    return dags["export_it_acme"], tmp_path / "client" / "acme"


def _run(dag, day) -> str:
    logical = datetime.combine(
        day + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
    run = dag.test(logical_date=logical)
    _run.task_instances = task_instances(run)
    return run.state


def test_dag_run_delivers_the_day_and_a_rerun_is_identical(
    export_dag, demo_day, kolkata_lake, capfd
):
    dag, delivered = export_dag
    assert _run(dag, demo_day) == "success"
    # issue 18.2: a small day (40 events) is one format shard and one upload batch: 7 task
    # instances, where one format per event and one upload per file made 45
    assert _run.task_instances == {
        "check_destination": 1,
        "extract": 1,
        "split_by_event": 1,
        "format": 1,
        "chunk": 1,
        "upload": 1,
        "validate": 1,
    }
    # a successful run logs nothing at error level (issue 16: chunk's read of the mapped format
    # results once logged "XCom not found ... offset=N" on every run)
    logged = capfd.readouterr()
    errors = [line for line in (logged.out + logged.err).splitlines() if "[error" in line]
    assert "Done. Returned value was" in logged.out  # the task logs are what was read
    assert errors == []
    staging = delivered.parent.parent / "staging"
    assert staging.is_dir()  # the run staged there, then released it after validate
    # nothing left behind, not even the export's folder (only the host's stamp of its last sweep)
    assert [p.name for p in staging.rglob("*")] == [SWEPT]
    zip_path = delivered / "acme_01112026.zip"
    manifest = json.loads((delivered / "acme_01112026.manifest").read_text())
    first_zip = zip_path.read_bytes()
    assert manifest["files"][0]["sha256"] == hashlib.sha256(first_zip).hexdigest()

    window = day_window(demo_day, ZoneInfo("Asia/Kolkata"))
    lake = pa.Table.from_batches(list(read_window(str(kolkata_lake), window)))
    lake_by_id = {r["event_id"]: r for r in lake.to_pylist()}
    with zipfile.ZipFile(io.BytesIO(first_zip)) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        delivered_rows = 0
        for name in names:
            event = name.removesuffix("_01112026.csv")
            text = zf.read(name).decode("utf-8")
            rows = list(csv.DictReader(io.StringIO(text, newline="")))
            expected = pc.sum(pc.equal(lake.column("event_name"), event)).as_py()
            assert len(rows) == expected == manifest["rows_per_event"][event], name
            delivered_rows += len(rows)
            for row in rows[:25]:  # a sample of values, compared with the lake
                source = lake_by_id[row["eventId"]]
                assert source["event_name"] == event
                assert row["Identity"] == (source["identity"] or "")
                assert row["url"] == (source["url"] or "")
                local = source["ts"].astimezone(ZoneInfo("Asia/Kolkata"))
                assert row["ts"] == local.strftime("%Y-%m-%dT%H:%M:%S.") + (
                    f"{local.microsecond // 1000:03d}{local:%z}"
                )
                payload = json.loads(source["payload"])
                for key, value in payload.items():
                    if isinstance(value, str):
                        assert row[f"payload.{key}"] == value
    assert delivered_rows == lake.num_rows == manifest["total_rows"]

    assert _run(dag, demo_day) == "success"
    assert [p.name for p in staging.rglob("*")] == [SWEPT]
    assert zip_path.read_bytes() == first_zip
    assert sorted(p.name for p in Path(delivered).iterdir()) == [
        "acme_01112026.manifest",
        "acme_01112026.zip",
    ]


def test_runs_use_postgres_where_the_machine_has_it(airflow_db):
    """On machines that run PostgreSQL on 127.0.0.1:5432 the DAG runs above used it."""
    import socket

    from airflow import settings

    with socket.socket() as probe:
        has_postgres = probe.connect_ex(("127.0.0.1", 5432)) == 0
    if has_postgres:
        assert settings.engine.dialect.name == "postgresql"
        assert settings.engine.url.database == METADATA_DB.rsplit("/", 1)[1]
    else:
        assert settings.engine.dialect.name == "sqlite"
