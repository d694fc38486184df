"""Delivery deadlines as Airflow 3 deadline alerts, and the callback that tells on-call.

A daily run's logical date is the local midnight that ends the day it exports, so "07:00 the next
morning" is DAGRUN_LOGICAL_DATE + 7 h. (On the two mornings a year when clocks change between
midnight and the deadline, the alert moves by that hour: Airflow's references add fixed durations.)

The scheduler stores one deadline per run and the triggerer runs the callback once when it is
missed. Backfilled days are late by construction, so the callback ignores backfill runs.

`dag.test()` / `airflow dags test` fail in Airflow 3.3.2 after the tasks succeed when the DAG has
a deadline (`'dict' object has no attribute 'hex'`), so EES_DEADLINE_ALERTS=off builds DAGs
without it for tests and the demo; scheduler-run deployments keep the default (on).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from event_export.alerts import emails
from event_export.config.model import ExportConfig
from event_export.scheduling.windows import day_covered_by_run
from event_export.settings import deadline_alerts_enabled, oncall_emails

log = logging.getLogger("event_export.alerts")
CALLBACK = "event_export.alerts.deadlines.on_deadline_missed"


def deadline_interval(deadline: time) -> timedelta:
    """Time from the run's logical date (local midnight) to the deadline's local time."""
    return timedelta(hours=deadline.hour, minutes=deadline.minute, seconds=deadline.second)


def deadline_alert(config: ExportConfig):
    """The DAG's DeadlineAlert, or None (not daily, or alerts switched off)."""
    if config.schedule.frequency != "daily" or not deadline_alerts_enabled():
        return None
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    kwargs = {
        "export_id": config.export_id,
        "client_id": config.client_id,
        "timezone": config.schedule.timezone,
    }
    if any(config.notify.targets_of("deadline_missed")):  # the whole config: no secret in it
        kwargs["config"] = config.model_dump(mode="json", exclude_unset=True)
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=deadline_interval(config.schedule.deadline),
        callback=AsyncCallback(CALLBACK, kwargs=kwargs),
    )


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def alert_line(event: str, **fields: Any) -> str:
    """One greppable line: `EES_ALERT <event> key=value ...` (values without spaces)."""
    body = " ".join(f"{k}={str(v).replace(' ', '_')}" for k, v in fields.items())
    return f"EES_ALERT {event} {body}"


def describe_miss(
    context: dict, export_id: str, timezone: str, now: datetime
) -> dict[str, Any] | None:
    """What to say about a missed deadline, or None for runs that must not alert (backfills)."""
    run = context.get("dag_run") or {}
    if run.get("run_type") == "backfill":
        return None
    logical = _as_datetime(run.get("logical_date"))
    due = _as_datetime((context.get("deadline") or {}).get("deadline_time"))
    if due is None:
        return None
    due = due if due.tzinfo else due.replace(tzinfo=UTC)
    day = day_covered_by_run(logical, ZoneInfo(timezone)) if logical else None
    late = max(int((now - due).total_seconds() // 60), 0)
    return {
        "export": export_id,
        "day": day.isoformat() if day else "unknown",
        "deadline": due.isoformat(),
        "late_min": late,
        "run_id": run.get("dag_run_id") or run.get("run_id") or "unknown",
        "state": run.get("state", "unknown"),
    }


async def on_deadline_missed(
    export_id: str,
    client_id: str,
    timezone: str,
    context: dict | None = None,
    config: dict | None = None,
) -> str:
    """AsyncCallback run by the triggerer when a daily run is not delivered by its deadline;
    with `config` (an export with notification targets) the deadline_missed event follows the
    on-call email."""
    miss = describe_miss(context or {}, export_id, timezone, datetime.now(UTC))
    if miss is None:
        run = (context or {}).get("dag_run") or {}
        log.info(
            "deadline missed by %s run %s: ignored", run.get("run_type"), run.get("dag_run_id")
        )
        return "ignored"
    log.warning(alert_line("deadline_missed", **miss))
    email = emails.deadline_missed(
        oncall_emails(),
        export_id,
        client_id,
        miss["day"],
        _as_datetime(miss["deadline"]),
        miss["late_min"],
        miss["run_id"],
    )
    await emails.asend(email)
    if config is not None:
        from event_export.alerts import notifications

        details = {
            "run_id": miss["run_id"],
            "period": miss["day"],
            "due": miss["deadline"],
            "late_min": miss["late_min"],
        }
        await notifications.anotify(ExportConfig.model_validate(config), "deadline_missed", details)
    return "alerted"
