"""Response time of the Exports page's API with 1,000 export configs.

Generates N configs (every destination, kind, format and frequency), puts what Airflow would hold
for them into a fresh metadata database (a DAG row each, `--runs` finished runs each and the
latest run's `validate` XCom), then calls GET /api/exports through the real plugin app (FastAPI's
TestClient, an admin token from the auth manager) and prints median and p95 per query.
tests/conftest gives the database (PostgreSQL on 127.0.0.1:5432 where it runs, else SQLite),
dropped at the end. Usage:
    .venv/bin/python bench/exports_page.py [--exports 1000] [--runs 10] [--calls 50]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import METADATA_DB, drop_database, ensure_metadata_db

DESTINATIONS = [
    "{type: local, conn_id: c, path: p}",
    "{type: s3, conn_id: c, bucket: bench-bucket}",
    "{type: gcs, conn_id: c, bucket: bench-bucket, nickname: EU archive}",
    "{type: sftp, conn_id: c}",
    "{type: ftp, conn_id: c}",
]
SHAPES = [
    "profile: daily_zip",
    "profile: gcp_export\nformat: json\nschedule: {frequency: recurring, every_hours: 6}",
    "profile: gcp_export\nformat: parquet\nkind: selected_events\nevents: [a, b]",
    "profile: gcp_export\nformat: xml\nschedule: {frequency: one_time}",
    "profile: gcp_export\nformat: csv\nkind: user_profiles\naccount_id: 5",
]
QUERIES = {
    "default page (20)": {},
    "format=parquet, status=PENDING": {"format": "parquet", "status": "PENDING"},
    "exported on the last 7 days, 40/page": {"page_size": 40},  # dates filled in below
    "page 25 of 10": {"page": 25, "page_size": 10},
}


def write_configs(folder: Path, count: int) -> list[str]:
    ids = []
    for n in range(count):
        export_id = f"bench_{n:04d}"
        text = (
            f"client_id: client{n % 97}\nexport_id: {export_id}\n{SHAPES[n % len(SHAPES)]}\n"
            f"destination: {DESTINATIONS[n % len(DESTINATIONS)]}\n"
        )
        (folder / f"{export_id}.yaml").write_text(text)
        ids.append(export_id)
    (folder / "bench_broken.yaml").write_text("client_id: x\nexport_id: bench_broken\n")
    return ids


def summary(n: int) -> dict:
    files = [
        {"name": f"f{i}.json", "size": 1_000_000 + i, "sha256": "ab" * 32, "rows": 1000}
        for i in range(n)
    ]
    return {
        "manifest": "m.manifest",
        "request_id": "0123456789",
        "location": "s3://bench-bucket/p",
        "files": files,
        "rows_per_event": {"a": 1000 * n},
        "bytes": sum(f["size"] for f in files),
    }


def populate(export_ids: list[str], runs: int) -> None:
    """DAG rows, finished runs and the latest run's validate XCom, written in bulk."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from event_export.config.model import dag_id_for
    from event_export.orchestration.task_ids import VALIDATE
    from sqlalchemy import insert, select

    now = datetime.now(UTC)
    with create_session(scoped=False) as session:
        session.merge(DagBundleModel(name="dags-folder"))
        session.flush()
        session.execute(
            insert(DagModel),
            [
                {
                    "dag_id": dag_id_for(e),
                    "bundle_name": "dags-folder",
                    "is_paused": i % 7 == 0,
                    "is_stale": False,
                    "fileloc": "dags/exports_00.py",
                    "max_active_tasks": 16,
                    "max_active_runs": 4,
                    "max_consecutive_failed_dag_runs": 0,
                    "has_task_concurrency_limits": False,
                    "next_dagrun_create_after": now + timedelta(hours=i % 24),
                }
                for i, e in enumerate(export_ids)
            ],
        )
    with create_session(scoped=False) as session:
        rows = []
        for i, e in enumerate(export_ids):
            for r in range(runs):
                when = now - timedelta(days=runs - r)
                state = "failed" if (i + r) % 11 == 0 else "success"
                rows.append(
                    {
                        "dag_id": dag_id_for(e),
                        "run_id": f"scheduled__{when.isoformat()}",
                        "run_type": "scheduled",
                        "_state": state,  # the ORM attribute behind DagRun.state
                        "run_after": when,
                        "logical_date": when,
                        "start_date": when,
                        "end_date": when + timedelta(minutes=5),
                        "conf": {},
                        "clear_number": 0,
                        "span_status": "not_started",
                    }
                )
        session.execute(insert(DagRun), rows)
    with create_session(scoped=False) as session:
        latest = session.execute(
            select(DagRun.id, DagRun.dag_id, DagRun.run_id).where(
                DagRun.run_after == max(r["run_after"] for r in rows)
            )
        ).all()
        session.execute(
            insert(TaskInstance),
            [
                {
                    "id": uuid.uuid4(),
                    "dag_id": dag_id,
                    "task_id": VALIDATE,
                    "run_id": run_id,
                    "map_index": -1,
                    "pool": "default_pool",
                    "state": "success",
                }
                for _, dag_id, run_id in latest
            ],
        )
        session.execute(
            insert(XComModel),
            [
                {
                    "dag_run_id": run_pk,
                    "task_id": VALIDATE,
                    "map_index": -1,
                    "key": "return_value",
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "value": summary(1 + run_pk % 4),
                    "timestamp": now,
                }
                for run_pk, dag_id, run_id in latest
            ],
        )


