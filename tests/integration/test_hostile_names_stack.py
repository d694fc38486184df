"""Hostile event names (tests/hostile_names.py) through real DAG runs under a real scheduler on the
stack's PostgreSQL: one daily_zip and one gcp_export export (one-time, so one run each) to local
folders. XCom and task labels go through PostgreSQL, which refuses NUL in JSONB; each event must
arrive with the lake's row count under a portable name unique under case folding and NFC."""

from datetime import UTC, datetime, timedelta

from event_export.pipeline.naming import event_label
from hostile_names import STACK_EVENTS, check_delivery, write_hostile_lake
from stack import DELIVERIES, wait_until

EXPORTS = ("hostile_zip", "hostile_gcp")


def test_every_hostile_event_name_is_delivered_by_a_real_run(airflow_stack):
    api = airflow_stack.api()
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    lake = write_hostile_lake(airflow_stack.home / "lake", day, "Asia/Kolkata", STACK_EVENTS)
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
            raise AssertionError(f"{exc}\n{airflow_stack.describe_runs(dag_id)}") from None
        assert run["state"] == "success", airflow_stack.describe_runs(dag_id)
        api.set_paused(dag_id, True)
        # what the metadata database holds: labels, never raw names (the Exports page reads it)
        summary = api.xcom(dag_id, run_id, "validate", "return_value")
        assert summary["rows_per_event"] == {event_label(e): n for e, n in lake.items()}
        formats = api.task_instances(dag_id, run_id)
        labels = {t["rendered_map_index"] for t in formats if t["task_id"] == "format"}
        assert labels == {event_label(e) for e in lake}

    root = airflow_stack.home / DELIVERIES
    # the stack's other exports deliver under the same root, each into its own folder
    others = ("recurring", "retry", "hooked")
    zipped = check_delivery(root, "hostile_zip", lake, others=("hostile_gcp", *others))
    assert len(zipped["files"]) == 1 and len(zipped["files"][0]["members"]) == len(lake)
    gcp = check_delivery(root, "hostile_gcp", lake, others=("hostile_zip", *others))
    assert len(gcp["files"]) == len(lake)
