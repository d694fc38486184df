"""The settings and commands of an Airflow on loopback, shared by `make up` and the tests' stack.

One place says how the four services run on one machine: LocalExecutor, the repo's DAGs and the
Exports plugin, the simple auth manager with a passwords file, the execution API on 127.0.0.1,
and every listening socket on loopback. Airflow binds its own task-log servers to every interface
(see log_server.py), so the scheduler and triggerer skip them and two `log_server` processes serve
Airflow's log app on 127.0.0.1 at the configured ports instead.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from event_export.settings import PACKAGE_DIR

REPO = PACKAGE_DIR.parents[1]
# airflow_local_settings.py: the task code's modules imported once per worker (preload.py)
LOCAL_SETTINGS_DIR = REPO / "deploy" / "config"
LOG_SERVERS = ("worker-logs", "trigger-logs")


def free_port() -> int:
    """A port nobody listens on at 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Ports:
    """The api-server's port and the two log servers' (all on 127.0.0.1)."""

    api: int
    worker_logs: int
    trigger_logs: int

    @classmethod
    def pick(cls, api: int | None = None) -> Ports:
        return cls(api or free_port(), free_port(), free_port())


@dataclass(frozen=True)
class Secrets:
    """What signs the api-server's tokens and sessions (never a shared default)."""

    jwt_secret: str
    api_secret_key: str


def airflow_env(
    home: Path,
    ports: Ports,
    database_url: str,
    users: dict[str, str],
    secrets: Secrets,
    exports_dir: Path,
    staging_dir: Path,
) -> dict[str, str]:
    """The environment of every service: `users` maps user name -> role (admin, op, ...), their
    passwords are in `home/passwords.json` (written by the caller)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        # the Exports page and its API (/ees), as deployed: `ees` and backfills go through it
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # as deploy/airflow.env: a task's supervisor that has read its task's last output but
        # not yet seen the process exit sleeps up to this long (Airflow's default 5 s) before
        # it looks again: 27% of the 1,000-export night's task instances held their executor
        # slot 5 s longer than their task (docs/capacity.md)
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        # as deploy/airflow.env: every DAG of the project decides its own initial state (an
        # enabled export and the health check start unpaused, `enabled: false` paused)
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{ports.api}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.jwt_secret,
        "AIRFLOW__API__SECRET_KEY": secrets.api_secret_key,
        # loopback only: the scheduler and triggerer skip Airflow's log servers (every
        # interface) and log_server.py serves these ports on 127.0.0.1
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports.worker_logs),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports.trigger_logs),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "EES_EXPORTS_DIR": str(exports_dir),
        "EES_STAGING_DIR": str(staging_dir),
        "EES_INCIDENTS_PATH": str(home / "incidents.json"),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(LOCAL_SETTINGS_DIR), os.environ.get("PYTHONPATH")])
        ),
    }


def api_connection(port: int, user: str, password: str) -> str:
    """The `ees_airflow_api` connection (health check -> api-server) as Airflow reads it from
    AIRFLOW_CONN_EES_AIRFLOW_API."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": port,
            "login": user,
            "password": password,
        }
    )


def service_commands(ports: Ports) -> dict[str, list[str]]:
    """Each service's command line: Airflow's four (`airflow` of this interpreter's venv), then
    the two loopback log servers."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    api = ["api-server", "--host", "127.0.0.1", "--port", str(ports.api), "--workers", "1"]
    log_server = [sys.executable, "-m", "event_export.standalone.log_server"]
    return {
        "api-server": [airflow, *api],
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [airflow, "dag-processor"],
        "triggerer": [airflow, "triggerer", "--skip-serve-logs"],
        "worker-logs": [*log_server, str(ports.worker_logs)],
        "trigger-logs": [*log_server, str(ports.trigger_logs)],
    }
