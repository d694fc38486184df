"""Delivery notifications: signed webhooks and Slack messages for delivered, failed,
deadline_missed, stopped and schema_changed, sent best-effort within a time budget and never
raising.

Why best-effort with a budget: a notification reports on a delivery and must never become part
of it. A delivered event (and schema_changed, when a delivery's columns differ from the
previous delivery's, pipeline/schema.py) is sent from the `validate` task's success callback,
after Airflow has recorded the success (the worker then has `[core] task_success_overtime`,
20 s, before it is stopped); a failed event from the failure callback; deadline_missed from the
deadline callback in the triggerer; stopped from the health check. Each send retries with
backoff while the budget lasts; a target still failing then is an on-call alert (an EES_ALERT
line and an email), never a failed export.

A webhook gets `POST <url>` with the event as JSON and these headers:
  X-EES-Event: the event; X-EES-Delivery: the event's id (the same on every retry, so a receiver
  can drop duplicates); X-EES-Signature: `sha256=` + hex HMAC-SHA256 of the raw body under the
  secret in the connection `secret_conn_id` (its password). The body carries `sent_at`, so a
  receiver can also refuse old replays. Redirects are not followed: a signed body goes only where
  the config says.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from event_export.alerts import emails
from event_export.alerts.deadlines import alert_line
from event_export.config.model import ExportConfig, Notify, SlackTarget, Webhook
from event_export.destinations.errors import ClientSideError
from event_export.settings import oncall_emails

log = logging.getLogger("event_export.alerts")

TASK_BUDGET = 15.0  # seconds for all targets of one event, inside task_success_overtime (20 s)
REQUEST_TIMEOUT = 5.0
BACKOFF = (1.0, 2.0, 4.0)  # waits between tries: four tries at most
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
SIGNATURE_HEADER = "X-EES-Signature"
USER_AGENT = "EventExportScheduler-Webhook/1"
INTERNAL_EXPLANATION = (
    "The export failed for a reason on our side, not yours; our on-call engineers have been "
    "alerted and will rerun it."
)


def sign(secret: str, body: bytes) -> str:
    """The X-EES-Signature value: `sha256=<hex HMAC-SHA256 of body>`. A receiver recomputes it
    over the raw body it got and compares with `hmac.compare_digest`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests' receiver does)."""
    return hmac.compare_digest(sign(secret, body), signature or "")


def event_body(config: ExportConfig, event: str, details: dict[str, Any]) -> dict[str, Any]:
    """The JSON every target gets for one event: who, what, when, and the event's details."""
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "client_id": config.client_id,
        "export_id": config.export_id,
        "destination": config.destination.location,
        **details,
    }


def failure_details(exc: BaseException | None, task_id: str) -> dict[str, Any]:
    """A failed event's `error`: the client's explanation and fix for a ClientSideError, else
    only that it was ours (an internal message may quote paths or servers: never sent out)."""
    seen = exc
    while seen is not None and not isinstance(seen, ClientSideError):
        seen = seen.__cause__ or seen.__context__
    if isinstance(seen, ClientSideError):
        error = {"side": "client", "code": seen.code, "explanation": seen.explanation}
        error["fix"] = seen.fix
    else:
        error = {"side": "ours", "code": "internal", "explanation": INTERNAL_EXPLANATION}
        error["fix"] = ""
    return {"task_id": task_id, "error": error}


@dataclass
class Outcome:
    """What became of one target: delivered or not, after how many tries, and the last error."""

    target: str  # a description without secrets (scheme://host of a webhook, a Slack channel)
    ok: bool = False
    tries: int = 0
    error: str = ""


