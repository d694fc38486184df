"""The delivery deadline under a real scheduler and triggerer: the alert fires once, by email
to on-call and as a log line, for a run not delivered in time; backfill runs stay quiet."""

import asyncio
from datetime import UTC, datetime

from event_export.alerts.deadlines import on_deadline_missed
from stack import wait_until


def test_missed_deadline_alerts_on_call_once(airflow_stack, smtp_server):
    dag = airflow_stack.wait_for_dag("export_dl_acme")
    assert dag["is_paused"]  # enabled: false; a queued run never delivers: the deadline alerts
    api = airflow_stack.api()
    logical = datetime.now(UTC).replace(microsecond=0)
    run = api.trigger("export_dl_acme", logical.isoformat())
    run_id = run["dag_run_id"]

    def alert_for_run():
        return [m for m in smtp_server.messages if run_id in smtp_server.body(m)]

    (email,) = wait_until(alert_for_run, 150, "deadline email for the triggered run")
    assert email["X-Envelope-To"] == "oncall@ees.invalid"
    assert str(email["Subject"]).startswith("[EES deadline] dl_acme: ")
    assert "not delivered" in str(email["Subject"])
    body = smtp_server.body(email)
    assert "client acme" in body
    wait_until(
        lambda: "EES_ALERT deadline_missed export=dl_acme" in airflow_stack.log_text(),
        30,
        "the alert line in the triggerer's log",
    )
    # the scheduler marked the deadline missed once: by now, still exactly one email
    assert len(alert_for_run()) == 1


def test_backfill_runs_do_not_alert(inbox):
    context = {
        "dag_run": {
            "run_type": "backfill",
            "dag_run_id": "backfill__2026-10-02T00:00:00+05:30",
            "logical_date": "2026-10-01T18:30:00Z",
        },
        "deadline": {"deadline_time": "2026-10-02T01:30:00Z"},
    }
    assert (
        asyncio.run(on_deadline_missed("acme_daily", "acme", "Asia/Kolkata", context)) == "ignored"
    )
    assert inbox.messages == []


def test_scheduled_run_alert_names_export_day_and_lateness(inbox, monkeypatch):
    monkeypatch.setenv("EES_ONCALL_EMAILS", "oncall@ees.invalid, second@ees.invalid")
    due = datetime.now(UTC).replace(microsecond=0).replace(hour=1, minute=30)
    context = {
        "dag_run": {
            "run_type": "scheduled",
            "dag_run_id": "scheduled__x",
            "logical_date": due.replace(hour=18, minute=30).isoformat(),
        },
        "deadline": {"deadline_time": due.isoformat()},
    }
    assert (
        asyncio.run(on_deadline_missed("acme_daily", "acme", "Asia/Kolkata", context)) == "alerted"
    )
    (email,) = inbox.messages
    assert email["X-Envelope-To"] == "oncall@ees.invalid, second@ees.invalid"
    assert "acme_daily" in str(email["Subject"]) and " late" in str(email["Subject"])
    assert "scheduled__x" in inbox.body(email)
