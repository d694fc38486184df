"""Staging on S3 (moto on 127.0.0.1): a real DAG run whose tasks hand over only through the bucket,
and in-process runs that deliver the same bytes as with local staging."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags, set_local_connection
from event_export.config.model import ExportConfig, load_config
from event_export.pipeline import schema
from event_export.pipeline.lake import count_profiles, count_window
from event_export.pipeline.run import ExportRun, run_export
from event_export.pipeline.staging import ASSEMBLY, S3Staging
from event_export.pipeline.staging_cleanup import SWEPT
from event_export.scheduling.windows import day_window
from servers.net import set_connection
from servers.s3 import aws_connection, boto_client

BUCKET = "ees-staging"
PREFIX = "staging/v1"
CONN = "staging_s3"
CONFIG = """\
client_id: acme
export_id: it_s3stage
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_s3stage_local, path: acme}}
"""


@pytest.fixture
def s3_staging(moto_s3, monkeypatch, tmp_path):
    """Staging on an S3 prefix, workspaces under a scratch folder; the client to look inside."""
    moto_s3.reset()
    client = boto_client(moto_s3.endpoint)
    client.create_bucket(Bucket=BUCKET)
    set_connection(CONN, aws_connection(moto_s3.endpoint, "AKIASTAGING", "staging-secret"))
    monkeypatch.setenv("EES_STAGING_URI", f"s3://{BUCKET}/{PREFIX}")
    monkeypatch.setenv("EES_STAGING_CONN_ID", CONN)
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "scratch"))
    return client


def staged(client, below: str = "") -> dict[str, int]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{below}").get("Contents", [])
    return {o["Key"].removeprefix(f"{PREFIX}/"): o["Size"] for o in listed}


def etags(client, below: str) -> dict[str, str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{below}").get("Contents", [])
    return {o["Key"].removeprefix(f"{PREFIX}/"): o["ETag"].strip('"') for o in listed}


def host_copies(scratch: Path) -> dict[str, str]:
    """The worker's host copies (staging.py): key -> the ETag its file is named by."""
    root = scratch / "copies"
    return {p.parent.relative_to(root).as_posix(): p.name for p in files_under(root)}


def xcom(dag_run, task_id: str):
    """A task's return value as the metadata database holds it."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(
        run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value"
    )
    with create_session() as session:
        row = session.scalars(query).one()
        return XComModel.deserialize_value(row)


def files_under(folder: Path) -> list[Path]:
    """The files under `folder` but the host's stamp of its last staging sweep."""
    found = folder.rglob("*") if folder.exists() else []
    return [p for p in found if p.is_file() and p.name != SWEPT]


