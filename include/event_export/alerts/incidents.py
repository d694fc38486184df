"""Incident state on disk: one small JSON file, locked for read-modify-write, replaced atomically.

It must survive scheduler restarts and worker moves (so not memory, and not XCom of one run), and
concurrent health checks must not both send the same email: a `fcntl` lock covers the whole
read-decide-write. Path: EES_INCIDENTS_PATH, default $AIRFLOW_HOME/ees/incidents.json; with
workers on several machines it must be on storage they share.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from event_export.alerts.failure_policy import ExportState, Incident
from event_export.settings import incidents_path


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def state_to_json(state: ExportState) -> dict:
    incident = state.incident
    return {
        "incident": None
        if incident is None
        else {
            "opened_at": incident.opened_at.isoformat(),
            "first_failed_at": incident.first_failed_at.isoformat(),
            "code": incident.code,
            "explanation": incident.explanation,
            "fix": incident.fix,
            "last_run_id": incident.last_run_id,
            "emails_sent": list(incident.emails_sent),
            "stopped_at": incident.stopped_at.isoformat() if incident.stopped_at else None,
        },
        "closed": list(state.closed),
        "alerted_runs": list(state.alerted_runs),
    }


def state_from_json(data: dict) -> ExportState:
    raw = data.get("incident")
    incident = None
    if raw:
        incident = Incident(
            opened_at=_dt(raw["opened_at"]),
            first_failed_at=_dt(raw["first_failed_at"]),
            code=raw["code"],
            explanation=raw["explanation"],
            fix=raw["fix"],
            last_run_id=raw["last_run_id"],
            emails_sent=tuple(raw.get("emails_sent", ())),
            stopped_at=_dt(raw.get("stopped_at")),
        )
    return ExportState(
        incident=incident,
        closed=tuple(data.get("closed", ())),
        alerted_runs=tuple(data.get("alerted_runs", ())),
    )


def replace_json(path: Path, body: object) -> None:
    """Write `body` as `path` atomically (a temporary file renamed over it): a crash leaves the
    old state or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temp, path)


class IncidentStore:
    """`with store.locked() as states:` gives {export_id: ExportState}; `save(states)` persists."""

    def __init__(self, path: Path | None = None):
        self.path = path or incidents_path()

    def load(self) -> dict[str, ExportState]:
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        return {export_id: state_from_json(s) for export_id, s in data.get("exports", {}).items()}

    def save(self, states: dict[str, ExportState]) -> None:
        body = {"exports": {k: state_to_json(v) for k, v in sorted(states.items())}}
        replace_json(self.path, body)

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, ExportState]]:
        """Hold the lock for one health check: load, let the caller decide and save, release."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self.load()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
