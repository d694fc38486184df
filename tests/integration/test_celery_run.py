"""Scale-out on Airflow's own engine: a daily zip run by the scheduler and two Celery workers
(Redis broker, PostgreSQL result backend and metadata database), its mapped `format` tasks spread
over both workers, and the delivered zip and manifest read back against the lake.

As in the compose stack, staging is on S3 (moto on 127.0.0.1) and each worker has a local
folder of its own, as on separate hosts: the tasks hand files over through the bucket only."""

import csv
import hashlib
import io
import json
import zipfile
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from event_export.generator import EVENT_NAMES
from event_export.pipeline import schema
from event_export.pipeline.lake import read_window
from event_export.pipeline.naming import event_label, staging_key
from event_export.pipeline.shards import plan_shards
from event_export.pipeline.staging import ASSEMBLY
from event_export.pipeline.staging_cleanup import SWEPT
from event_export.scheduling.windows import day_window
from servers.s3 import aws_connection, boto_client
from stack import start_stack, wait_until

pytestmark = pytest.mark.stack  # starts its own Airflow (see conftest's tiers)

EVENTS = EVENT_NAMES[:8]  # the most frequent, in shards of SHARD_ROWS: several `format` tasks
SHARD_ROWS = 600  # 9 shards; the two largest events cut into 3 and 2 row ranges
CONFIG = """\
client_id: acme
export_id: cel_acme
source: {lake}
kind: selected_events
events: {events}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: cel_local, path: acme}}
"""
BUCKET = "cel-staging"


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory, smtp_server, kolkata_lake, moto_s3):
    moto_s3.reset()
    boto_client(moto_s3.endpoint).create_bucket(Bucket=BUCKET)
    staging = aws_connection(moto_s3.endpoint, "AKIACELERY", "celery-staging-secret")
    client = tmp_path_factory.mktemp("celery-client")
    connection = json.dumps({"conn_type": "fs", "extra": {"path": str(client)}})
    exports = {"cel_acme": CONFIG.format(lake=kolkata_lake, events=json.dumps(EVENTS))}
    stack = start_stack(
        tmp_path_factory,
        smtp_server,
        exports=exports,
        env={
            "AIRFLOW_CONN_CEL_LOCAL": connection,
            # unpaused for the triggered run only: no scheduled runs besides it, no deadline
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "EES_DEADLINE_ALERTS": "off",
            "EES_STAGING_URI": f"s3://{BUCKET}/runs",
            "EES_STAGING_CONN_ID": "cel_staging",
            "AIRFLOW_CONN_CEL_STAGING": json.dumps(staging),
            "EES_STAGING_KEEP_DAYS": "1",  # kept, to check what went through the bucket
            "EES_SHARD_ROWS": str(SHARD_ROWS),
        },
        celery_workers=2,
        worker_scratch=True,
    )
    started = next(stack)
    yield started, client / "acme", boto_client(moto_s3.endpoint)
    stack.close()  # stops every process and drops the stack's database


def test_two_celery_workers_share_the_mapped_tasks(celery_stack, kolkata_lake, demo_day):
    stack, delivered, s3 = celery_stack
    api = stack.api()
    stack.wait_for_dag("export_cel_acme")
    api.set_paused("export_cel_acme", False)
    tz = ZoneInfo("Asia/Kolkata")
    logical = datetime.combine(demo_day + timedelta(days=1), datetime.min.time(), tz)
    run_id = api.trigger("export_cel_acme", logical.isoformat())["dag_run_id"]

    def finished():
        runs = [r for r in api.latest_runs("export_cel_acme") if r["dag_run_id"] == run_id]
        return runs[0] if runs else None

    run = wait_until(finished, 150, "the Celery run finished", every=2)
    tis = api.task_instances("export_cel_acme", run_id)
    assert run["state"] == "success", [(t["task_id"], t["state"]) for t in tis]
    formats = [t for t in tis if t["task_id"] == "format"]
    window = day_window(demo_day, tz)
    counts = Counter()
    for batch in read_window(str(kolkata_lake), window, EVENTS, columns=["event_name"]):
        counts.update(batch.column("event_name").to_pylist())
    parts = [
        {"key": staging_key(e), "label": event_label(e), "rows": n, "path": ""}
        for e, n in sorted(counts.items())
    ]
    shards = plan_shards(parts, SHARD_ROWS)
    pieces = sum(len(s["parts"]) for s in shards)
    assert pieces > len(EVENTS)  # some events were cut
    assert len(formats) == len(shards), [(t["task_id"], t["state"], t["hostname"]) for t in tis]
    assert {t["rendered_map_index"] for t in formats} == {s["label"] for s in shards}
    per_worker = Counter(t["hostname"] for t in formats)
    assert set(per_worker) == {"w1", "w2"}, per_worker  # each worker ran at least one
    assert {t["hostname"] for t in tis} <= {"w1", "w2"}

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/cel_acme/2026-11-01/")["Contents"]
    staged = {o["Key"].removeprefix("runs/cel_acme/2026-11-01/").split("/")[0] for o in listed}
    assert staged == {"extract", "format", "package", "_validated"}  # kept: KEEP_DAYS
    in_format = [o["Key"] for o in listed if "/format/" in o["Key"]]
    columns = [k for k in in_format if k.endswith(f"/{schema.EVENT_FILE}")]  # one per event
    assert len(in_format) - len(columns) == pieces and len(columns) == len(EVENTS)
    etags = {o["Key"].removeprefix("runs/"): o["ETag"].strip('"') for o in listed}
    for worker in ("w1", "w2"):  # each worked in its own folders and removed them; what is left
        scratch = stack.home / f"scratch-{worker}"  # are host copies of objects it staged, on
        copies = scratch / "copies"  # the worker that did not release the run (staging.py)
        files = [p for p in scratch.rglob("*") if p.is_file() and p.name != SWEPT]
        assert scratch.is_dir() and all(p.is_relative_to(copies) for p in files)
        kept = {p.parent.relative_to(copies).as_posix(): p.name for p in files}
        # named by the ETag: of the object, or of its recipe for the zip (staged as its recipe,
        # its copy is kept on the worker that packaged it when another one validated)
        assert all(etags.get(k, etags.get(k + ASSEMBLY)) == tag for k, tag in kept.items()), kept
    assert not (stack.home / "staging" / "cel_acme").exists()

    zip_bytes = (delivered / "acme_01112026.zip").read_bytes()
    manifest = json.loads((delivered / "acme_01112026.manifest").read_text())
    assert manifest["files"][0]["sha256"] == hashlib.sha256(zip_bytes).hexdigest()
    window = day_window(demo_day, tz)
    lake = pa.Table.from_batches(list(read_window(str(kolkata_lake), window))).to_pylist()
    expected = {e: {r["event_id"] for r in lake if r["event_name"] == e} for e in EVENTS}
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        assert zf.testzip() is None
        got = {
            name.removesuffix("_01112026.csv"): {
                row["eventId"]
                for row in csv.DictReader(io.StringIO(zf.read(name).decode(), newline=""))
            }
            for name in zf.namelist()
        }
    assert got == expected
    assert manifest["rows_per_event"] == {e: len(ids) for e, ids in expected.items()}
    assert manifest["total_rows"] == sum(len(ids) for ids in expected.values())
