"""Hostile event names (tests/hostile_names.py) through real DAG runs under a real scheduler on the
stack's PostgreSQL: one daily_zip and one gcp_export export (one-time, so one run each) to local
folders. XCom and task labels go through PostgreSQL, which refuses NUL in JSONB; each event must
arrive with the lake's row count under a portable name unique under case folding and NFC; rows
with no event name (null) arrive with the empty name's.

The two exports share a connection, so an upload pool, which is deleted first, as for exports added
after deployment: the runs, started together, make it in their first task (one of them does; the
other finds it or is refused as second), and their uploads run without the hourly health check."""

import json
from datetime import UTC, datetime, timedelta

from event_export.config.model import load_config
from event_export.pipeline.naming import event_label, staging_key
from event_export.pipeline.shards import plan_shards
from event_export.scheduling.priorities import POOL_PREFIX, upload_pool
from hostile_names import STACK_EVENTS, check_delivery, write_hostile_lake
from stack import DELIVERIES, wait_until

EXPORTS = ("hostile_zip", "hostile_gcp")


def _pool_created(airflow_stack, dag_id: str, run_id: str, pool: str) -> list[str]:
    """Who logged, in the run's check_destination task, that it created `pool`."""
    logs = airflow_stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    created = f"created the upload pool {pool} with 4 slots"
    return [
        record.get("logger")
        for path in logs.glob("task_id=check_destination/*.log")
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith("{") and (record := json.loads(line)).get("event") == created
    ]


def _health_check_idle(api) -> bool:
    active = api.call_path(
        "GET",
        "/api/v2/dags/ees_health_check/dagRuns",
        params={"state": ["queued", "running"], "limit": 1},
    )
    return active["total_entries"] == 0


def test_every_hostile_event_name_is_delivered_by_a_real_run(airflow_stack):
    api = airflow_stack.api()
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    events = (*STACK_EVENTS, None)  # and rows with no event name at all (null in the lake)
    lake = write_hostile_lake(airflow_stack.home / "lake", day, "Asia/Kolkata", events)
    lake[""] += lake.pop(None)  # delivered with the empty name's rows
    (pool,) = {
        upload_pool(load_config(airflow_stack.home / "exports" / f"{e}.yaml")) for e in EXPORTS
    }
    checks_paused = api.get_dag("ees_health_check")["is_paused"]
    api.set_paused("ees_health_check", True)  # its hourly pool task must not make the pool first
    # nor a run of it that started before the pause (it made the pool 0.6 s after the delete once)
    wait_until(lambda: _health_check_idle(api), 300, "the health check's runs finished", 2)
    api.call_path("DELETE", f"/api/v2/pools/{pool}")
    assert pool not in api.pools(POOL_PREFIX)
    runs = {}
    for export_id in EXPORTS:
        dag_id = f"export_{export_id}"
        airflow_stack.wait_for_dag(dag_id)
        api.set_paused(dag_id, False)
        # one-time exports: no scheduled run writes beside this one's files, no deadline alert
        conf = {"period": "day", "day": day.isoformat()}
        runs[dag_id] = api.trigger(dag_id, None, conf)["dag_run_id"]

    def finished(dag_id: str, run_id: str):
        return next(
            (r for r in api.latest_runs(dag_id, limit=10) if r["dag_run_id"] == run_id), None
        )

    for dag_id, run_id in runs.items():
        try:
            run = wait_until(
                lambda d=dag_id, r=run_id: finished(d, r), 900, f"{dag_id} run finished", 3
            )
        except AssertionError as exc:
            api.set_paused("ees_health_check", checks_paused)
            raise AssertionError(f"{exc}\n{airflow_stack.describe_runs(dag_id)}") from None
        assert run["state"] == "success", airflow_stack.describe_runs(dag_id)
        api.set_paused(dag_id, True)
        # what the metadata database holds: labels, never raw names (the Exports page reads it)
        summary = api.xcom(dag_id, run_id, "validate", "return_value")
        assert summary["rows_per_event"] == {event_label(e): n for e, n in lake.items()}
        formats = api.task_instances(dag_id, run_id)
        labels = {t["rendered_map_index"] for t in formats if t["task_id"] == "format"}
        parts = [  # the index extract stages: events in name order, never raw names
            {"key": staging_key(e), "label": event_label(e), "rows": n, "path": ""}
            for e, n in sorted(lake.items())
        ]
        assert labels == {s["label"] for s in plan_shards(parts)}  # shards of event labels

    api.set_paused("ees_health_check", checks_paused)
    # the pool is back, with the default slots, made by exactly one of the two runs' first task
    assert api.pools(POOL_PREFIX)[pool] == 4
    created = [who for d, r in runs.items() for who in _pool_created(airflow_stack, d, r, pool)]
    assert created == ["event_export.orchestration.pools"]

    root = airflow_stack.home / DELIVERIES
    # the stack's other exports deliver under the same root, each into its own folder
    others = ("recurring", "retry", "hooked")
    zipped = check_delivery(root, "hostile_zip", lake, others=("hostile_gcp", *others))
    assert len(zipped["files"]) == 1 and len(zipped["files"][0]["members"]) == len(lake)
    gcp = check_delivery(root, "hostile_gcp", lake, others=("hostile_zip", *others))
    assert len(gcp["files"]) == len(lake)
