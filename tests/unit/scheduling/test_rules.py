"""Seed 003: a one-time profile export waits until the client's scheduled profile export stops."""

import pytest
from event_export.config.model import ExportConfig
from event_export.scheduling.rules import conflicting_profile_export, profile_export_refusal


def config(export_id: str, client: str = "acme", kind: str = "user_profiles", **schedule):
    fields = {
        "client_id": client,
        "export_id": export_id,
        "kind": kind,
        "profile": "gcp_export",
        "schedule": schedule,
        "destination": {"type": "local", "conn_id": "c"},
    }
    if kind == "user_profiles":
        fields["account_id"] = 880011
    return ExportConfig.model_validate(fields)


ONCE = config("acme_profiles_once", frequency="one_time")


@pytest.mark.parametrize(
    "schedule", [{"frequency": "daily"}, {"frequency": "recurring", "every_hours": 6}]
)
def test_an_active_scheduled_profile_export_of_the_client_is_named(schedule):
    scheduled = config("acme_profiles", **schedule)
    assert conflicting_profile_export(ONCE, [ONCE, scheduled]) == "acme_profiles"
    message = profile_export_refusal(ONCE, [scheduled, ONCE])
    assert "acme_profiles" in message and "acme" in message
    assert "schedule.enabled: false" in message


@pytest.mark.parametrize(
    "other",
    [
        config("acme_profiles", frequency="daily", enabled=False),  # stopped
        config("globex_profiles", client="globex", frequency="daily"),  # another client
        config("acme_events", kind="all_events", frequency="daily"),  # events, not profiles
        config("acme_profiles_once_too", frequency="one_time"),  # not scheduled
    ],
    ids=["stopped", "other client", "events", "one-time"],
)
def test_nothing_else_keeps_a_one_time_profile_export_from_running(other):
    assert conflicting_profile_export(ONCE, [ONCE, other]) is None
    assert profile_export_refusal(ONCE, [ONCE, other]) is None


def test_only_one_time_profile_exports_are_held_back():
    scheduled = config("acme_profiles", frequency="daily")
    for asked in (
        config("acme_events_once", kind="all_events", frequency="one_time"),
        config("acme_profiles_daily_too", frequency="daily"),
    ):
        assert conflicting_profile_export(asked, [asked, scheduled]) is None


def test_the_first_of_several_is_named_in_a_stable_order():
    others = [config(f"acme_profiles_{n}", frequency="daily") for n in ("b", "a", "c")]
    assert conflicting_profile_export(ONCE, others) == "acme_profiles_a"


def test_a_scheduled_profile_export_stopped_on_the_page_keeps_nothing_waiting():
    scheduled = config("acme_profiles", frequency="daily")
    events = config("acme_events", kind="all_events", frequency="daily")
    asked = []

    def paused(dag_id: str) -> bool:
        asked.append(dag_id)
        return dag_id == "export_acme_profiles"

    assert conflicting_profile_export(ONCE, [ONCE, events, scheduled], paused) is None
    assert asked == ["export_acme_profiles"]  # only about the export that would conflict
    assert conflicting_profile_export(ONCE, [ONCE, scheduled], lambda _: False) == "acme_profiles"
    assert "Stop on the Exports page" in profile_export_refusal(ONCE, [scheduled])