def measure(client, params: dict, calls: int) -> tuple[list[float], dict]:
    times, body = [], {}
    for _ in range(calls):
        start = time.perf_counter()
        response = client.get("/api/exports", params=params)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
        body = response.json()
    return times, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exports", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10, help="finished runs per export")
    parser.add_argument("--calls", type=int, default=50, help="requests per query")
    args = parser.parse_args()
    airflow = str(Path(sys.executable).with_name("airflow"))
    try:
        ensure_metadata_db()
        subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
        folder = Path(tempfile.mkdtemp(prefix="ees-bench-exports-"))
        os.environ["EES_EXPORTS_DIR"] = str(folder)
        os.environ["EES_INCIDENTS_PATH"] = str(folder / "incidents.json")
        os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "bench-" + "x" * 60)
        passwords = folder / "passwords.json"  # so the auth manager generates (and prints) none
        passwords.write_text(json.dumps({"admin": uuid.uuid4().hex}))
        os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords)
        ids = write_configs(folder, args.exports)
        populate(ids, args.runs)
        run(args)
    finally:
        if METADATA_DB.startswith("postgresql"):
            from airflow.settings import dispose_orm

            dispose_orm()
            drop_database(METADATA_DB)


def run(args) -> None:
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from event_export.ui.exports_api import app
    from fastapi.testclient import TestClient

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    token = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="a", role="admin"))
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    today = datetime.now(UTC).date()
    QUERIES["exported on the last 7 days, 40/page"].update(
        exported_from=(today - timedelta(days=7)).isoformat(), exported_to=today.isoformat()
    )
    database = METADATA_DB.split("://")[0]
    print(
        f"{args.exports} exports (+1 broken), {args.runs} finished runs each, {database}; "
        f"{args.calls} calls per query"
    )
    cold, _ = measure(client, {}, 1)
    print(f"first call (parses every config): {cold[0] * 1000:.0f} ms")
    statuses = measure(client, {"page_size": 40}, 1)[1]["items"]
    print("statuses on the first page:", sorted({r["status"] for r in statuses}))
    print(f"{'query':40} {'total':>6} {'items':>6} {'median ms':>10} {'p95 ms':>8}")
    for name, params in QUERIES.items():
        times, body = measure(client, params, args.calls)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
        print(
            f"{name:40} {body['total']:>6} {len(body['items']):>6} "
            f"{statistics.median(times) * 1000:>10.1f} {p95 * 1000:>8.1f}"
        )


if __name__ == "__main__":
    main()
