"""The three-email failure policy as pure functions: (state, latest run, now) -> actions.

A failure on the client's side opens an incident: email 1 at once, email 2 a day later, email 3 on
day three (two days after the first) saying the export is stopped, and the DAG is paused. A later
successful run closes the incident without another email. A failure on our side alerts on-call
once per run and never moves a client's incident forward or stops an export. Nothing here reads a
clock or touches a server, so every step is tested with a chosen `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

EMAIL_DUE = {1: timedelta(0), 2: timedelta(days=1), 3: timedelta(days=2)}
STOP_EMAIL = 3
KEEP_ALERTED_RUNS = 50

Outcome = Literal["success", "client_failure", "internal_failure", "refused"]


@dataclass(frozen=True)
class Observation:
    """What the export's latest finished run says."""

    run_id: str
    outcome: Outcome
    finished_at: datetime | None = None
    code: str = ""
    explanation: str = ""
    fix: str = ""
    error: str = ""


@dataclass(frozen=True)
class Incident:
    """An open problem on the client's side, and which of its emails have gone out."""

    opened_at: datetime
    first_failed_at: datetime
    code: str
    explanation: str
    fix: str
    last_run_id: str
    emails_sent: tuple[int, ...] = ()
    stopped_at: datetime | None = None

    def stop_at(self) -> datetime:
        return self.opened_at + EMAIL_DUE[STOP_EMAIL]


@dataclass(frozen=True)
class ExportState:
    incident: Incident | None = None
    closed: tuple[dict, ...] = ()
    alerted_runs: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SendClientEmail:
    number: int


@dataclass(frozen=True)
class PauseExport:
    pass


@dataclass(frozen=True)
class AlertOnCall:
    run_id: str
    error: str


@dataclass(frozen=True)
class IncidentClosed:
    run_id: str


Action = SendClientEmail | PauseExport | AlertOnCall | IncidentClosed


def due_email(incident: Incident, now: datetime) -> int | None:
    """The latest email whose time has come and which has not gone out, if any.

    After a long outage of the health check only the latest due email is sent: a client should not
    get emails 1, 2 and 3 in the same minute.
    """
    due = [n for n, after in EMAIL_DUE.items() if now >= incident.opened_at + after]
    latest = max(due) if due else None
    if latest is None or latest <= max(incident.emails_sent, default=0):
        return None
    return latest


def decide(state: ExportState, seen: Observation | None, now: datetime) -> tuple[ExportState, list]:
    """The next state and the actions to take, in order. Pure: same input, same answer."""
    if seen is None or seen.outcome == "refused":
        return state, []
    incident = state.incident
    if seen.outcome == "success":
        if incident is None:
            return state, []
        record = {
            "code": incident.code,
            "opened_at": incident.opened_at.isoformat(),
            "closed_at": now.isoformat(),
            "closed_by_run": seen.run_id,
            "emails_sent": list(incident.emails_sent),
        }
        closed = (*state.closed, record)[-KEEP_ALERTED_RUNS:]
        return replace(state, incident=None, closed=closed), [IncidentClosed(seen.run_id)]
    if seen.outcome == "internal_failure":
        if seen.run_id in state.alerted_runs:
            return state, []
        alerted = (*state.alerted_runs, seen.run_id)[-KEEP_ALERTED_RUNS:]
        return replace(state, alerted_runs=alerted), [AlertOnCall(seen.run_id, seen.error)]
    # the client's side
    if incident is None:
        incident = Incident(
            opened_at=now,
            first_failed_at=seen.finished_at or now,
            code=seen.code,
            explanation=seen.explanation,
            fix=seen.fix,
            last_run_id=seen.run_id,
        )
    else:  # keep the schedule; show the latest error text
        incident = replace(
            incident,
            code=seen.code,
            explanation=seen.explanation,
            fix=seen.fix,
            last_run_id=seen.run_id,
        )
    if incident.stopped_at is not None:
        return replace(state, incident=incident), []
    number = due_email(incident, now)
    actions: list = []
    if number is not None:
        incident = replace(incident, emails_sent=(*incident.emails_sent, number))
        if number == STOP_EMAIL:
            incident = replace(incident, stopped_at=now)
            actions.append(PauseExport())
        actions.append(SendClientEmail(number))
    return replace(state, incident=incident), actions


def undo(state: ExportState, action: Action) -> ExportState:
    """The state as if a failed action had not been taken, so the next check tries it again."""
    incident = state.incident
    if isinstance(action, SendClientEmail) and incident is not None:
        sent = tuple(n for n in incident.emails_sent if n != action.number)
        return replace(state, incident=replace(incident, emails_sent=sent))
    if isinstance(action, PauseExport) and incident is not None:
        sent = tuple(n for n in incident.emails_sent if n != STOP_EMAIL)
        return replace(state, incident=replace(incident, emails_sent=sent, stopped_at=None))
    if isinstance(action, AlertOnCall):
        return replace(
            state, alerted_runs=tuple(r for r in state.alerted_runs if r != action.run_id)
        )
    return state
