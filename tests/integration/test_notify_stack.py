"""Notifications under a real Airflow (scheduler, triggerer, LocalExecutor workers): the
delivered event from `validate`'s success callback in a supervised task process, and the
deadline_missed event from the deadline callback in the triggerer, where connections are read
the async way. Both reach a local receiver that verifies their signatures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from servers.fixtures import WEBHOOK_SECRET
from stack import wait_until

pytestmark = pytest.mark.stack  # starts its own Airflow (see conftest's tiers)

HOOK = '{{url: "{url}", secret_conn_id: ees_webhook_secret, events: [{events}]}}'


@pytest.fixture(scope="module")
def hook_stack(tmp_path_factory, smtp_server, webhook_receiver, kolkata_lake):
    from stack import start_stack

    def hook(path: str, events: str) -> str:
        return HOOK.format(url=webhook_receiver.url(path), events=events)

    exports = {
        # due 5 s after its logical date and paused: the triggered run never starts
        "dl_hook": "client_id: acme\nexport_id: dl_hook\n"
        "schedule: {timezone: Asia/Kolkata, deadline: '00:00:05', enabled: false}\n"
        "destination: {type: local, conn_id: stack_missing_conn}\n"
        f"notify: {{webhooks: [{hook('/hooks/deadline', 'deadline_missed')}]}}\n",
        "ok_hook": f"client_id: acme\nexport_id: ok_hook\nsource: {kolkata_lake}\n"
        "schedule: {timezone: Asia/Kolkata}\n"
        "kind: selected_events\nevents: [add to cart]\n"
        "destination: {type: local, conn_id: stack_delivery, path: hooked}\n"
        f"notify: {{webhooks: [{hook('/hooks/delivered', 'delivered, failed')}]}}\n",
    }
    secret = json.dumps({"conn_type": "generic", "password": WEBHOOK_SECRET})
    env = {"AIRFLOW_CONN_EES_WEBHOOK_SECRET": secret}
    yield from start_stack(tmp_path_factory, smtp_server, exports=exports, env=env)


def test_delivered_and_deadline_missed_reach_the_receiver_signed(
    hook_stack, webhook_receiver, demo_day
):
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
