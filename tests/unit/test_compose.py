"""docker-compose.yaml checked statically: no Docker engine runs on the machines we test on."""

import json
import re
from urllib.parse import urlparse

import compose_env
import yaml
from conftest import REPO
from event_export.config.model import load_all

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}


def test_stack_has_the_official_airflow_3_services():
    assert set(SERVICES) >= AIRFLOW_SERVICES | {"postgres", "redis"}
    commands = {name: SERVICES[name].get("command") for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker": "celery worker",
    }


def test_every_image_is_pinned_and_built_files_exist():
    for name, service in SERVICES.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: unpinned image {image}"
        assert not image.endswith(":latest"), name
        if "build" in service:
            assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2-python3.11" in dockerfile
    assert '"apache-airflow==3.3.2" -r /opt/ees/requirements.txt' in dockerfile


def test_references_resolve():
    volumes = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for dep in service.get("depends_on", {}):
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} missing"
            else:
                assert source in volumes, f"{name}: volume {source} not declared"
        for env_file in service.get("env_file", []):
            assert (REPO / env_file).is_file()
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_airflow_settings_cover_celery_and_every_shipped_connection():
    env = compose_env.env_file()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-apiserver:8080/execution/"
    )
    good, errors = load_all(REPO / "include" / "exports")
    assert not errors
    for config in good.values():
        assert f"AIRFLOW_CONN_{config.destination.conn_id.upper()}" in env, config.export_id


STANDINS = {"s3-standin", "sftp-standin", "gcs-standin", "azure-standin", "mailpit"}
CONN_TYPES = {
    "local": "fs",
    "s3": "aws",
    "gcs": "google_cloud_platform",
    "sftp": "sftp",
    "azure": "wasb",
}


def _host(conn: dict) -> str | None:
    """The service a connection reaches: its host, its endpoint_url's host, or the BlobEndpoint
    of an Azure connection string."""
    extra = conn.get("extra", {})
    endpoint = extra.get("endpoint_url")
    parts = dict(p.split("=", 1) for p in extra.get("connection_string", "").split(";") if "=" in p)
    endpoint = endpoint or parts.get("BlobEndpoint")
    return urlparse(endpoint).hostname if endpoint else conn.get("host")


def test_every_image_names_a_version():
    for name, service in SERVICES.items():
        tag = service["image"].rsplit(":", 1)[1]
        assert re.search(r"\d", tag), f"{name}: tag {tag!r} is not a version"


def test_destination_and_email_stand_ins_run_beside_airflow():
    assert set(SERVICES) >= STANDINS
    for name in AIRFLOW_SERVICES:
        assert "s3-standin" in SERVICES[name]["depends_on"], f"{name}: staging lives on it"
    init = SERVICES["airflow-init"]
    assert {"gcs-standin", "sftp-standin", "azure-standin"} <= set(init["depends_on"])
    assert "python -m event_export.standins" in init["command"][-1]


def test_connections_parse_and_reach_compose_services():
    from airflow.sdk import Connection

    connections = compose_env.connections()
    assert {"ees_staging", "demo_local", "demo_s3", "demo_sftp", "demo_gcs", "demo_azure"} <= set(
        connections
    )
    for conn_id, conn in connections.items():
        parsed = Connection.from_json(json.dumps(conn), conn_id=conn_id)
        assert parsed.conn_type == conn["conn_type"]
        host = _host(conn)
        if host is not None:
            assert host in SERVICES, f"{conn_id}: {host} is not a compose service"
        if conn.get("password"):  # only the stand-ins' fixed demo passwords live in this file
            assert "demo" in conn["password"], conn_id
    azure = connections["demo_azure"]["extra"]["connection_string"]
    assert "AccountName=devstoreaccount1;" in azure  # Azurite's published development account
    assert _host(connections["demo_azure"]) == "azure-standin"
    gcs = connections["demo_gcs"]["extra"]
    assert gcs["is_anonymous"] is True
    env = compose_env.env_file()
    assert urlparse(env["STORAGE_EMULATOR_HOST"]).hostname == "gcs-standin"


def test_compose_stages_on_the_s3_stand_in():
    from event_export.pipeline.staging import parse_s3_uri

    env = compose_env.env_file()
    bucket, prefix = parse_s3_uri(env["EES_STAGING_URI"])
    assert bucket and prefix
    conn = compose_env.connections()[env["EES_STAGING_CONN_ID"]]
    assert conn["conn_type"] == "aws" and _host(conn) == "s3-standin"
    scratch = env["EES_STAGING_DIR"]
    mounts = {m.split(":")[1] for m in COMPOSE["x-airflow-common"]["volumes"]}
    assert scratch in mounts  # scratch folders and the incidents file stay on a volume


def test_shipped_configs_use_connections_of_their_type():
    good, errors = load_all(REPO / "include" / "exports")
    assert not errors
    connections = compose_env.connections()
    used = set()
    for config in good.values():
        destination = config.destination
        used.add(destination.type)
        conn = connections[destination.conn_id]
        assert conn["conn_type"] == CONN_TYPES[destination.type], config.export_id
    assert used >= {"local", "s3", "gcs", "sftp"}  # an example for each stand-in


def test_the_azure_stand_in_is_azurite_on_loopback_in_memory():
    """The Azure destination's stand-in: the emulator the tests use, at the version setup.sh
    installs from npm, listening in its container and published on 127.0.0.1 only."""
    service = SERVICES["azure-standin"]
    image, version = service["image"].rsplit(":", 1)
    assert image.endswith("/azurite")
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert f"AZURITE_VERSION={version}" in setup
    assert service["command"][0] == "azurite-blob" and "--inMemoryPersistence" in service["command"]
    port = service["command"][service["command"].index("--blobPort") + 1]
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
