"""The settings `make up` and the tests' stack share: every address loopback, no default port."""

from pathlib import Path

from event_export.standalone.airflow_env import (
    LOCAL_SETTINGS_DIR,
    Ports,
    Secrets,
    airflow_env,
    port_is_free,
    service_commands,
)
from event_export.standalone.postgres import sqlalchemy_url
from event_export.standalone.up import database_name


def _env(tmp_path: Path) -> dict[str, str]:
    return airflow_env(
        tmp_path,
        Ports(18080, 18793, 18794),
        "postgresql+psycopg2://postgres@127.0.0.1:5432/x",
        {"admin": "admin", "svc": "op"},
        Secrets("jwt", "key"),
        exports_dir=tmp_path / "exports",
        staging_dir=tmp_path / "staging",
    )


def test_every_address_is_loopback_and_the_log_ports_are_the_chosen_ones(tmp_path):
    env = _env(tmp_path)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == "127.0.0.1"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "18794"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin,svc:op"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "jwt"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"].endswith("/plugins")


def test_the_services_bind_loopback_and_skip_airflows_own_log_servers():
    commands = service_commands(Ports(18080, 18793, 18794))
    assert set(commands) == {
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker-logs",
        "trigger-logs",
    }
    api = commands["api-server"]
    assert api[api.index("--host") + 1] == "127.0.0.1"
    assert api[api.index("--port") + 1] == "18080"
    assert "--skip-serve-logs" in commands["scheduler"]
    assert "--skip-serve-logs" in commands["triggerer"]
    assert commands["worker-logs"][-2:] == ["event_export.standalone.log_server", "18793"]
    assert commands["trigger-logs"][-1] == "18794"


def test_picked_ports_are_free_and_distinct():
    ports = Ports.pick()
    assert len({ports.api, ports.worker_logs, ports.trigger_logs}) == 3
    assert all(port_is_free(p) for p in (ports.api, ports.worker_logs, ports.trigger_logs))


def test_each_checkout_has_a_database_of_its_own(tmp_path):
    one, two = database_name(tmp_path / "a"), database_name(tmp_path / "b")
    assert one != two
    assert one.startswith("ees_up_") and one.replace("_", "").isalnum()
    admin = "postgresql://ees:p%40ss@127.0.0.1:5433/postgres"
    assert sqlalchemy_url(admin, one) == f"postgresql+psycopg2://ees:p%40ss@127.0.0.1:5433/{one}"


def test_every_service_finds_the_airflow_local_settings_first(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    path = _env(tmp_path)["PYTHONPATH"].split(":")
    assert path == [str(LOCAL_SETTINGS_DIR), "/elsewhere"]
    assert (LOCAL_SETTINGS_DIR / "airflow_local_settings.py").is_file()
