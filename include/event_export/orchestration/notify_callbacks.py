"""The Airflow callbacks that turn a run's outcome into delivery notifications.

Why callbacks: `validate`'s success callback runs after Airflow has recorded the success, so the
delivered event (with the manifest `validate` returned) is off the delivery's critical path; a
task's failure callback runs once its last try failed. Both only read the context and call
`alerts.notifications.notify`, which never raises. DAGs of exports without notification targets
get no callbacks (see `callbacks_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from event_export.alerts import notifications
from event_export.config.model import ExportConfig
from event_export.orchestration.task_ids import CHECK_REQUEST

Callback = Callable[[dict], None]
PRIVATE = ("staging",)  # what validate returns that is ours, not the manifest's


def _run_fields(context: dict) -> dict[str, Any]:
    run = context.get("dag_run")
    logical = context.get("logical_date")
    return {
        "run_id": getattr(run, "run_id", None) or "unknown",
        "logical_date": logical.isoformat() if logical is not None else None,
    }


def on_delivered(config: ExportConfig) -> Callback:
    """The delivered event, and schema_changed when the delivery's columns differ from the
    previous delivery's (both from validate's result, labels only: no raw name)."""

    def callback(context: dict) -> None:
        ti = context["ti"]
        summary = ti.xcom_pull(task_ids=ti.task_id) or {}
        manifest = {k: v for k, v in summary.items() if k not in PRIVATE and k != "period"}
        run = {**_run_fields(context), "period": summary.get("period")}
        events = [("delivered", {**run, "manifest": manifest})]
        if summary.get("schema_changed"):
            changed = {
                **run,
                "manifest": summary.get("manifest"),
                "mode": config.schema_,
                "schema_fingerprint": summary.get("schema_fingerprint"),
                "changes": summary.get("schema_changes"),
            }
            events.append(("schema_changed", changed))
        notifications.notify_all(config, events)

    return callback


def on_failed(config: ExportConfig) -> Callback:
    def callback(context: dict) -> None:
        ti = context["ti"]
        if ti.task_id == CHECK_REQUEST:  # a refused one-time request delivers nothing: no event
            return
        details = notifications.failure_details(context.get("exception"), ti.task_id)
        details["map_index"] = getattr(ti, "map_index", -1)  # which file of a mapped upload
        notifications.notify(config, "failed", {**_run_fields(context), **details})

    return callback


class NotifyCallbacks(NamedTuple):
    """The callbacks an export's notification targets need, as keyword arguments: `dag` for the
    DAG's default_args (every task's failure: the failed event), `validate` for the validate
    task (its success: the delivered event). Empty dicts when no target wants the event."""

    dag: dict[str, Callback]
    validate: dict[str, Callback]


def callbacks_for(config: ExportConfig) -> NotifyCallbacks:
    """The callbacks the export's targets need (see NotifyCallbacks)."""
    failed = {"on_failure_callback": on_failed(config)}
    delivered = {"on_success_callback": on_delivered(config)}
    return NotifyCallbacks(
        dag=failed if notifications.wants(config, ["failed"]) else {},
        validate=delivered if notifications.wants(config, ["delivered", "schema_changed"]) else {},
    )
