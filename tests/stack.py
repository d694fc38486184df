"""A real Airflow on loopback for the tests that need one: scheduler, triggerer, dag-processor and
api-server with its own AIRFLOW_HOME and a metadata database of its own (PostgreSQL where the
machine has it, else SQLite in that home), with LocalExecutor, or with CeleryExecutor and Celery
workers (Redis broker).

A stack never shares the session's metadata database: the in-process `dag.test()` runs of the other
tests write DAGs and runs of the same `dags-folder` bundle there, which the stack's scheduler and
dag-processor would otherwise pick up or retire."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
from conftest import REPO, drop_database, migrated_database, smtp_connection_json
from event_export.pipeline.lake import EVENTS_TABLE
from event_export.standalone.airflow_env import (
    Ports,
    Secrets,
    airflow_env,
    api_connection,
    service_commands,
)

SERVICE_USER = "ees_service"
CLIENT_EMAIL = "client@acme.example"
NOTIFY_CLIENT = f"notify: {{failure_emails: [{CLIENT_EMAIL}]}}"
# the connection's folder does not exist: the client's fault (ClientSideError path_missing)
MISSING_FOLDER = "destination: {type: local, conn_id: stack_client}"
PROFILES = "profile: gcp_export\nkind: user_profiles\naccount_id: 9"
ONE_EVENT = "kind: selected_events\nevents: [add to cart]"  # one mapped format task: a short run
STACK_EXPORTS = {  # export id -> its config after client_id, export_id and source
    # due 5 s after the run's logical date: the deadline test triggers it with a recent date;
    # `enabled: false` keeps it paused whatever the stack's default, so that run never starts
    "dl_acme": "schedule: {timezone: Asia/Kolkata, deadline: '00:00:05', enabled: false}\n"
    f"destination: {{type: local, conn_id: stack_missing_conn}}\n{NOTIFY_CLIENT}",
    # paused by the failure policy's third email in the pause test
    "stop_me": f"schedule: {{timezone: Europe/Berlin}}\n{MISSING_FOLDER}\n{NOTIFY_CLIENT}",
    # seed 003's profile rule: the daily one never comes due, so unpausing it starts no run
    # (a start date within the allowed range: at most a year from today)
    "acme_profiles": f"{PROFILES}\nschedule: {{start_date: {date.today() + timedelta(days=300)}}}"
    f"\n{MISSING_FOLDER}",
    "acme_profiles_once": f"{PROFILES}\nschedule: {{frequency: one_time}}\n{MISSING_FOLDER}",
    # recurring on 4-hour local blocks: the scheduler's data interval becomes the run's window
    "acme_4h": "schedule: {frequency: recurring, every_hours: 4, timezone: Asia/Kolkata}\n"
    f"destination: {{type: local, conn_id: stack_delivery, path: recurring}}\n{ONE_EVENT}",
    # the retry test triggers an older block, whose upload a folder in the way blocks
    "acme_retry": "schedule: {frequency: recurring, every_hours: 6, timezone: Asia/Kolkata}\n"
    f"destination: {{type: local, conn_id: stack_delivery, path: retry}}\n{ONE_EVENT}",
    # backfilled by tests/integration/test_backfill_stack.py (issue 20): two daily zones, one
    # across the US clock change, and 6-hour blocks; each into a folder of its own under
    # BACKFILLED, apart from the other exports' deliveries
    **{
        f"bf_{name}": f"schedule: {{{schedule}}}\n"
        f"destination: {{type: local, conn_id: stack_backfill, path: bf_{name}}}\n{ONE_EVENT}"
        for name, schedule in (
            ("kolkata", "timezone: Asia/Kolkata"),
            ("ny", "timezone: America/New_York"),
            ("6h", "frequency: recurring, every_hours: 6, timezone: Asia/Kolkata"),
        )
    },
    # every hostile event name delivered (tests/integration/test_hostile_names_stack.py); a
    # connection (so an upload pool) of their own, which the test deletes: their runs make it
    **{
        f"hostile_{kind}": f"{body}schedule: {{frequency: one_time, timezone: Asia/Kolkata}}\n"
        f"destination: {{type: local, conn_id: stack_hostile, path: hostile_{kind}}}"
        for kind, body in (("zip", ""), ("gcp", "profile: gcp_export\n"))
    },
}
HOOK = '{{url: "{url}", secret_conn_id: ees_webhook_secret, events: [{events}]}}'


def hook_exports(receiver, lake: Path) -> dict[str, str]:
    """The exports whose notifications tests/integration/test_notify_stack.py follows to the
    session's webhook receiver (`stack_webhooks`): export id -> its whole config."""

    def hook(path: str, events: str) -> str:
        return HOOK.format(url=receiver.url(path), events=events)

    return {
        # due 5 s after its logical date and paused: the triggered run never starts
        "dl_hook": "client_id: acme\nexport_id: dl_hook\n"
        "schedule: {timezone: Asia/Kolkata, deadline: '00:00:05', enabled: false}\n"
        "destination: {type: local, conn_id: stack_missing_conn, path: dl_hook}\n"
        f"notify: {{webhooks: [{hook('/hooks/deadline', 'deadline_missed')}]}}\n",
        # its own lake (the session's Kolkata day): the stack's lake changes with other tests
        "ok_hook": f"client_id: acme\nexport_id: ok_hook\nsource: {lake}\n"
        "schedule: {timezone: Asia/Kolkata}\n"
        "kind: selected_events\nevents: [add to cart]\n"
        "destination: {type: local, conn_id: stack_delivery, path: hooked}\n"
        f"notify: {{webhooks: [{hook('/hooks/delivered', 'delivered, failed')}]}}\n",
    }


