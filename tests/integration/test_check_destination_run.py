"""A real DAG run (dag.test) checks the destination first: a missing bucket fails the run there,
before any data is read, and leaves the record the failure policy emails the client from."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags
from event_export.orchestration.failure_reports import XCOM_KEY
from event_export.settings import staging_root
from servers.net import set_connection
from servers.s3 import aws_connection, boto_client

CONFIG = """\
client_id: acme
export_id: it_check
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: s3, conn_id: it_check_s3, bucket: acme-exports-typo, path: acme}}
"""


@pytest.fixture
def export_dag(tmp_path, monkeypatch, moto_s3, airflow_db):
    moto_s3.reset()
    boto_client(moto_s3.endpoint).create_bucket(Bucket="acme-exports")
    set_connection("it_check_s3", aws_connection(moto_s3.endpoint, "AKIATESTKEY", "s3-secret"))
    # No lake: the run must stop before anything reads one.
    config = CONFIG.format(lake=tmp_path / "no-lake")
    return export_dags(tmp_path, monkeypatch, {"it_check": config})["export_it_check"]


def client_error(run) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == "check_destination",
                XComModel.key == XCOM_KEY,
            )
        ).one()
        return XComModel.deserialize_value(row)


def test_a_missing_bucket_fails_the_run_at_check_destination_before_extract(
    export_dag, moto_s3, demo_day
):
    logical = datetime.combine(
        demo_day + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
    run = export_dag.test(logical_date=logical)
    assert run.state == "failed"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["check_destination"].state == "failed"
    assert tis["check_destination"].try_number == 1  # the client's problem: no retries
    assert tis["extract"].state == "upstream_failed"
    assert tis["extract"].try_number == 0  # never tried: no data was read
    assert not (staging_root() / "it_check").exists()
    assert {t: ti.state for t, ti in tis.items() if t != "check_destination"} == {
        t: "upstream_failed" for t in tis if t != "check_destination"
    }
    record = client_error(run)
    assert record["code"] == "bucket_missing"
    assert record["explanation"] == "The bucket acme-exports-typo does not exist."
    assert "exact match" in record["fix"]
    client = boto_client(moto_s3.endpoint)
    assert client.list_objects_v2(Bucket="acme-exports").get("KeyCount") == 0
