"""Notifications under a real Airflow (scheduler, triggerer, LocalExecutor workers): the
delivered event from `validate`'s success callback in a supervised task process, and the
deadline_missed event from the deadline callback in the triggerer, where connections are read
the async way. Both reach a local receiver that verifies their signatures. The exports are the
shared stack's (stack.hook_exports), which posts to the session's receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from stack import wait_until


def test_delivered_and_deadline_missed_reach_the_receiver_signed(
    airflow_stack, stack_webhooks, demo_day
):
    """dl_hook and ok_hook of the shared stack (stack.hook_exports)."""
    hook_stack, webhook_receiver = airflow_stack, stack_webhooks
    webhook_receiver.reset()
    api = hook_stack.api()
    hook_stack.wait_for_dag("export_dl_hook")
    hook_stack.wait_for_dag("export_ok_hook")
    late = api.trigger("export_dl_hook", datetime.now(UTC).replace(microsecond=0).isoformat())
    logical = datetime.combine(
        demo_day + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
    run = api.trigger("export_ok_hook", logical.isoformat())

    def by_path(path: str, run_id: str):
        received = [r for r in webhook_receiver.received if r.path == path]
        return [r for r in received if r.json()["run_id"] == run_id]  # not the scheduled run's

    late_id = late["dag_run_id"]
    (deadline,) = wait_until(lambda: by_path("/hooks/deadline", late_id), 180, "deadline_missed")
    body = deadline.json()
    assert deadline.verified and body["event"] == "deadline_missed"
    assert body["export_id"] == "dl_hook" and body["late_min"] >= 0

    run_id = run["dag_run_id"]
    (delivered,) = wait_until(lambda: by_path("/hooks/delivered", run_id), 300, "delivered")
    body = delivered.json()
    assert delivered.verified and body["event"] == "delivered"
    assert body["period"] == demo_day.isoformat()
    assert body["manifest"]["manifest"] == "acme_01112026.manifest"
    assert body["manifest"]["rows_per_event"]["add to cart"] > 0
    runs = wait_until(
        lambda: [r for r in api.latest_runs("export_ok_hook") if r["dag_run_id"] == run_id],
        60,
        "the run's end",
    )
    assert runs[0]["state"] == "success"
    assert "EES_ALERT notification_failed" not in hook_stack.log_text()