def test_dag_run_hands_over_through_s3_and_delivers_the_lake(
    s3_staging, tmp_path, monkeypatch, kolkata_lake, demo_day, airflow_db
):
    config = CONFIG.format(lake=kolkata_lake)
    dag = export_dags(tmp_path, monkeypatch, {"it_s3stage": config})["export_it_s3stage"]
    set_local_connection("it_s3stage_local", tmp_path / "client")
    stale = f"{PREFIX}/it_s3stage/2026-11-01/extract/event from an earlier try.arrow"
    s3_staging.put_object(Bucket=BUCKET, Key=stale, Body=b"stale")
    monkeypatch.setenv("EES_STAGING_KEEP_DAYS", "1")  # keep it, to look inside

    logical = datetime.combine(
        demo_day + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
    dag_run = dag.test(logical_date=logical)
    assert dag_run.state == "success"

    objects = staged(s3_staging, "it_s3stage/2026-11-01/")
    run = "it_s3stage/2026-11-01"
    assert stale.removeprefix(f"{PREFIX}/") not in objects  # the extract cleared the old try
    assert objects[f"{run}/extract/parts.json"] > 0  # the day staged once, per event
    window = day_window(demo_day, ZoneInfo("Asia/Kolkata"))
    expected = count_window(str(kolkata_lake), window)
    split = {k for k in objects if k.startswith(f"{run}/extract/") and k.endswith(".arrow")}
    in_format = {k for k in objects if k.startswith(f"{run}/format/")}
    columns = {k for k in in_format if k.endswith(f"/{schema.EVENT_FILE}")}  # schema contract
    formatted = in_format - columns
    assert len(split) == len(formatted) == len(columns) == len(expected) > 1
    assert f"{run}/extract/event-names.json" in objects  # raw names: staged, not in XCom
    assert all(re.search(r"/format/([0-9a-f]{16})/\1\.csv\.deflate$", k) for k in formatted)
    zip_key = f"{run}/package/acme_01112026.zip"
    # Every task worked in its own scratch folder, removed when it ended; the host copies that
    # handed staged files to this worker's later tasks went when the run validated.
    assert files_under(tmp_path / "scratch") == []
    # XCom carries staging keys, not a worker's paths.
    assert xcom(dag_run, "extract")["path"] == f"{run}/extract/parts.json"
    assert [f["path"] for f in xcom(dag_run, "chunk")[0]["files"]] == [zip_key]  # one batch

    delivered = tmp_path / "client" / "acme"
    zip_bytes = (delivered / "acme_01112026.zip").read_bytes()
    # The zip is staged as its recipe, not its bytes a second time: the members format staged,
    # between headers; a worker without a copy rebuilds the same bytes from them.
    assert zip_key not in objects
    recipe = json.loads(
        s3_staging.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{zip_key}{ASSEMBLY}")["Body"].read()
    )
    assert sorted(p["key"] for p in recipe["pieces"] if "key" in p) == sorted(formatted)
    assert objects[f"{zip_key}{ASSEMBLY}"] < 64 * 1024 < recipe["size"] == len(zip_bytes)
    elsewhere = S3Staging(CONN, BUCKET, PREFIX, tmp_path / "elsewhere", host_copies=False)
    with elsewhere.workspace() as ws:
        assert ws.fetch(zip_key).read_bytes() == zip_bytes
    manifest = json.loads((delivered / "acme_01112026.manifest").read_text())
    assert manifest["files"][0]["sha256"] == hashlib.sha256(zip_bytes).hexdigest()
    assert csv_rows(zip_bytes) == expected == manifest["rows_per_event"]
    assert f"{run}/_validated" in objects  # kept a day, then the sweep removes it
    assert xcom(dag_run, "validate")["staging"] == "kept"

    # By default (EES_STAGING_KEEP_DAYS unset) a successful run leaves nothing on S3
    monkeypatch.delenv("EES_STAGING_KEEP_DAYS")
    rerun = dag.test(logical_date=logical)
    assert rerun.state == "success"
    assert staged(s3_staging) == {}
    assert files_under(tmp_path / "scratch") == []
    assert xcom(rerun, "validate")["staging"] == "removed"
    assert (delivered / "acme_01112026.zip").read_bytes() == zip_bytes

    # The same day staged locally gives the same bytes; test_airflow_run.py reads that zip row by
    # row against the lake.
    monkeypatch.delenv("EES_STAGING_URI")
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "local-staging"))
    set_local_connection("it_s3stage_local", tmp_path / "client-local")
    run_export(load_config(tmp_path / "exports" / "it_s3stage.yaml"), demo_day)
    assert (tmp_path / "client-local" / "acme" / "acme_01112026.zip").read_bytes() == zip_bytes


