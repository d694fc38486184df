"""Delivery notifications against a real HTTP receiver on 127.0.0.1 that verifies signatures,
the Slack provider's notifier against a local Slack Web API stand-in, and on-call emails through
a real SMTP server.

Each event is produced where production produces it: the deadline callback (as the triggerer
calls it), the health check's stop, and the callbacks a DAG run's tasks fire (test_notify_run).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from event_export.alerts import notifications
from event_export.alerts.deadlines import deadline_alert, on_deadline_missed
from event_export.alerts.failure_policy import ExportState, Incident, PauseExport
from event_export.config.model import ExportConfig
from event_export.destinations import explanations
from event_export.orchestration.health_check import Actors, _act
from servers.fixtures import WEBHOOK_SECRET

EVENTS = ["delivered", "failed", "deadline_missed", "stopped"]


def config_for(receiver, *, secret_conn: str = "ees_webhook_secret", slack=(), events=EVENTS):
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "acme_daily",
            "schedule": {"timezone": "Asia/Kolkata"},
            "destination": {"type": "s3", "conn_id": "c", "bucket": "acme-box", "path": "in"},
            "notify": {
                "webhooks": [
                    {"url": receiver.url(), "secret_conn_id": secret_conn, "events": events}
                ],
                "slack": list(slack),
            },
        }
    )


@pytest.fixture
def receiver(webhook_receiver, monkeypatch):
    webhook_receiver.reset()
    monkeypatch.setenv("EES_ONCALL_EMAILS", "oncall@ees.example")
    return webhook_receiver


MANIFEST = {
    "manifest": "acme_01112026.manifest",
    "files": [{"name": "acme_01112026.zip", "size": 10, "sha256": "ab" * 32, "rows": 3}],
    "rows_per_event": {"add to cart": 2, "<script>": 1},
    "bytes": 10,
}


def test_a_delivered_event_arrives_signed_with_the_manifest(receiver, inbox):
    config = config_for(receiver)
    details = {"run_id": "scheduled__x", "period": "2026-11-01", "manifest": MANIFEST}
    report = notifications.notify(config, "delivered", details)
    assert [(o.ok, o.tries) for o in report.outcomes] == [(True, 1)]
    [got] = receiver.received
    assert got.verified
    assert notifications.verify(WEBHOOK_SECRET, got.body, got.headers["X-EES-Signature"])
    assert not notifications.verify("another secret", got.body, got.headers["X-EES-Signature"])
    body = got.json()
    assert got.headers["X-EES-Event"] == body["event"] == "delivered"
    assert got.headers["X-EES-Delivery"] == body["id"]
    assert body["manifest"] == MANIFEST and body["period"] == "2026-11-01"
    assert body["destination"] == "s3://acme-box/in"
    assert WEBHOOK_SECRET not in got.body.decode()
    assert inbox.messages == []  # nothing for on-call


def test_retries_back_off_and_the_same_delivery_id_comes_again(receiver, inbox):
    receiver.fail_next = [503, 502]
    report = notifications.notify(config_for(receiver), "failed", {"error": {"code": "x"}})
    assert [(o.ok, o.tries) for o in report.outcomes] == [(True, 3)]
    got = receiver.received
    assert len(got) == 3 and all(r.verified for r in got)
    assert len({r.headers["X-EES-Delivery"] for r in got}) == 1
    assert len({r.body for r in got}) == 1  # the signed body is the same on every try
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9  # 1 s, then 2 s
    assert inbox.messages == []


def test_a_receiver_that_keeps_failing_is_an_oncall_alert_within_the_budget(receiver, inbox):
    receiver.fail_next = [503] * 20
    started = time.monotonic()
    report = notifications.notify(config_for(receiver), "stopped", {}, budget=4.0)
    took = time.monotonic() - started
    assert took < 4.0 + 1.0  # the budget holds, whatever the receiver does
    [outcome] = report.outcomes
    assert not outcome.ok and outcome.tries == 3 and outcome.error == "HTTP 503"  # 0, 1, 3 s
    [email] = inbox.messages
    assert email["To"] == "oncall@ees.example"
    assert "acme_daily: stopped not delivered to 1 target" in email["Subject"]
    text = inbox.body(email)
    assert f"http://127.0.0.1:{receiver.port}" in text and "/hooks/ees" not in text  # no path


def test_a_refused_signature_is_not_retried(receiver, inbox):
    """A receiver with another secret answers 401: retrying the same bytes cannot help."""
    from servers.net import set_connection

    set_connection("ees_wrong_secret", {"conn_type": "generic", "password": "not the secret"})
    report = notifications.notify(
        config_for(receiver, secret_conn="ees_wrong_secret"), "failed", {}
    )
    [outcome] = report.outcomes
    assert (outcome.ok, outcome.tries, outcome.error) == (False, 1, "HTTP 401")
    assert [r.verified for r in receiver.received] == [False]
    assert len(inbox.messages) == 1


def test_a_slow_receiver_is_cut_by_the_timeout(receiver, inbox):
    receiver.delay = 3.0
    started = time.monotonic()
    report = notifications.notify(config_for(receiver), "delivered", {}, budget=2.0)
    assert time.monotonic() - started < 3.0
    assert not report.outcomes[0].ok and "Timeout" in report.outcomes[0].error
    assert len(inbox.messages) == 1


def test_a_missing_secret_connection_alerts_and_sends_nothing(receiver, inbox):
    report = notifications.notify(config_for(receiver, secret_conn="no_such_conn"), "failed", {})
    assert not report.outcomes[0].ok and "no_such_conn" in report.outcomes[0].error
    assert receiver.received == []
    assert len(inbox.messages) == 1


def test_only_the_chosen_events_are_sent(receiver):
    config = config_for(receiver, events=["failed"])
    assert notifications.notify(config, "delivered", {}).outcomes == []
    assert receiver.received == []


def test_slack_through_the_providers_notifier(receiver, inbox):
    slack = [{"conn_id": "ees_slack", "channel": "#exports-oncall", "events": ["failed"]}]
    config = config_for(receiver, slack=slack, events=["delivered"])
    error = explanations.bucket_missing("s3", "acme-box")
    details = notifications.failure_details(RuntimeError("wrapped"), "upload")
    assert details["error"]["side"] == "ours"
    try:
        raise RuntimeError("task failed") from error
    except RuntimeError as exc:
        details = notifications.failure_details(exc, "upload")
    report = notifications.notify(config, "failed", details)
    assert [(o.target, o.ok) for o in report.outcomes] == [("slack #exports-oncall", True)]
    [message] = receiver.slack
    assert message["path"] == "/api/chat.postMessage"
    assert message["channel"] == "#exports-oncall" and message["token"] == "Bearer xoxb-local"
    assert "bucket_missing" in message["text"] and "acme-box does not exist" in message["text"]
    assert receiver.received == []  # the webhook asked for delivered only


def test_the_deadline_callback_sends_deadline_missed_after_the_email(receiver, inbox, monkeypatch):
    config = config_for(receiver)
    due = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
    context = {
        "dag_run": {
            "run_type": "scheduled",
            "logical_date": "2026-11-01T18:30:00+00:00",
            "dag_run_id": "scheduled__2026-11-01T18:30:00+00:00",
            "state": "running",
        },
        "deadline": {"id": "d1", "deadline_time": due.isoformat()},
    }
    monkeypatch.setenv("EES_DEADLINE_ALERTS", "on")
    alert = deadline_alert(config)  # the DAG's own alert: its kwargs carry the config
    kwargs = json.loads(json.dumps(alert.callback.kwargs))  # as stored with the DAG
    assert set(kwargs) == {"export_id", "client_id", "timezone", "config"}
    result = asyncio.run(on_deadline_missed(**kwargs, context=context))
    assert result == "alerted"
    [got] = receiver.wait_for(1)
    body = got.json()
    assert got.verified and body["event"] == "deadline_missed"
    assert body["period"] == "2026-11-01" and body["due"] == due.isoformat()
    assert body["late_min"] > 0
    assert len(inbox.messages) == 1  # the on-call deadline email; the webhook did not fail


def test_a_stopped_export_sends_stopped(receiver):
    config = config_for(receiver)
    first = datetime(2026, 11, 1, tzinfo=UTC)
    incident = Incident(
        opened_at=first,
        first_failed_at=first,
        code="bucket_missing",
        explanation="The bucket acme-box does not exist.",
        fix="Create it.",
        last_run_id="scheduled__1",
    )
    paused = []
    done = _act(config, ExportState(incident=incident), PauseExport(), Actors(pause=paused.append))
    assert done == "paused" and paused == ["export_acme_daily"]
    [got] = receiver.received
    body = got.json()
    assert got.verified and body["event"] == "stopped"
    assert body["code"] == "bucket_missing" and body["first_failed_at"] == first.isoformat()


def test_budget_leaves_time_for_the_success_overtime():
    """The delivered event runs in validate's success callback: Airflow stops the worker
    task_success_overtime (20 s) after the success, so every send must fit inside it."""
    from airflow.configuration import conf

    waits = sum(notifications.BACKOFF)
    overtime = conf.getfloat("core", "task_success_overtime")
    assert overtime > notifications.TASK_BUDGET
    assert waits < notifications.TASK_BUDGET
    assert timedelta(seconds=notifications.REQUEST_TIMEOUT) < timedelta(seconds=10)
