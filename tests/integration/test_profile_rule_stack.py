"""Seed 003's profile rule in real runs: a one-time profile export's first task asks the REST API
whether the client's daily profile export is paused, so Stop on the Exports page (a paused DAG)
is enough; with that export running, the one-time run is refused before anything else."""

from datetime import UTC, datetime, timedelta

from stack import wait_until

ONCE = "export_acme_profiles_once"


def _finished(api, run_id: str) -> dict:
    runs = api.latest_runs(ONCE, limit=10)
    return next((r for r in runs if r["dag_run_id"] == run_id), None)


def _run_once(airflow_stack, day: str) -> dict[str, str]:
    """Trigger a one-time run of `day`; the states of its tasks once it has finished."""
    api = airflow_stack.api()
    run_id = api.trigger(ONCE, None, {"period": "day", "day": day})["dag_run_id"]
    try:
        wait_until(lambda: _finished(api, run_id), 180, f"{ONCE} run {run_id} finished")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{airflow_stack.describe_runs(ONCE)}") from None
    return {t["task_id"]: t["state"] for t in api.task_instances(ONCE, run_id)}


def test_a_one_time_profile_export_runs_once_the_daily_one_is_paused(airflow_stack):
    api = airflow_stack.api()
    for dag_id in ("export_acme_profiles", ONCE):
        airflow_stack.wait_for_dag(dag_id)
        api.set_paused(dag_id, False)
    day = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()

    refused = _run_once(airflow_stack, day)
    assert refused["check_request"] == "failed"
    assert refused["check_destination"] == refused["extract"] == "upstream_failed"
    assert "the recurring user-profile export acme_profiles of client acme is active" in (
        airflow_stack.log_text()
    )

    api.set_paused("export_acme_profiles", True)  # what Stop on the Exports page does
    allowed = _run_once(airflow_stack, day)
    assert allowed["check_request"] == "success"
    assert allowed["check_destination"] == "failed"  # the stack's client folder is missing
    # what a stuck run's failure would print: both runs with their tasks, then the scheduler
    described = airflow_stack.describe_runs(ONCE)
    assert described.count("check_request[-1]=") == 2
    assert "check_request[-1]=failed" in described and "check_request[-1]=success" in described
    assert "--- scheduler log tail ---" in described
