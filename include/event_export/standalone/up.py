"""`make up` and `make down`: the product on this machine, all of it under the project's `.up/`.

`up` picks the metadata database (postgres.py), generates yesterday's events into the demo lake
so the shipped exports' first runs deliver something, migrates Airflow's database, starts the
services (airflow_env.py) and waits until the api-server answers; then prints the URL, the admin
user and password, and where logs and deliveries are. `down` stops exactly the processes `up`
recorded (processes.py) and, with `--purge`, drops the database and removes `.up/`.
Both are idempotent: `up` while up prints the same details; `down` while down says so.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from hashlib import sha1
from pathlib import Path

import httpx

from event_export.standalone import postgres, processes
from event_export.standalone.airflow_env import (
    REPO,
    Ports,
    Secrets,
    airflow_env,
    api_connection,
    port_is_free,
    service_commands,
)

UP = REPO / ".up"
LAKE = REPO / ".demo" / "lake"  # the demo lake, shared with `make demo`
ADMIN, SERVICE_USER = "admin", "ees_service"
PRIVATE_PORT = 5433  # the private cluster's port where free
DEFAULT_PORT = 8080
LAKE_EVENTS = 30_000  # yesterday's events: enough for every shipped export, quick to run
LAKE_PROFILES = 2_000
SECRETS = (
    "admin_password",
    "service_password",
    "jwt_secret",
    "api_secret_key",
    "postgres_password",
)


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _write_private(path: Path, data: dict | str) -> None:
    """A file readable by this user only (it holds passwords); a dict is written as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(data if isinstance(data, str) else json.dumps(data, indent=2))


def _secrets(up: Path) -> dict:
    """Passwords and signing keys, made once per checkout and kept in `.up/secrets.json`."""
    path = up / "secrets.json"
    known = _read(path)
    made = {name: known.get(name) or secrets.token_urlsafe(24) for name in SECRETS}
    if made != known:
        _write_private(path, made)
    return made


def database_name(repo: Path) -> str:
    """One database per checkout on the machine's server: two clones never share one."""
    return f"ees_up_{sha1(str(repo.resolve()).encode()).hexdigest()[:10]}"


def _database(up: Path, repo: Path, made: dict) -> tuple[str, str]:
    """(SQLAlchemy URL, how to describe it): the machine's PostgreSQL, else the private cluster."""
    admin = postgres.machine_server()
    if admin is not None:
        name = database_name(repo)
        url = postgres.create_database(admin, name, exist_ok=True)
        return url, f"PostgreSQL database {name} on 127.0.0.1:5432 (the machine's server)"
    cluster = postgres.PrivateCluster(up / "postgres", made["postgres_password"])
    port = PRIVATE_PORT if port_is_free(PRIVATE_PORT) else Ports.pick().api
    admin = cluster.start(port)
    url = postgres.create_database(admin, "airflow", exist_ok=True)
    where = admin.rsplit("@", 1)[1].rsplit("/", 1)[0]
    return url, f"PostgreSQL private cluster in {cluster.folder} on {where}"


def ensure_lake(lake: Path, today: date) -> str:
    """Yesterday's events in every time zone (UTC-12 to UTC+14) and its profile snapshot, unless
    the lake has them already."""
    from event_export.generator import write_profiles, write_window
    from event_export.pipeline.lake import partition_dir, profiles_dir
    from event_export.scheduling.windows import Window

    yesterday = today - timedelta(days=1)
    start = datetime.combine(yesterday, datetime.min.time(), UTC) - timedelta(hours=14)
    window = Window(start, datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12))
    edges = [partition_dir(str(lake), h) for h in (window.start, window.end - timedelta(hours=1))]
    if all(Path(p).is_dir() for p in edges) and Path(profiles_dir(str(lake), yesterday)).is_dir():
        return f"{lake} (has {yesterday})"
    events = write_window(lake, window, LAKE_EVENTS)
    write_profiles(lake, yesterday, LAKE_PROFILES)
    return f"{lake} ({events:,} events generated around {yesterday})"


def environment(up: Path, ports: Ports, database_url: str, made: dict) -> dict[str, str]:
    home = up / "airflow"
    delivered = up / "delivered"
    for folder in (home, delivered):
        folder.mkdir(parents=True, exist_ok=True)
    users = {ADMIN: made["admin_password"], SERVICE_USER: made["service_password"]}
    _write_private(home / "passwords.json", users)
    keys = Secrets(made["jwt_secret"], made["api_secret_key"])
    return {
        # the caller's environment passes (e.g. AIRFLOW_CONN_<ID> for a real destination,
        # EES_ONCALL_EMAILS); what follows is make up's and wins
        **os.environ,
        **airflow_env(
            home,
            ports,
            database_url,
            dict.fromkeys(users, "admin"),
            keys,
            exports_dir=REPO / "include" / "exports",
            staging_dir=up / "staging",
        ),
        "AIRFLOW_CONN_EES_AIRFLOW_API": api_connection(
            ports.api, SERVICE_USER, made["service_password"]
        ),
        # the shipped configs' local destination; their s3, gcs and sftp ones have no
        # connection here and fail at check_destination, as a missing one does in production
        "AIRFLOW_CONN_DEMO_LOCAL": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(delivered)}}
        ),
        "EES_LAKE_URI": str(LAKE),
        # a laptop: a few task processes at a time, not Airflow's default 32
        "AIRFLOW__CORE__PARALLELISM": str(max(4, 2 * (os.cpu_count() or 2))),
    }


