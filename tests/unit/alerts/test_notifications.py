"""Notifications without a server: the config's notify block (hostile URLs refused), the
signature, the texts, the failure details, and which DAGs get callbacks at all."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from event_export.alerts import notifications
from event_export.alerts.deadlines import deadline_alert
from event_export.config.model import ExportConfig
from event_export.destinations import explanations
from event_export.orchestration.notify_callbacks import NotifyCallbacks, callbacks_for
from pydantic import ValidationError


def config(notify: dict | None = None) -> ExportConfig:
    data = {"client_id": "a", "export_id": "a", "destination": {"type": "local", "conn_id": "c"}}
    return ExportConfig.model_validate({**data, "notify": notify or {}})


HOOK = {"url": "https://hooks.acme.example/ees", "secret_conn_id": "acme_hook"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.acme.example/x", "http:// or https:// URL with a host"),
        ("https:///no-host", "http:// or https:// URL with a host"),
        ("hooks.acme.example/x", "http:// or https:// URL with a host"),
        ("javascript:alert(1)", "http:// or https:// URL with a host"),
        ("https://user:pw@hooks.acme.example/x", "must not hold a user or password"),
        ("https://token@hooks.acme.example/x", "must not hold a user or password"),
        ("https://hooks.acme.example:99999/x", "invalid port"),
        ("https://hooks.acme.example/a b", "must not contain spaces"),
        ("https://hooks.acme.example/\x00", "control or bidi character"),
        ("https://hooks.acme.example/\u202ex", "control or bidi character"),
        ("https://hooks.acme.example/" + "x" * 2100, "at most 2048 characters"),
    ],
)
def test_a_bad_webhook_url_is_refused_with_its_reason(url, message):
    with pytest.raises(ValidationError, match="url") as err:
        config({"webhooks": [{**HOOK, "url": url}]})
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"webhooks": [{"url": HOOK["url"]}]}, "secret_conn_id"),
        ({"webhooks": [{**HOOK, "events": []}]}, "at least 1 item"),
        ({"webhooks": [{**HOOK, "events": ["delivered", "delivered"]}]}, "list each event once"),
        ({"webhooks": [{**HOOK, "events": ["schema_drift"]}]}, "Input should be 'delivered'"),
        ({"webhooks": [{**HOOK, "secret": "inline"}]}, "Extra inputs are not permitted"),
        ({"webhooks": [HOOK] * 11}, "at most 10 items"),
        ({"slack": [{"conn_id": "s"}]}, "channel"),
    ],
)
def test_the_notify_block_is_strict(notify, message):
    with pytest.raises(ValidationError) as err:
        config(notify)
    assert message in str(err.value)


def test_targets_by_event_and_defaults():
    loaded = config(
        {
            "webhooks": [HOOK, {**HOOK, "events": ["failed"]}],
            "slack": [{"conn_id": "s", "channel": "#x", "events": ["stopped", "failed"]}],
        }
    )
    assert loaded.notify.webhooks[0].events == [
        "delivered",
        "failed",
        "deadline_missed",
        "stopped",
        "schema_changed",
    ]
    hooks, slack = loaded.notify.targets_of("failed")
    assert (len(hooks), len(slack)) == (2, 1)
    hooks, slack = loaded.notify.targets_of("delivered")
    assert (len(hooks), len(slack)) == (1, 0)


def test_the_signature_is_hmac_sha256_over_the_raw_body():
    body = '{"event": "delivered", "name": "खरीदारी"}'.encode()
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert notifications.sign("s3cret", body) == f"sha256={expected}"
    assert notifications.verify("s3cret", body, f"sha256={expected}")
    assert not notifications.verify("s3cret", body + b" ", f"sha256={expected}")
    assert not notifications.verify("other", body, f"sha256={expected}")
    assert not notifications.verify("s3cret", body, "")


def test_failure_details_tell_the_clients_side_from_ours_and_never_quote_ours():
    try:
        try:
            raise explanations.bucket_missing("azure", "box")
        except Exception as exc:
            raise RuntimeError("client-side error (bucket_missing)") from exc
    except RuntimeError as exc:
        client = notifications.failure_details(exc, "upload")
    assert client["error"]["side"] == "client" and client["error"]["code"] == "bucket_missing"
    assert "container box" in client["error"]["explanation"] and client["error"]["fix"]
    ours = notifications.failure_details(OSError("/var/lib/secret/path: disk full"), "format")
    assert ours["error"]["side"] == "ours" and "/var/lib" not in str(ours)
    assert notifications.failure_details(None, "extract")["error"]["code"] == "internal"


def test_slack_text_escapes_what_slack_would_read_as_markup():
    event = {
        "event": "delivered",
        "export_id": "a",
        "period": "2026-11-01",
        "destination": "s3://b/p",
        "manifest": {"files": [{}], "rows_per_event": {"<!channel> & <@U1>": 5}},
    }
    text = notifications.slack_text(event)
    assert "<" not in text and ">" not in text
    assert text.startswith("Delivered: export a (2026-11-01), 1 file(s), 5 rows")
    failed = {"event": "failed", "export_id": "a", "error": {"side": "client", "code": "x"}}
    assert notifications.slack_text({**failed, "destination": ""}).startswith("Failed: export a")
    changed = {
        "event": "schema_changed",
        "export_id": "a",
        "period": "2026-11-02",
        "changes": {
            "columns": {"<!channel>": {"new": ["payload.x", "payload.y"], "vanished": ["p.z"]}},
            "dropped": {"<!channel>": 2},
        },
    }
    text = notifications.slack_text(changed)
    assert "<" not in text and ">" not in text
    assert text == (
        "Schema changed: export a (2026-11-02): 2 new and 1 vanished column(s) in 1 event(s), "
        "2 new key(s) dropped (schema locked)"
    )


def test_schema_changed_alone_gets_validates_success_callback():
    only_schema = config({"webhooks": [{**HOOK, "events": ["schema_changed"]}]})
    default_args, validate_args = callbacks_for(only_schema)
    assert default_args == {} and list(validate_args) == ["on_success_callback"]


def test_dags_without_targets_get_no_callbacks_and_no_config_in_the_deadline(monkeypatch):
    monkeypatch.setenv("EES_DEADLINE_ALERTS", "on")
    plain = config()
    assert callbacks_for(plain) == NotifyCallbacks(dag={}, validate={})
    assert "config" not in deadline_alert(plain).callback.kwargs
    only_failed = config({"webhooks": [{**HOOK, "events": ["failed"]}]})
    callbacks = callbacks_for(only_failed)
    assert list(callbacks.dag) == ["on_failure_callback"] and callbacks.validate == {}
    assert "config" not in deadline_alert(only_failed).callback.kwargs
    everything = config({"webhooks": [HOOK]})
    kwargs = deadline_alert(everything).callback.kwargs
    assert ExportConfig.model_validate(kwargs["config"]) == everything  # round-trips


def test_nothing_is_sent_and_nothing_raises_without_targets():
    report = notifications.notify(config(), "delivered", {"manifest": {}})
    assert report.outcomes == [] and report.failed == []
