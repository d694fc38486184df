"""Real DAG runs (dag.test) of an Azure Blob export with a webhook: the delivered event carries
the manifest the run published in Azurite, and a run that fails on the client's side sends a
failed event with the client's code, explanation and fix; both signed and verified by the
receiver."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags

CONFIG = """\
client_id: acme
export_id: it_notify
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: azure, conn_id: it_notify_azure, container: {container}, path: acme/daily}}
notify:
  webhooks:
    - {{url: "{url}", secret_conn_id: ees_webhook_secret}}
"""


@pytest.fixture
def service(azurite, webhook_receiver):
    from servers.net import set_connection

    webhook_receiver.reset()
    client = azurite.client()
    for existing in client.list_containers():
        client.delete_container(existing.name)
    client.create_container("acme-box")
    set_connection("it_notify_azure", azurite.connection())
    return client


def dag_for(tmp_path, monkeypatch, lake, receiver, container: str):
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "staging"))
    config = CONFIG.format(lake=lake, container=container, url=receiver.url("/hooks/acme"))
    return export_dags(tmp_path, monkeypatch, {"it_notify": config})["export_it_notify"]


def run_day(dag, day):
    logical = datetime.combine(
        day + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
    return dag.test(logical_date=logical)


def test_a_delivered_run_sends_the_manifest_signed(
    tmp_path, monkeypatch, kolkata_lake, demo_day, service, webhook_receiver, airflow_db
):
    dag = dag_for(tmp_path, monkeypatch, kolkata_lake, webhook_receiver, "acme-box")
    assert run_day(dag, demo_day).state == "success"
    [got] = webhook_receiver.wait_for(1)
    body = got.json()
    assert got.verified and got.path == "/hooks/acme"
    assert body["event"] == "delivered" and body["period"] == demo_day.isoformat()
    manifest = json.loads(
        service.get_container_client("acme-box")
        .download_blob("acme/daily/acme_01112026.manifest")
        .readall()
    )
    sent = body["manifest"]
    assert sent["manifest"] == "acme_01112026.manifest"
    assert [(f["name"], f["size"], f["sha256"]) for f in sent["files"]] == [
        (f["name"], f["size"], f["sha256"]) for f in manifest["files"]
    ]
    assert sum(sent["rows_per_event"].values()) == manifest["total_rows"] > 0
    assert body["destination"] == "az://acme-box/acme/daily"
    assert "staging" not in sent


def test_a_run_failing_on_the_clients_side_sends_failed_with_the_fix(
    tmp_path, monkeypatch, kolkata_lake, demo_day, service, webhook_receiver, airflow_db
):
    dag = dag_for(tmp_path, monkeypatch, kolkata_lake, webhook_receiver, "acme-box-typo")
    assert run_day(dag, demo_day).state == "failed"
    [got] = webhook_receiver.wait_for(1)
    body = got.json()
    assert got.verified and body["event"] == "failed"
    assert body["task_id"] == "check_destination" and body["map_index"] == -1
    assert body["error"]["side"] == "client" and body["error"]["code"] == "bucket_missing"
    assert "container acme-box-typo does not exist" in body["error"]["explanation"]
    assert body["error"]["fix"]
