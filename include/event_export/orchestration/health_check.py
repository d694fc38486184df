"""The hourly health check: classify each export's latest run and carry out the failure policy.

Reading runs of other DAGs and pausing them goes through Airflow's REST API (task code may not use
the ORM). The policy itself is `failure_policy.decide`; this module only observes and acts, with
the clock, the mailer and the pauser passed in so tests drive it through three days.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from event_export.alerts import broken_configs, emails, notifications
from event_export.alerts.deadlines import alert_line
from event_export.alerts.failure_policy import (
    AlertOnCall,
    ExportState,
    IncidentClosed,
    Observation,
    PauseExport,
    SendClientEmail,
    decide,
    undo,
)
from event_export.alerts.incidents import IncidentStore
from event_export.config.model import DAG_ID_PREFIX, ConfigError, ExportConfig
from event_export.config.yaml_reader import printable
from event_export.orchestration.airflow_api import AirflowApi
from event_export.orchestration.factory import MISSING_GRACE, shard_file
from event_export.orchestration.failure_reports import XCOM_KEY
from event_export.orchestration.task_ids import CHECK_REQUEST
from event_export.settings import oncall_emails

log = logging.getLogger("event_export.alerts")


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def observe(api: AirflowApi, dag_id: str) -> Observation | None:
    """The latest finished run of an export, classified by the XCom a failing task left."""
    runs = api.latest_runs(dag_id, limit=1)
    if not runs:
        return None
    run = runs[0]
    run_id, finished = run["dag_run_id"], _when(run.get("end_date"))
    if run["state"] == "success":
        return Observation(run_id, "success", finished)
    failed = api.task_instances(dag_id, run_id, state="failed")
    for ti in failed:
        record = api.xcom(dag_id, run_id, ti["task_id"], XCOM_KEY, ti.get("map_index", -1))
        if isinstance(record, dict) and record.get("explanation"):
            return Observation(
                run_id,
                "client_failure",
                finished,
                code=str(record.get("code", "")),
                explanation=str(record["explanation"]),
                fix=str(record.get("fix", "")),
            )
    task_ids = sorted({ti["task_id"] for ti in failed})
    if task_ids == [CHECK_REQUEST]:
        return Observation(run_id, "refused", finished)
    error = f"failed task(s): {', '.join(task_ids) or 'none recorded (run failed or timed out)'}"
    return Observation(run_id, "internal_failure", finished, error=error)


@dataclass
class Actors:
    """What the policy's actions do; swapped in tests for recorders where a server is not wanted."""

    send: Callable[[emails.Email], None] = emails.send
    pause: Callable[[str], None] | None = None  # dag_id -> None


def _email_for(config: ExportConfig, state: ExportState, number: int) -> emails.Email:
    incident = state.incident
    to = config.notify.failure_emails or oncall_emails()
    if number == 3:
        return emails.client_stopped(
            to, config.export_id, incident.explanation, incident.fix, incident.first_failed_at
        )
    return emails.client_failure(
        to,
        number,
        config.export_id,
        incident.explanation,
        incident.fix,
        incident.first_failed_at,
        incident.stop_at(),
    )


def apply_policy(
    states: dict[str, ExportState],
    config: ExportConfig,
    seen: Observation | None,
    now: datetime,
    actors: Actors,
    save: Callable[[dict[str, ExportState]], None],
) -> list[str]:
    """Decide, persist the decision, then act; a failed action is undone so the next check retries.

    Persisting before acting means a crash mid-send can lose an email but never repeat one.
    """
    before = states.get(config.export_id, ExportState())
    after, actions = decide(before, seen, now)
    if after == before and not actions:
        return []
    states[config.export_id] = after
    save(states)
    done = []
    for action in actions:
        try:
            done.append(_act(config, after, action, actors))
        except Exception:
            states[config.export_id] = after = undo(after, action)
            save(states)
            raise
    return done


def _act(config: ExportConfig, state: ExportState, action, actors: Actors) -> str:
    export = config.export_id
    if isinstance(action, SendClientEmail):
        actors.send(_email_for(config, state, action.number))
        log.warning(alert_line("client_email", export=export, number=action.number))
        return f"email {action.number}"
    if isinstance(action, PauseExport):
        if actors.pause is None:
            raise RuntimeError("no way to pause DAGs configured")
        actors.pause(config.dag_id)
        log.warning(alert_line("export_stopped", export=export, code=state.incident.code))
        incident = state.incident
        stopped = {"code": incident.code, "explanation": incident.explanation, "fix": incident.fix}
        stopped["first_failed_at"] = incident.first_failed_at.isoformat()
        notifications.notify(config, "stopped", stopped)  # never raises
        return "paused"
    if isinstance(action, AlertOnCall):
        log.warning(alert_line("export_failed_internal", export=export, run_id=action.run_id))
        actors.send(emails.internal_failure(oncall_emails(), export, action.run_id, action.error))
        return "on-call alerted"
    if isinstance(action, IncidentClosed):
        log.info(alert_line("incident_closed", export=export, run_id=action.run_id))
        return "closed"
    raise TypeError(f"unknown action {action!r}")


def run_check(
    configs: list[ExportConfig],
    api: AirflowApi,
    store: IncidentStore,
    now: datetime,
    actors: Actors | None = None,
) -> dict[str, list[str]]:
    """One health check over every export; an error on one export does not skip the others."""
    actors = actors or Actors(pause=lambda dag_id: api.set_paused(dag_id, True))
    report: dict[str, list[str]] = {}
    errors = []
    with store.locked() as states:
        for config in configs:
            try:
                if not config.schedule.enabled:
                    dag = api.get_dag(config.dag_id)
                    if dag is not None and not dag["is_paused"]:
                        actors.pause(config.dag_id)  # the config switch stops an existing DAG
                        report[config.export_id] = ["paused by config"]
                    continue
                seen = observe(api, config.dag_id)
                done = apply_policy(states, config, seen, now, actors, store.save)
                if done:
                    report[config.export_id] = done
            except Exception as exc:
                log.exception("health check of %s failed", config.export_id)
                errors.append(f"{config.export_id}: {exc}")
    if errors:
        raise RuntimeError("health check incomplete: " + "; ".join(errors))
    return report


def missing_dags(
    configs: dict[Path, ExportConfig], api: AirflowApi, now: datetime
) -> dict[str, str]:
    """The valid configs, unchanged for MISSING_GRACE, that Airflow has no DAG for: their DAG
    file did not import or timed out (file -> what is wrong, as broken_configs.alert takes it)."""
    have = api.dag_ids(DAG_ID_PREFIX)
    missing = {}
    for path, config in configs.items():
        if config.dag_id in have:
            continue
        try:
            changed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:
            continue  # gone since it was read
        if now - changed < MISSING_GRACE:
            continue
        missing[printable(str(path))] = printable(
            f"{path}: (dag): the config loads, but Airflow has no DAG {config.dag_id} for it: "
            f"its DAG file {shard_file(config.export_id)} did not import or timed out (see its "
            "import error)"
        )
    return missing


def alert_missing_exports(
    broken: list[ConfigError],
    missing: dict[str, str],
    store: IncidentStore,
    actors: Actors | None = None,
) -> list[str]:
    """On-call's one email about exports without a DAG (alerts/broken_configs.py): configs that
    do not load or build, and valid ones whose DAG file failed; kept beside the incident state
    and under its lock."""
    send = (actors or Actors()).send
    with store.locked():
        state = store.path.with_name(broken_configs.STATE_FILE)
        problems = {**broken_configs.lines(broken), **missing}
        return broken_configs.alert(problems, state, send, oncall_emails())