def _healthy(base_url: str, started: list[processes.Started], logs: Path) -> bool:
    for service in started:
        if not service.alive():
            tail = (logs / f"{service.name}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"up: {service.name} exited; the end of its log:\n{tail}")
    try:
        health = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5)
        page = httpx.get(f"{base_url}/ees/api/exports", timeout=10)
    except httpx.HTTPError:
        return False
    return health.is_success and page.status_code == 401  # the plugin answers, behind the login


def up(port: int | None, timeout: float) -> int:
    began = time.monotonic()
    run = _read(UP / "run.json")
    if run and all(processes.Started.from_dict(s).alive() for s in run["services"]):
        print(_summary(run, "already up"))
        return 0
    if run:  # a service died since: start afresh
        processes.stop([processes.Started.from_dict(s) for s in run["services"]])
    made = _secrets(UP)
    wanted = port or DEFAULT_PORT
    if not port_is_free(wanted):
        if port:
            raise SystemExit(f"up: port {port} on 127.0.0.1 is taken; choose another with PORT=")
        wanted = Ports.pick().api
    ports = Ports.pick(wanted)
    database_url, database = _database(UP, REPO, made)
    lake = ensure_lake(LAKE, date.today())
    env = environment(UP, ports, database_url, made)
    logs = UP / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    with (logs / "db-migrate.log").open("w") as out:
        done = subprocess.run([airflow, "db", "migrate"], env=env, stdout=out, stderr=out)
    if done.returncode:
        raise SystemExit(f"up: `airflow db migrate` failed, see {logs / 'db-migrate.log'}")
    started = processes.start(service_commands(ports), env, logs, REPO)
    base_url = f"http://127.0.0.1:{ports.api}"
    run = {
        "url": base_url,
        "user": ADMIN,
        "database": database,
        "lake": lake,
        "services": [s.to_dict() for s in started],
    }
    _write_private(UP / "run.json", run)
    login = f"EES_API_URL={base_url}\nEES_API_USER={ADMIN}\n"
    _write_private(UP / "ees.env", login + f"EES_API_PASSWORD={made['admin_password']}\n")
    deadline = time.monotonic() + timeout
    while not _healthy(base_url, started, logs):
        if time.monotonic() > deadline:
            processes.stop(started)
            raise SystemExit(f"up: the api-server did not answer in {timeout:.0f} s; see {logs}")
        time.sleep(1)
    _create_upload_pools(base_url, made["admin_password"])
    print(_summary(run, f"up in {time.monotonic() - began:.0f} s", made["admin_password"]))
    return 0


def _create_upload_pools(base_url: str, password: str) -> None:
    """The shipped exports' upload pools, as `ees pools` creates them at deployment: an upload in
    a pool that does not exist is never scheduled."""
    from event_export.orchestration.airflow_api import AirflowApi
    from event_export.orchestration.pools import ensure_folder_pools

    ensure_folder_pools(REPO / "include" / "exports", AirflowApi(base_url, ADMIN, password))


def _summary(run: dict, state: str, password: str | None = None) -> str:
    password = password or _secrets(UP)["admin_password"]
    rel = os.path.relpath
    return "\n".join(
        [
            f"Event Export Scheduler {state}:",
            f"  Exports page  {run['url']}/plugin/exports  (Airflow UI {run['url']}/)",
            f"  log in as     {run['user']} / {password}",
            f"  ees           set -a; . {rel(UP / 'ees.env')}; set +a; .venv/bin/ees list",
            f"  logs          {rel(UP / 'logs')}/ (services), {rel(UP / 'airflow' / 'logs')}/ "
            "(task runs)",
            f"  delivered     {rel(UP / 'delivered')}/",
            f"  lake          {run['lake']}",
            f"  database      {run['database']}",
            "  stop          make down",
        ]
    )


def down(purge: bool) -> int:
    run = _read(UP / "run.json")
    stopped = processes.stop([processes.Started.from_dict(s) for s in run.get("services", [])])
    (UP / "run.json").unlink(missing_ok=True)
    made = _read(UP / "secrets.json")
    cluster = postgres.PrivateCluster(UP / "postgres", made.get("postgres_password", ""))
    cluster.stop()
    print(f"down: stopped {', '.join(stopped)}" if stopped else "down: nothing was running")
    if purge:
        admin = postgres.machine_server()
        if admin is not None:
            postgres.drop_database(admin, database_name(REPO))
        shutil.rmtree(UP, ignore_errors=True)
        print(f"down: removed {UP} and the metadata database")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m event_export.standalone.up")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start every service on 127.0.0.1")
    start.add_argument("--port", type=int, help=f"api-server port (default {DEFAULT_PORT})")
    start.add_argument("--timeout", type=float, default=180, help="seconds to wait for it")
    stop = sub.add_parser("down", help="stop what `up` started")
    stop.add_argument("--purge", action="store_true", help="also drop the database and .up/")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.port, args.timeout)
    return down(args.purge)


if __name__ == "__main__":
    sys.exit(main())
