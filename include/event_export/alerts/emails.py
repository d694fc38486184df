"""Emails, written for people who have never seen Airflow, sent through Airflow's SMTP connection.

Texts are plain sentences (sent as simple HTML paragraphs). They name the export, the problem and
the fix, never a credential: error texts come from ClientSideError, which carries none.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from event_export.config.model import dag_id_for
from event_export.settings import smtp_conn_id

log = logging.getLogger(__name__)
DEFAULT_FROM = "Event Exports <exports@ees.invalid>"


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    paragraphs: tuple[str, ...]

    def html(self) -> str:
        return "\n".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)


def send(email: Email) -> None:
    """Send through the SMTP connection; raises if the server refuses, so callers can retry."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    if not email.to:
        log.warning("email %r has no recipients; not sent", email.subject)
        return
    with SmtpHook(smtp_conn_id=smtp_conn_id()) as hook:
        hook.send_email_smtp(
            to=list(email.to),
            subject=email.subject,
            html_content=email.html(),
            from_email=hook.from_email or DEFAULT_FROM,
        )


async def asend(email: Email) -> None:
    """The same from async code (deadline callbacks run in the triggerer's event loop)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    if not email.to:
        log.warning("email %r has no recipients; not sent", email.subject)
        return
    async with SmtpHook(smtp_conn_id=smtp_conn_id()) as hook:
        await hook.asend_email_smtp(
            to=list(email.to),
            subject=email.subject,
            html_content=email.html(),
            from_email=hook.from_email or DEFAULT_FROM,
        )


def _late(minutes: int) -> str:
    hours, mins = divmod(max(minutes, 0), 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def deadline_missed(
    to: Sequence[str],
    export_id: str,
    client_id: str,
    period: str,
    due: datetime,
    late_min: int,
    run_id: str,
) -> Email:
    return Email(
        tuple(to),
        f"[EES deadline] {export_id}: {period} not delivered, {_late(late_min)} late",
        (
            f"The export {export_id} (client {client_id}) has not delivered its files for "
            f"{period}. They were due at {due.isoformat()} and are now {_late(late_min)} late.",
            f"Airflow DAG {dag_id_for(export_id)}, run {run_id}.",
            "Check the export's latest run in Airflow. If it failed, fix the cause and clear the "
            "run; if it is still running, watch it finish. The client has not been emailed about "
            "this delay.",
        ),
    )


def client_failure(
    to: Sequence[str],
    number: int,
    export_id: str,
    explanation: str,
    fix: str,
    first_failed: datetime,
    stop_at: datetime,
) -> Email:
    """Emails 1 and 2 of the failure policy: what failed, how to fix it, when the export stops."""
    subject = (
        f"Action needed: your data export {export_id} could not deliver files"
        if number == 1
        else f"Reminder: your data export {export_id} is still failing and will stop soon"
    )
    return Email(
        tuple(to),
        subject,
        (
            f"Your scheduled data export {export_id} could not deliver files to your storage "
            f"since {first_failed:%Y-%m-%d %H:%M} UTC.",
            f"What went wrong: {explanation}",
            f"How to fix it: {fix}",
            f"If this is not fixed by {stop_at:%Y-%m-%d %H:%M} UTC, the export will be stopped "
            "and no more files will be sent. Once it is fixed, the next run delivers as usual "
            "and no further email follows.",
        ),
    )


def client_stopped(
    to: Sequence[str], export_id: str, explanation: str, fix: str, first_failed: datetime
) -> Email:
    """Email 3: the export is stopped."""
    return Email(
        tuple(to),
        f"Your data export {export_id} has been stopped",
        (
            f"Your scheduled data export {export_id} has failed to deliver files since "
            f"{first_failed:%Y-%m-%d %H:%M} UTC, and we have now stopped it.",
            f"What went wrong: {explanation}",
            f"How to fix it: {fix}",
            "After fixing it, ask your account contact to restart the export; missed days can "
            "be delivered then.",
        ),
    )


def internal_failure(to: Sequence[str], export_id: str, run_id: str, error: str) -> Email:
    return Email(
        tuple(to),
        f"[EES failure] {export_id}: run {run_id} failed on our side",
        (
            f"The export {export_id} failed in run {run_id} for a reason on our side (not the "
            "client's). The export keeps its schedule; the client is not emailed.",
            f"Failure: {error}",
            "Look at the failed task's log in Airflow, fix the cause, and clear the run.",
        ),
    )


def broken_configs(to: Sequence[str], errors: Sequence[str]) -> Email:
    """On-call: export configs that stopped loading, so their exports do not run at all."""
    count = len(errors)
    return Email(
        tuple(to),
        f"[EES config] {count} export config(s) not loaded: their exports do not run",
        (
            f"{count} export config file(s) could not be loaded. Each such export has no DAG, so "
            "it runs no more, and no deadline or failure alert will come for it.",
            *errors,
            "Fix each file (`ees validate` lists what is wrong with every file); the export's "
            "DAG returns with the next parse of the DAG files. Deliver the days it missed with "
            "`ees backfill`.",
        ),
    )


def notification_failed(
    to: Sequence[str], export_id: str, event: str, failures: Sequence[str]
) -> Email:
    """On-call: a webhook or Slack channel did not take an event (the delivery itself stands)."""
    return Email(
        tuple(to),
        f"[EES notification] {export_id}: {event} not delivered to {len(failures)} target(s)",
        (
            f"The export {export_id} could not tell its notification targets about the event "
            f"{event}. The export itself is not affected.",
            *(f"Target {line}" for line in failures),
            "Check the receiver (it must answer 2xx within 5 s and verify X-EES-Signature with "
            "the secret in its connection), or the Slack connection and channel; the event is "
            "not sent again by itself.",
        ),
    )
