"""The compose demo's connections, pointed at the test servers: the init step creates the staging
and destination buckets through them, and a GCS export delivers over the anonymous connection."""

from __future__ import annotations

import json

import pytest
from compose_env import connections
from conftest import REPO
from event_export.config.model import load_config
from event_export.destinations import destination_for
from event_export.standins import ensure_all, needed_buckets
from servers.net import set_connection

COMPOSE_ENDPOINTS = {"http://s3-standin:5000"}


@pytest.fixture
def demo_connections(moto_s3, gcs, monkeypatch):
    """airflow.env's S3 and GCS connections, with the compose hosts swapped for the test servers."""
    moto_s3.reset()
    for conn_id in ("ees_staging", "demo_s3", "demo_gcs"):
        conn = json.loads(json.dumps(connections()[conn_id]))
        extra = conn["extra"]
        if "endpoint_url" in extra:
            assert extra["endpoint_url"] in COMPOSE_ENDPOINTS
            extra["endpoint_url"] = moto_s3.endpoint
        set_connection(conn_id, conn)
    monkeypatch.setenv("EES_STAGING_URI", "s3://ees-staging/runs")
    monkeypatch.setenv("EES_STAGING_CONN_ID", "ees_staging")
    return gcs


def test_init_creates_every_bucket_once_through_the_demo_connections(demo_connections):
    exports = REPO / "include" / "exports"
    assert needed_buckets(exports) == {
        ("s3", "ees_staging", "ees-staging"),
        ("s3", "demo_s3", "initech-exports"),
        ("gcs", "demo_gcs", "initech-exports"),
    }
    assert ensure_all(exports, wait=5) == [
        "gcs://initech-exports",
        "s3://initech-exports",
        "s3://ees-staging",
    ]
    assert ensure_all(exports, wait=5) == []  # a restarted init changes nothing
    assert demo_connections.emulator.client().lookup_bucket("initech-exports") is not None


def test_the_anonymous_gcs_connection_delivers_to_the_emulator(demo_connections, tmp_path):
    ensure_all(REPO / "include" / "exports", wait=5)
    config = load_config(REPO / "include" / "exports" / "initech_gcs_json.yaml")
    destination = destination_for(config.destination)
    local = tmp_path / "x.json"
    local.write_bytes(b'{"a": 1}\n')
    destination.upload(local, "x.json")
    assert {name: f.size for name, f in destination.list().items()} == {"x.json": 9}


def test_init_creates_an_azure_exports_container_through_the_demo_connection(
    azurite, tmp_path, monkeypatch
):
    """demo_azure as airflow.env gives it, its BlobEndpoint swapped for the test's Azurite."""
    conn = json.loads(json.dumps(connections()["demo_azure"]))
    endpoint = "BlobEndpoint=http://azure-standin:10000/devstoreaccount1;"
    assert endpoint in conn["extra"]["connection_string"]
    conn["extra"]["connection_string"] = conn["extra"]["connection_string"].replace(
        endpoint, f"BlobEndpoint={azurite.endpoint};"
    )
    set_connection("demo_azure", conn)
    monkeypatch.delenv("EES_STAGING_URI", raising=False)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "wayne_azure.yaml").write_text(
        "client_id: wayne\nexport_id: wayne_azure\n"
        "destination: {type: azure, conn_id: demo_azure, container: wayne-box}\n"
    )
    service = azurite.client()
    if service.get_container_client("wayne-box").exists():
        service.delete_container("wayne-box")
    assert ensure_all(exports, wait=5) == ["azure://wayne-box"]
    assert ensure_all(exports, wait=5) == []
    assert service.get_container_client("wayne-box").exists()