def csv_rows(zip_bytes: bytes) -> dict[str, int]:
    """Rows per event of a daily zip, read with the standard library."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return {
            name.removesuffix("_01112026.csv"): sum(
                1 for _ in csv.DictReader(io.TextIOWrapper(zf.open(name), "utf-8", newline=""))
            )
            for name in zf.namelist()
        }


GCP_CASES = {
    "json_chunks": {"format": "json", "chunk_size_mb": 0.2},
    "profiles": {"kind": "user_profiles", "account_id": 880011, "format": "csv"},
}


@pytest.mark.parametrize("case", sorted(GCP_CASES))
def test_gcp_export_through_s3_staging_delivers_what_local_staging_does(
    case, s3_staging, tmp_path, monkeypatch, kolkata_lake, demo_day
):
    """In one process, as the benchmark runs: every stage still fetches and publishes by key."""
    config = ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": f"gcp_{case}",
            "source": str(kolkata_lake),
            "profile": "gcp_export",
            "schedule": {"timezone": "Asia/Kolkata"},
            "destination": {"type": "local", "conn_id": "gcp_stage_local", "path": "out"},
        }
        | GCP_CASES[case]
    )
    set_local_connection("gcp_stage_local", tmp_path / "via-s3")
    via_s3 = run_export(config, demo_day)
    objects = staged(s3_staging, f"gcp_{case}/2026-11-01/")
    # No task's workspace is left; what stays (run_export does not release the run) is one host
    # copy per staged object, named by its ETag, for the worker's later tasks.
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == [SWEPT, "copies"]
    assert host_copies(tmp_path / "scratch") == etags(s3_staging, f"gcp_{case}/2026-11-01/")
    columns_file = f"/{schema.EVENT_FILE}"  # each event's recorded columns (schema contract)
    formatted = [k for k in objects if "/format/" in k and not k.endswith(columns_file)]
    assert any(k.endswith(columns_file) for k in objects)
    if case == "profiles":
        assert via_s3["rows_per_event"] == {
            "user_profiles": count_profiles(str(kolkata_lake), demo_day)
        }
        assert [k.rsplit("/", 1)[-1] for k in formatted] == ["00000.csv"]  # one gzip'd file
    else:
        assert len(formatted) > len(via_s3["rows_per_event"])  # some events took several chunks

    monkeypatch.delenv("EES_STAGING_URI")
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "local-staging"))
    set_local_connection("gcp_stage_local", tmp_path / "local")
    assert run_export(config, demo_day) == via_s3
    read = lambda root: {p.name: p.read_bytes() for p in (root / "out").iterdir()}  # noqa: E731
    assert read(tmp_path / "via-s3") == read(tmp_path / "local")
    assert len(read(tmp_path / "local")) == len(formatted) + 1  # and the manifest


def test_validate_to_s3_reads_the_stored_checksums_not_the_staged_files(
    s3_staging, moto_s3, kolkata_lake, demo_day
):
    """S3 keeps each single-part object's SHA-256: validate compares it with the manifest and
    downloads nothing from staging, so it passes with the staged files gone, and still catches
    a delivered file whose content differs."""
    from event_export.destinations.errors import VerificationError

    s3_staging.create_bucket(Bucket="acme-delivery")
    set_connection("it_s3_dest", aws_connection(moto_s3.endpoint, "AKIADELIVERY", "dest-secret"))
    config = ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "it_s3dest",
            "source": str(kolkata_lake),
            "schedule": {"timezone": "Asia/Kolkata"},
            "destination": {"type": "s3", "conn_id": "it_s3_dest", "bucket": "acme-delivery"},
        }
    )
    run = ExportRun(config, demo_day)
    files = run.package(run.format_shards(run.split(run.extract())))
    for file in files:
        run.upload(file)
        s3_staging.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{file['path']}")
    (zip_file,) = files
    summary = run.validate(files)
    assert [(f["name"], f["sha256"]) for f in summary["files"]] == [
        (zip_file["name"], zip_file["sha256"])
    ]

    delivered = s3_staging.get_object(Bucket="acme-delivery", Key=zip_file["name"])["Body"].read()
    other = bytes(b ^ 1 for b in delivered)  # the same size, another content
    s3_staging.put_object(
        Bucket="acme-delivery", Key=zip_file["name"], Body=other, ChecksumAlgorithm="SHA256"
    )
    with pytest.raises(VerificationError, match="checksum differs from the manifest"):
        run.validate(files)