def _describe_url(url: str) -> str:
    """scheme://host[:port] only: a path or query may hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _retrying(
    outcome: Outcome, attempt: Callable[[float], bool | None], deadline: float
) -> Outcome:
    """Call `attempt(timeout)` until it succeeds (True), refuses for good (None), or the tries
    or the budget run out; `attempt` returns False or raises for a retryable failure."""
    for wait in (*BACKOFF, None):
        left = deadline - time.monotonic()
        if left <= 0.05:
            outcome.error = outcome.error or "no time left in the budget"
            return outcome
        outcome.tries += 1
        try:
            result = attempt(min(REQUEST_TIMEOUT, left))
        except Exception as exc:  # network errors, timeouts: retried
            outcome.error = f"{type(exc).__name__}: {str(exc)[:200]}"
            result = False
        if result:
            outcome.ok = True
            return outcome
        if result is None or wait is None or time.monotonic() + wait >= deadline:
            return outcome
        time.sleep(wait)
    return outcome


def post_webhook(hook: Webhook, secret: str, body: bytes, event: dict, deadline: float) -> Outcome:
    import requests

    outcome = Outcome(_describe_url(hook.url))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-EES-Event": event["event"],
        "X-EES-Delivery": event["id"],
        SIGNATURE_HEADER: sign(secret, body),
    }

    def attempt(timeout: float) -> bool | None:
        reply = requests.post(
            hook.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
        if 200 <= reply.status_code < 300:
            return True
        outcome.error = f"HTTP {reply.status_code}"
        return False if reply.status_code in RETRY_STATUSES else None

    return _retrying(outcome, attempt, deadline)


def slack_text(event: dict) -> str:
    """One short Slack line per event; `&`, `<` and `>` escaped as Slack asks, so no name in it
    becomes a mention or a link."""
    export, name = event["export_id"], event["event"]
    if name == "delivered":
        manifest = event.get("manifest") or {}
        files = len(manifest.get("files", []))
        rows = sum((manifest.get("rows_per_event") or {}).values())
        text = (
            f"Delivered: export {export} ({event.get('period', '')}), {files} file(s), "
            f"{rows} rows, to {event['destination']}"
        )
    elif name == "failed":
        error = event.get("error") or {}
        text = (
            f"Failed: export {export} ({error.get('side')} side, {error.get('code')}): "
            f"{error.get('explanation', '')} {error.get('fix', '')}"
        )
    elif name == "schema_changed":
        changes = event.get("changes") or {}
        columns = changes.get("columns") or {}
        new = sum(len(c.get("new", [])) for c in columns.values())
        gone = sum(len(c.get("vanished", [])) for c in columns.values())
        dropped = sum((changes.get("dropped") or {}).values())
        text = (
            f"Schema changed: export {export} ({event.get('period', '')}): {new} new and "
            f"{gone} vanished column(s) in {len(columns)} event(s)"
            + (f", {dropped} new key(s) dropped (schema locked)" if dropped else "")
        )
    elif name == "deadline_missed":
        text = (
            f"Deadline missed: export {export} has not delivered {event.get('period', '')}, "
            f"due {event.get('due', '')}, {event.get('late_min', 0)} min late"
        )
    else:
        text = f"Stopped: export {export}: {event.get('explanation', '')} {event.get('fix', '')}"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").strip()


def post_slack(
    target: SlackTarget,
    event: dict,
    deadline: float,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Outcome:
    """Through the provider's SlackNotifier; with `loop` (the triggerer's), its async send runs
    on that loop, where connections are read the async way, while this thread waits."""
    from airflow.providers.slack.notifications.slack import SlackNotifier

    outcome = Outcome(f"slack {target.channel}")
    text = slack_text(event)

    def attempt(timeout: float) -> bool | None:
        from slack_sdk.errors import SlackApiError

        notifier = SlackNotifier(
            slack_conn_id=target.conn_id,
            text=text,
            channel=target.channel,
            timeout=max(int(timeout), 1),
        )
        try:  # notify, not __call__: nothing in the text is rendered as a template
            if loop is None:
                notifier.notify({})
            else:
                asyncio.run_coroutine_threadsafe(notifier.async_notify({}), loop).result(timeout)
        except SlackApiError as exc:  # Slack answered: retry only what may pass later
            status = getattr(exc.response, "status_code", 0)
            outcome.error = f"Slack {status}: {exc.response.get('error', '')}"
            return False if status == 429 or status >= 500 else None
        return True

    return _retrying(outcome, attempt, deadline)


@dataclass
class Report:
    event: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def _send_all(
    notify: Notify,
    event: dict,
    secrets: dict[str, str | Exception],
    budget: float,
    loop: asyncio.AbstractEventLoop | None = None,
) -> list[Outcome]:
    """Every target of the event at once (threads), all within one budget."""
    webhooks, slack = notify.targets_of(event["event"])
    body = json.dumps(event, sort_keys=True, ensure_ascii=False).encode()
    deadline = time.monotonic() + budget
    jobs: list[Callable[[], Outcome]] = []
    for hook in webhooks:
        secret = secrets.get(hook.secret_conn_id)
        if isinstance(secret, str) and secret:
            jobs.append(lambda h=hook, s=secret: post_webhook(h, s, body, event, deadline))
        else:
            reason = f"no secret in connection {hook.secret_conn_id!r}"
            if isinstance(secret, Exception):
                reason = f"connection {hook.secret_conn_id!r}: {type(secret).__name__}"
            jobs.append(lambda h=hook, r=reason: Outcome(_describe_url(h.url), error=r))
    jobs += [lambda t=target: post_slack(t, event, deadline, loop) for target in slack]
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _secret(conn_id: str) -> str | Exception:
    from airflow.sdk.bases.hook import BaseHook

    try:
        return BaseHook.get_connection(conn_id).password or ""
    except Exception as exc:
        return exc


async def _asecret(conn_id: str) -> str | Exception:
    from airflow.sdk.bases.hook import BaseHook

    try:
        return (await BaseHook.aget_connection(conn_id)).password or ""
    except Exception as exc:
        return exc


def _alert(config: ExportConfig, report: Report) -> emails.Email | None:
    """Log each failed target for on-call; the email to send about them, if any."""
    if not report.failed:
        return None
    for o in report.failed:
        log.warning(
            alert_line(
                "notification_failed",
                export=config.export_id,
                about=report.event,
                target=o.target,
                tries=o.tries,
                error=o.error,
            )
        )
    lines = [f"{o.target}: {o.error} after {o.tries} try(s)" for o in report.failed]
    return emails.notification_failed(oncall_emails(), config.export_id, report.event, lines)


def _secret_conns(config: ExportConfig, event: str) -> list[str] | None:
    """The secret connections the event's webhooks need; None when no target wants it."""
    webhooks, slack = config.notify.targets_of(event)
    return [w.secret_conn_id for w in webhooks] if webhooks or slack else None


