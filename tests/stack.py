"""A real Airflow on loopback for the tests that need one: scheduler, triggerer, dag-processor and
api-server (LocalExecutor, SQLite), started once per session, with its own AIRFLOW_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from conftest import REPO, free_port, smtp_connection_json

SERVICE_USER = "ees_service"
STACK_EXPORTS = {
    # due 5 s after the run's logical date: the deadline test triggers it with a recent date
    "dl_acme": "schedule: {timezone: Asia/Kolkata, deadline: '00:00:05'}",
    # paused by the failure policy's third email in the pause test
    "stop_me": "schedule: {timezone: Europe/Berlin}",
}
DESTINATIONS = {
    "dl_acme": "{type: local, conn_id: stack_missing_conn}",
    # the connection's folder does not exist: the client's fault (ClientSideError path_missing)
    "stop_me": "{type: local, conn_id: stack_client}",
}
CLIENT_EMAIL = "client@acme.example"


@dataclass
class AirflowStack:
    home: Path
    env: dict[str, str]
    base_url: str
    password: str
    logs: dict[str, Path]

    def api(self):
        from event_export.airflow_api import AirflowApi

        return AirflowApi(self.base_url, SERVICE_USER, self.password)

    def connection_env(self) -> str:
        host, port = self.base_url.removeprefix("http://").split(":")
        return json.dumps(
            {
                "conn_type": "http",
                "host": host,
                "port": int(port),
                "login": SERVICE_USER,
                "password": self.password,
            }
        )

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict:
        api = self.api()
        return wait_until(lambda: api.get_dag(dag_id), timeout, f"DAG {dag_id} parsed")

    def log_text(self) -> str:
        text = "\n".join(p.read_text(errors="replace") for p in self.logs.values())
        for path in (self.home / "logs").rglob("*"):
            if path.is_file():
                text += "\n" + path.read_text(errors="replace")
        return text


def wait_until(check, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(every)


def start_stack(tmp_path_factory, smtp_server):
    """Generator for the session fixture `airflow_stack` (tests/conftest.py)."""
    home = tmp_path_factory.mktemp("airflow-stack")
    exports = home / "exports"
    exports.mkdir()
    for export_id, schedule in STACK_EXPORTS.items():
        (exports / f"{export_id}.yaml").write_text(
            f"client_id: acme\nexport_id: {export_id}\nsource: {home / 'lake'}\n{schedule}\n"
            f"destination: {DESTINATIONS[export_id]}\n"
            f"notify: {{failure_emails: [{CLIENT_EMAIL}]}}\n"
        )
    port = free_port()
    password = "stack-test-password"
    (home / "passwords.json").write_text(json.dumps({SERVICE_USER: password}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # paused: no scheduled runs; the tests trigger the runs they need
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{SERVICE_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": "stack-test-jwt-secret-not-for-production",
        "AIRFLOW__API__SECRET_KEY": "stack-test-secret-key",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection_json(smtp_server.port),
        "EES_EXPORTS_DIR": str(exports),
        "EES_STAGING_DIR": str(home / "staging"),
        "EES_DEADLINE_ALERTS": "on",
        "EES_ONCALL_EMAILS": "oncall@ees.invalid",
        "EES_INCIDENTS_PATH": str(home / "incidents.json"),
        "AIRFLOW_CONN_STACK_CLIENT": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(home / "client-folder-that-is-missing")}}
        ),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    commands = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer"],
    }
    procs, logs = {}, {}
    stack = AirflowStack(home, env, f"http://127.0.0.1:{port}", password, logs)
    env["AIRFLOW_CONN_EES_AIRFLOW_API"] = stack.connection_env()
    for name, args in commands.items():
        logs[name] = home / f"{name}.out"
        with logs[name].open("w") as out:
            procs[name] = subprocess.Popen(
                [airflow, *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def healthy():
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited: {logs[name].read_text()[-3000:]}")
        try:
            return httpx.get(f"{stack.base_url}/api/v2/monitor/health", timeout=5).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 120, "api-server healthy")
        yield stack
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
