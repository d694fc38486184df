"""The three-email failure policy through three days on a chosen clock, with real emails
captured by aiosmtpd, state in a real file (a restart is a new store on the same file)."""

from datetime import UTC, datetime, timedelta

import pytest
from event_export.alerts.failure_policy import Observation
from event_export.alerts.incidents import IncidentStore
from event_export.config.model import ExportConfig
from event_export.orchestration.health_check import Actors, apply_policy

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CLIENT = "data-team@acme.example"


@pytest.fixture
def config() -> ExportConfig:
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "acme_daily",
            "destination": {"type": "local", "conn_id": "c"},
            "notify": {"failure_emails": [CLIENT]},
        }
    )


def _client_failure(run: str) -> Observation:
    return Observation(
        run,
        "client_failure",
        T0 - timedelta(minutes=20),
        code="bucket_missing",
        explanation="The bucket acme-exports does not exist.",
        fix="Create the bucket acme-exports or correct its name in the export settings.",
    )


class Checker:
    """One health check at a time, the store re-opened from disk each time (as after a restart)."""

    def __init__(self, path, config, actors):
        self.path, self.config, self.actors = path, config, actors

    def __call__(self, seen, hours: float) -> list[str]:
        store = IncidentStore(self.path)
        with store.locked() as states:
            now = T0 + timedelta(hours=hours)
            return apply_policy(states, self.config, seen, now, self.actors, store.save)


@pytest.fixture
def paused() -> list[str]:
    return []


@pytest.fixture
def check(tmp_path, config, paused):
    return Checker(tmp_path / "state" / "incidents.json", config, Actors(pause=paused.append))


def test_three_emails_over_three_days_then_stop_and_recovery_closes(check, inbox, paused):
    assert check(_client_failure("r1"), 0) == ["email 1"]
    (first,) = inbox.messages
    assert first["X-Envelope-To"] == CLIENT
    assert str(first["Subject"]) == (
        "Action needed: your data export acme_daily could not deliver files"
    )
    body = inbox.body(first)
    assert "The bucket acme-exports does not exist." in body
    assert "Create the bucket acme-exports" in body
    assert "If this is not fixed by 2026-11-04 09:00 UTC, the export will be stopped" in body

    for hours in (1, 2, 12, 23.9):  # still failing, hour after hour: nothing more on day one
        assert check(_client_failure(f"r{hours}"), hours) == []
    assert len(inbox.messages) == 1

    assert check(_client_failure("r24"), 24) == ["email 2"]
    second = inbox.messages[1]
    assert str(second["Subject"]).startswith("Reminder: your data export acme_daily is still")
    assert "2026-11-04 09:00 UTC" in inbox.body(second)

    for hours in (25, 36, 47.9):
        assert check(_client_failure(f"r{hours}"), hours) == []
    assert paused == [] and len(inbox.messages) == 2

    assert check(_client_failure("r48"), 48) == ["paused", "email 3"]
    assert paused == ["export_acme_daily"]
    third = inbox.messages[2]
    assert str(third["Subject"]) == "Your data export acme_daily has been stopped"
    assert "we have now stopped it" in inbox.body(third)

    assert check(_client_failure("r49"), 49) == []  # stopped: no fourth email, no second pause
    assert check(Observation("r80", "success", T0 + timedelta(hours=80)), 80) == ["closed"]
    assert check(Observation("r81", "success", T0 + timedelta(hours=81)), 81) == []
    assert len(inbox.messages) == 3 and paused == ["export_acme_daily"]

    state = IncidentStore(check.path).load()["acme_daily"]
    assert state.incident is None
    assert state.closed[-1]["emails_sent"] == [1, 2, 3]


def test_a_fix_on_day_two_closes_the_incident_without_more_email(check, inbox, paused):
    assert check(_client_failure("r1"), 0) == ["email 1"]
    assert check(Observation("r2", "success"), 30) == ["closed"]
    assert check(_client_failure("r3"), 50) == ["email 1"]  # a new problem starts a new incident
    assert [str(m["Subject"]).split(":")[0] for m in inbox.messages] == ["Action needed"] * 2
    assert paused == []


def test_after_a_health_check_outage_only_the_latest_due_email_goes(check, inbox, paused):
    assert check(_client_failure("r1"), 0) == ["email 1"]
    assert check(_client_failure("r2"), 60) == ["paused", "email 3"]
    assert len(inbox.messages) == 2


def test_an_email_that_could_not_be_sent_is_sent_by_the_next_check(check, inbox):
    real_send = check.actors.send
    check.actors.send = _refuse
    with pytest.raises(ConnectionRefusedError):
        check(_client_failure("r1"), 0)
    check.actors.send = real_send
    assert check(_client_failure("r1"), 1) == ["email 1"]
    assert check(_client_failure("r1"), 2) == []
    assert len(inbox.messages) == 1


def _refuse(email):
    raise ConnectionRefusedError("smtp down")


def test_internal_failures_alert_on_call_once_per_run_and_never_stop(
    check, inbox, paused, monkeypatch
):
    monkeypatch.setenv("EES_ONCALL_EMAILS", "oncall@ees.invalid")
    internal = Observation("r1", "internal_failure", error="failed task(s): extract")
    assert check(internal, 0) == ["on-call alerted"]
    for hours in (1, 24, 48, 72):  # the same failed run seen every hour: one alert only
        assert check(internal, hours) == []
    assert check(Observation("r2", "internal_failure", error="failed task(s): chunk"), 73) == [
        "on-call alerted"
    ]
    assert [m["X-Envelope-To"] for m in inbox.messages] == ["oncall@ees.invalid"] * 2
    assert (
        str(inbox.messages[0]["Subject"]) == "[EES failure] acme_daily: run r1 failed on our side"
    )
    assert "failed task(s): extract" in inbox.body(inbox.messages[0])
    assert paused == []


def test_our_failures_never_stop_an_export_themselves(check, inbox, paused, monkeypatch):
    monkeypatch.setenv("EES_ONCALL_EMAILS", "oncall@ees.invalid")
    assert check(_client_failure("r1"), 0) == ["email 1"]
    internal = Observation("r2", "internal_failure", error="failed task(s): extract")
    assert check(internal, 50) == ["on-call alerted"]
    assert paused == []
    assert check(_client_failure("r3"), 51) == ["paused", "email 3"]


def test_refused_one_time_requests_are_nobodys_incident(check, inbox):
    assert check(Observation("r1", "refused"), 0) == []
    assert inbox.messages == []