def notify(
    config: ExportConfig, event: str, details: dict[str, Any], *, budget: float = TASK_BUDGET
) -> Report:
    """Send `event` to every target of the export that asked for it; never raises."""
    report = Report(event)
    try:
        if (conns := _secret_conns(config, event)) is None:
            return report
        secrets = {conn_id: _secret(conn_id) for conn_id in conns}
        body = event_body(config, event, details)
        report.outcomes = _send_all(config.notify, body, secrets, budget)
        if (email := _alert(config, report)) is not None:
            emails.send(email)
    except Exception:
        log.exception("notifications of %s for %s failed", event, config.export_id)
    return report


async def anotify(
    config: ExportConfig, event: str, details: dict[str, Any], *, budget: float = TASK_BUDGET
) -> Report:
    """The same from the triggerer's event loop: connections read the async way, the sends in
    a thread so the loop (other exports' deadlines) never waits on them."""
    report = Report(event)
    try:
        if (conns := _secret_conns(config, event)) is None:
            return report
        secrets = {conn_id: await _asecret(conn_id) for conn_id in conns}
        body, loop = event_body(config, event, details), asyncio.get_running_loop()
        report.outcomes = await asyncio.to_thread(
            _send_all, config.notify, body, secrets, budget, loop
        )
        if (email := _alert(config, report)) is not None:
            await emails.asend(email)
    except Exception:
        log.exception("notifications of %s for %s failed", event, config.export_id)
    return report


def notify_all(
    config: ExportConfig, events: list[tuple[str, dict[str, Any]]], *, budget: float = TASK_BUDGET
) -> list[Report]:
    """Several events from one callback (delivered and schema_changed), sent side by side so
    together they keep one budget; never raises."""
    if not events:
        return []
    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(lambda e: notify(config, e[0], e[1], budget=budget), events))


def wants(config: ExportConfig, events: Sequence[str]) -> bool:
    """Whether any target of the export asked for one of `events` (DAGs without get no
    callbacks at all)."""
    return any(any(config.notify.targets_of(e)) for e in events)