DELIVERIES = "delivered"  # under the stack's home: the root of connection stack_delivery
BACKFILLED = "backfilled"  # ... and of connection stack_backfill (test_stack_backfills.py)
REDIS_DB = 13  # the Celery stack's broker database: not 0, which docker-compose's Redis uses


@dataclass
class AirflowStack:
    home: Path
    env: dict[str, str]
    base_url: str
    password: str
    logs: dict[str, Path]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def api(self):
        from event_export.orchestration.airflow_api import AirflowApi

        return AirflowApi(self.base_url, SERVICE_USER, self.password)

    def connection_env(self) -> str:
        return api_connection(int(self.base_url.rsplit(":", 1)[1]), SERVICE_USER, self.password)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict:
        api = self.api()
        return wait_until(lambda: api.get_dag(dag_id), timeout, f"DAG {dag_id} parsed")

    def wait_for_finished_run(self, dag_id: str, timeout: float) -> dict:
        """The newest finished run of `dag_id`. On a timeout the error lists every run and task
        state and the scheduler's last lines, so a stuck run is explained by CI's output alone."""
        api = self.api()
        try:
            return wait_until(
                lambda: next(iter(api.latest_runs(dag_id, limit=1)), None),
                timeout,
                f"a finished run of {dag_id}",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.describe_runs(dag_id)}") from None

    def describe_runs(self, dag_id: str) -> str:
        """Every run of `dag_id` with its tasks' states, then the scheduler's log tail."""
        api = self.api()
        runs = api.call_path("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 20})
        lines = []
        for run in runs.get("dag_runs", []):
            tasks = api.task_instances(dag_id, run["dag_run_id"])
            states = ", ".join(f"{t['task_id']}[{t['map_index']}]={t['state']}" for t in tasks)
            lines.append(f"{run['dag_run_id']} {run['state']}: {states or 'no task instances'}")
        scheduler = self.logs["scheduler"].read_text(errors="replace")[-4000:]
        return "\n".join([*lines, "--- scheduler log tail ---", scheduler])

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


def start_stack(
    tmp_path_factory,
    smtp_server,
    exports=None,
    env=None,
    celery_workers: int = 0,
    worker_scratch: bool = False,
    more_exports: dict[str, str] | None = None,
):
    """Generator for the fixtures `airflow_stack` (tests/conftest.py) and `celery_stack`.

    `exports` maps export ids to their YAML (default: STACK_EXPORTS), `more_exports` adds whole
    configs to those; `env` adds settings (e.g. connections) to every process's environment.
    With `celery_workers`, the stack runs CeleryExecutor and that many workers, named w1, w2,
    ... as their task instances' hostname (see tests/worker_name.py). With `worker_scratch`,
    each worker has a local staging folder of its own (`scratch-w1`, ...), as on separate hosts:
    only staging on object storage (EES_STAGING_URI) hands files over then.
    """
    home = tmp_path_factory.mktemp("celery-stack" if celery_workers else "airflow-stack")
    (home / "exports").mkdir()
    (home / DELIVERIES).mkdir()
    (home / BACKFILLED).mkdir()
    # the stack's lake exists from the start, as a deployment's does, though tests write its
    # days later: a run before then delivers an empty day (a lake without events/ fails extract)
    (home / "lake" / EVENTS_TABLE).mkdir(parents=True)
    for export_id, text in {**(exports or _default_exports(home)), **(more_exports or {})}.items():
        (home / "exports" / f"{export_id}.yaml").write_text(text)
    # migrated already (a copy of the session's migrated template), or None: SQLite, migrated below
    database = migrated_database(f"ees_test_{home.name.replace('-', '_')}_{os.getpid()}")
    if celery_workers:
        assert database, "the Celery stack needs PostgreSQL on 127.0.0.1:5432"
    try:
        yield from _run_stack(
            home, smtp_server, database, celery_workers, env or {}, worker_scratch
        )
    finally:
        if database:
            drop_database(database)
        if celery_workers:
            _forget_queue()


def _queue() -> str:
    return f"ees_test_{os.getpid()}"  # a queue of its own: other sessions may share the Redis db


def _forget_queue() -> None:
    """Remove the bindings Celery left in Redis for the stack's queue."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.delete(*(client.keys(f"*{_queue()}*") or ["-"]))
    client.close()


def _default_exports(home: Path) -> dict[str, str]:
    return {
        export_id: f"client_id: acme\nexport_id: {export_id}\nsource: {home / 'lake'}\n{body}\n"
        for export_id, body in STACK_EXPORTS.items()
    }


def _celery_env(database: str) -> dict[str, str]:
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        # the metadata database, as Airflow's Celery provider recommends; `bench/night.py
        # --result-backend` sets another to measure what the pool processes spend on it
        "AIRFLOW__CELERY__RESULT_BACKEND": os.environ.get("EES_STACK_RESULT_BACKEND")
        or "db+" + database,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": _queue(),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    }


def _create_upload_pools(stack: AirflowStack, exports: Path) -> None:
    """The upload pools of the stack's exports, as `ees pools` creates them at deployment
    (an upload in a missing pool is never scheduled)."""
    from event_export.orchestration.pools import ensure_folder_pools

    ensure_folder_pools(exports, stack.api(), slots=4)


def _run_stack(
    home: Path,
    smtp_server,
    database: str | None,
    celery_workers: int,
    extra_env: dict,
    worker_scratch: bool = False,
):
    ports = Ports.pick()
    port = ports.api
    password = "stack-test-password"
    (home / "passwords.json").write_text(json.dumps({SERVICE_USER: password}))
    secrets = Secrets("stack-test-jwt-secret-not-for-production", "stack-test-secret-key")
    database_url = database or f"sqlite:///{home / 'airflow.db'}"
    env = {
        **os.environ,
        # the settings `make up` runs with (event_export/standalone/airflow_env.py) ...
        **airflow_env(
            home,
            ports,
            database_url,
            {SERVICE_USER: "admin"},
            secrets,
            exports_dir=home / "exports",
            staging_dir=home / "staging",
        ),
        # ... and the test's own: quick parsing and scheduling, alerts, test connections
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection_json(smtp_server.port),
        "EES_DEADLINE_ALERTS": "on",
        "EES_ONCALL_EMAILS": "oncall@ees.invalid",
        "AIRFLOW_CONN_STACK_CLIENT": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(home / "client-folder-that-is-missing")}}
        ),
        "AIRFLOW_CONN_STACK_DELIVERY": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(home / DELIVERIES)}}
        ),
        "AIRFLOW_CONN_STACK_HOSTILE": json.dumps(  # the same root as stack_delivery
            {"conn_type": "fs", "extra": {"path": str(home / DELIVERIES)}}
        ),
        "AIRFLOW_CONN_STACK_BACKFILL": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(home / BACKFILLED)}}
        ),
        **(_celery_env(database) if celery_workers else {}),
        **extra_env,
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    if database is None:  # SQLite in the stack's home (a PostgreSQL one came migrated)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    else:  # what the migrate command also did first: the home's airflow.cfg, with one fernet key
        # for every service (each `airflow` command writes its own if none exists: started
        # together, they would race and encrypt, e.g. the deadline triggers, with different keys)
        write_config = (
            "import airflow.configuration as c; c.write_default_airflow_configuration_if_needed()"
        )
        subprocess.run(
            [sys.executable, "-c", write_config], env=env, check=True, capture_output=True
        )
    commands = service_commands(ports)
    procs, logs = {}, {}
    stack = AirflowStack(home, env, f"http://127.0.0.1:{port}", password, logs, procs)
    env["AIRFLOW_CONN_EES_AIRFLOW_API"] = api_connection(port, SERVICE_USER, password)
    envs = {name: env for name in commands}
    for n in range(1, celery_workers + 1):
        name = f"w{n}"
        commands[name] = [airflow, "celery", "worker", "--celery-hostname", f"{name}@127.0.0.1"]
        commands[name] += ["--queues", env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]]
        commands[name] += ["--skip-serve-logs", "--without-gossip", "--without-mingle"]
        envs[name] = {
            **env,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_name.hostname",
            "EES_TEST_WORKER": name,
            **({"EES_STAGING_DIR": str(home / f"scratch-{name}")} if worker_scratch else {}),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO / "tests"), env.get("PYTHONPATH")])
            ),
        }

    def healthy():
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited: {logs[name].read_text()[-3000:]}")
        try:
            return httpx.get(f"{stack.base_url}/api/v2/monitor/health", timeout=5).is_success
        except httpx.HTTPError:
            return False

    try:
        for name, args in commands.items():
            logs[name] = home / f"{name}.out"
            with logs[name].open("w") as out:
                procs[name] = subprocess.Popen(
                    args,
                    env=envs[name],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        wait_until(healthy, 120, "api-server healthy")
        _create_upload_pools(stack, home / "exports")
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
                proc.wait()
