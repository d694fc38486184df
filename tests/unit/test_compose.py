"""docker-compose.yaml checked statically: no Docker engine runs on the machines we test on."""

import re
from pathlib import Path

import yaml
from conftest import REPO
from event_export.config import load_all

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


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value
    return pairs


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
    env = _env_file(REPO / "deploy" / "airflow.env")
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
