"""The Exports page's table: one row per configured export, its status, last run and next run.

Pure logic over three inputs: the configs (good and broken), the incident store, and Airflow's
state through `StateSource`, so every rule is tested without a server and the plugin supplies one
implementation with a few bulk queries on the metadata database (`airflow_state.py`). Rows are
the `TypedDict`s of `payloads.py`, plain dicts the JSON API returns as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from event_export.alerts.failure_policy import STOP_EMAIL, ExportState
from event_export.config import yaml_reader
from event_export.config.model import ConfigError, ExportConfig, dag_id_for
from event_export.config.yaml_reader import printable, unsafe_character
from event_export.orchestration.factory import MISSING_GRACE, shard_file
from event_export.scheduling.schedules import ONE_TIME_FIELDS
from event_export.ui.payloads import (
    DeliverySummary,
    DestinationCell,
    ExportDescription,
    ExportRow,
    FailureDetail,
    FileLine,
    IncidentStage,
    ManifestView,
    PageAnswer,
    RunSummary,
    SchemaSummary,
)

PAGE_SIZES = (10, 20, 30, 40)
DEFAULT_PAGE_SIZE = 20
STATUSES = ("RUNNING", "PENDING", "DONE", "FAILED", "STOPPED", "FAILING", "INVALID")
KIND_LABELS = {
    "all_events": "All events",
    "selected_events": "Selected events",
    "user_profiles": "User profiles",
}


@dataclass(frozen=True)
class DagFacts:
    """What Airflow knows of one export's DAG."""

    paused: bool
    next_run: datetime | None = None
    active_runs: int = 0  # queued or running


@dataclass(frozen=True)
class RunFacts:
    """One DAG run and, when its `validate` task succeeded, what it delivered (its XCom)."""

    run_id: str
    state: str
    run_after: datetime | None = None
    logical_date: datetime | None = None
    end_date: datetime | None = None
    conf: dict = field(default_factory=dict)
    delivered: dict | None = None
    # a failed run's first failed task; None when not read or not failed
    failure: FailureDetail | None = None


class StateSource(Protocol):
    """Airflow's side of the page; each call answers for many DAGs at once."""

    def dags(self, dag_ids: Collection[str]) -> dict[str, DagFacts]:
        """DAGs that exist (parsed, not stale), by id."""

    def last_runs(self, dag_ids: Collection[str], deliveries: bool = True) -> dict[str, RunFacts]:
        """The latest finished (success or failed) run of each DAG that has one; with
        `deliveries`, each successful one's `validate` return value and each failed one's
        `failure` too."""

    def exported_between(self, dag_ids: Collection[str], first: date, last: date) -> set[str]:
        """DAGs with a successful run that ended on a UTC day in first..last."""

    def run(self, dag_id: str, run_id: str) -> RunFacts | None:
        """One run, with its delivery."""


@dataclass(frozen=True)
class Filters:
    """The page's filters; None or empty means 'any'."""

    destination: str | None = None
    kind: str | None = None
    format: str | None = None
    status: str | None = None
    frequency: str | None = None
    exported_from: date | None = None
    exported_to: date | None = None
    q: str | None = None  # export id, client or request id, case-insensitive substring

    @property
    def by_export_date(self) -> bool:
        return self.exported_from is not None or self.exported_to is not None


def frequency_label(config: ExportConfig) -> str:
    schedule = config.schedule
    if schedule.frequency == "recurring":
        return f"every {schedule.every_hours} h"
    return "one time" if schedule.frequency == "one_time" else "daily"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def incident_stage(state: ExportState | None) -> IncidentStage | None:
    """Where an open incident stands in its three emails, for the FAILING badge."""
    incident = state.incident if state else None
    if incident is None:
        return None
    sent = max(incident.emails_sent, default=0)
    return IncidentStage(
        emails_sent=sent,
        of=STOP_EMAIL,
        code=incident.code,
        explanation=incident.explanation,
        fix=incident.fix,
        opened_at=incident.opened_at.isoformat(),
        stops_at=incident.stop_at().isoformat(),
        stopped_at=_iso(incident.stopped_at),
    )


def status_of(
    config: ExportConfig,
    dag: DagFacts | None,
    last: RunFacts | None,
    state: ExportState | None,
    orphaned: bool = False,
) -> tuple[str, str]:
    """(status, one line saying why). Stopped beats failing (an open client incident) beats
    running beats failed (the latest finished run failed) beats done/pending. `orphaned`: Airflow
    still has no DAG for the config MISSING_GRACE after its file changed (its DAG file failed)."""
    incident = state.incident if state else None
    paused = dag.paused if dag is not None else not config.schedule.enabled
    if paused:
        if incident is not None and incident.stopped_at is not None:
            return "STOPPED", f"stopped by the failure policy ({incident.code}) after email 3"
        return "STOPPED", "paused" if config.schedule.enabled else "stopped by its config"
    if incident is not None:
        sent = max(incident.emails_sent, default=0)
        return (
            "FAILING",
            f"{incident.code}: email {sent} of {STOP_EMAIL} sent, "
            f"stops {incident.stop_at():%Y-%m-%d}",
        )
    if dag is not None and dag.active_runs:
        return "RUNNING", f"{dag.active_runs} run(s) in progress"
    if dag is None and orphaned:
        shard = shard_file(config.export_id)
        return "FAILED", f"no DAG in Airflow: its DAG file {shard} did not import or timed out"
    if dag is None:
        return "PENDING", "waiting for Airflow to parse its DAG"
    if last is not None and last.state == "failed":
        return "FAILED", failure_line(last.failure)
    if config.schedule.frequency == "one_time":
        if last is not None and last.state == "success":
            return "DONE", "delivered"
        return "PENDING", "runs only when asked: use Run once"
    return "PENDING", "awaiting the next run"


def failure_line(failure: FailureDetail | None) -> str:
    """`task upload [2] failed: ClientSideError (auth_failed)`, or as much of it as is known."""
    if not failure:
        return "the last run failed"
    index = failure.get("map_index", -1)
    task = failure["task_id"] + (f" [{index}]" if index not in (None, -1) else "")
    error = failure.get("error")
    code = f" ({failure['code']})" if failure.get("code") else ""
    return f"task {task} failed" + (f": {error}{code}" if error else "")


SCHEMA_EVENTS_SHOWN = 5  # event labels a row names; the View dialog's manifest has them all


def _count(value: object) -> int:
    return len(value) if isinstance(value, list | dict) else 0


def schema_summary(delivered: dict) -> SchemaSummary | None:
    """The row's view of a delivery's `schema_changes` (validate's summary: labels already,
    pipeline/schema.Delivery.summary), counted; None for a delivery without one. Read
    defensively: an XCom is whatever a task pushed, in any version."""
    changes = delivered.get("schema_changes")
    if not isinstance(changes, dict):
        return None
    base = changes.get("compared_with")
    columns = changes.get("columns") if isinstance(changes.get("columns"), dict) else {}
    diffs = [d for d in columns.values() if isinstance(d, dict)]
    dropped = changes.get("dropped") if isinstance(changes.get("dropped"), dict) else {}
    return SchemaSummary(
        compared_with=str(base.get("period")) if isinstance(base, dict) else None,
        changed=delivered.get("schema_changed") is True,
        events=[str(e) for e in sorted(columns)[:SCHEMA_EVENTS_SHOWN]],
        events_changed=len(columns),
        new_columns=sum(_count(d.get("new")) for d in diffs),
        vanished_columns=sum(_count(d.get("vanished")) for d in diffs),
        new_events=_count(changes.get("new_events")),
        vanished_events=_count(changes.get("vanished_events")),
        dropped=sum(n for n in dropped.values() if isinstance(n, int)),
    )


def delivery_summary(delivered: dict | None) -> DeliverySummary | None:
    """Files and bytes of a `validate` return value, old (names only) or new (files with sizes)."""
    if not isinstance(delivered, dict):
        return None
    files = delivered.get("files") or []
    sizes = [f.get("size") for f in files if isinstance(f, dict)]
    total = delivered.get("bytes")
    if total is None and sizes and all(isinstance(s, int) for s in sizes):
        total = sum(sizes)
    rows = delivered.get("rows_per_event") or {}
    return DeliverySummary(
        manifest=delivered.get("manifest"),
        request_id=delivered.get("request_id"),
        location=delivered.get("location"),
        files=len(files),
        bytes=total,
        rows=sum(v for v in rows.values() if isinstance(v, int)),
        schema=schema_summary(delivered),
    )


def run_summary(run: RunFacts | None) -> RunSummary | None:
    if run is None:
        return None
    period = {k: v for k, v in (run.conf or {}).items() if k in ONE_TIME_FIELDS and v}
    return RunSummary(
        run_id=run.run_id,
        state=run.state,
        logical_date=_iso(run.logical_date),
        run_after=_iso(run.run_after),
        finished_at=_iso(run.end_date),
        period=period or None,
        delivery=delivery_summary(run.delivered),
        failure=run.failure if run.state == "failed" else None,
    )


def actions_for(status: str, in_airflow: bool, delivered: bool) -> list[str]:
    """The buttons a row offers: Stop unless stopped or a one-time export is done, Resume when
    stopped (the API refuses it with the reason while the config says `enabled: false`)."""
    found = ["view"] if delivered else []
    if in_airflow and status not in ("STOPPED", "DONE"):
        found.append("stop")
    if in_airflow and status == "STOPPED":
        found.append("resume")
    if in_airflow:
        found.append("once")
    return [*found, "check"]


def _row(
    described: ExportDescription,
    status: str,
    detail: str,
    *,
    incident: IncidentStage | None = None,
    last_run: RunSummary | None = None,
    next_run: str | None = None,
    in_airflow: bool = False,
    actions: list[str] | None = None,
    error: list[str] | None = None,
) -> ExportRow:
    """The one place a row is assembled, for a loaded config and a broken file alike."""
    return ExportRow(
        **described,
        dag_id=dag_id_for(described["export_id"]),
        kind_label=KIND_LABELS.get(described["kind"] or ""),
        status=status,
        status_detail=detail,
        incident=incident,
        last_run=last_run,
        next_run=next_run,
        in_airflow=in_airflow,
        actions=actions or [],
        error=error,
    )


def describe(config: ExportConfig) -> ExportDescription:
    destination = config.destination
    return ExportDescription(
        export_id=config.export_id,
        client_id=config.client_id,
        destination=DestinationCell(
            type=destination.type, name=destination.display_name, conn_id=destination.conn_id
        ),
        kind=config.kind,
        format=config.format,
        profile=config.profile,
        frequency=config.schedule.frequency,
        frequency_label=frequency_label(config),
        timezone=config.schedule.timezone,
    )


def export_row(
    config: ExportConfig,
    dag: DagFacts | None,
    last: RunFacts | None,
    state: ExportState | None,
    orphaned: bool = False,
) -> ExportRow:
    status, detail = status_of(config, dag, last, state, orphaned)
    summary = run_summary(last)
    return _row(
        describe(config),
        status,
        detail,
        incident=incident_stage(state),
        last_run=summary,
        next_run=_iso(dag.next_run) if dag is not None and not dag.paused else None,
        in_airflow=dag is not None,
        actions=actions_for(status, dag is not None, bool(summary and summary["delivery"])),
    )


def _raw_fields(path: Path) -> dict:
    """Whatever a broken file says about itself, for filtering; never trusted beyond strings."""
    try:  # the config's own reader: size-capped, no FIFO, no duplicate keys
        data = yaml_reader.read(path)
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: Any) -> str | None:
    """A broken file's own string, unless it holds a control or bidi character."""
    return value if isinstance(value, str) and not unsafe_character(value) else None


def describe_broken(error: ConfigError) -> ExportDescription:
    """What a broken file's own text says, where it is a safe string."""
    raw = _raw_fields(error.path)
    destination = raw.get("destination") if isinstance(raw.get("destination"), dict) else {}
    schedule = raw.get("schedule") if isinstance(raw.get("schedule"), dict) else {}
    return ExportDescription(
        export_id=error.export_id,
        client_id=_text(raw.get("client_id")),
        destination=DestinationCell(
            type=_text(destination.get("type")),
            name=_text(destination.get("bucket")) or _text(destination.get("path")),
            conn_id=_text(destination.get("conn_id")),
        ),
        kind=_text(raw.get("kind")),
        format=_text(raw.get("format")),
        profile=_text(raw.get("profile")),
        frequency=_text(schedule.get("frequency")),
        frequency_label=_text(schedule.get("frequency")),
        timezone=_text(schedule.get("timezone")),
    )


def broken_row(error: ConfigError) -> ExportRow:
    return _row(
        describe_broken(error),
        "INVALID",
        "config does not load; the export does not run",
        error=[f"{printable(error.path.name)}: {m}" for m in error.messages],
    )


def _matches(row: ExportRow, filters: Filters) -> bool:
    checks = (
        (filters.destination, row["destination"]["type"]),
        (filters.kind, row["kind"]),
        (filters.format, row["format"]),
        (filters.status, row["status"]),
        (filters.frequency, row["frequency"]),
    )
    if any(wanted and wanted != value for wanted, value in checks):
        return False
    if filters.q:
        needle = filters.q.strip().lower()
        delivery = (row["last_run"] or {}).get("delivery") or {}
        haystack = [row["export_id"], row["client_id"], delivery.get("request_id")]
        return any(needle in str(value).lower() for value in haystack if value)
    return True


@dataclass(frozen=True)
class Page:
    total: int
    page: int
    page_size: int
    items: list[ExportRow]

    def to_dict(self) -> PageAnswer:
        return PageAnswer(
            total=self.total, page=self.page, page_size=self.page_size, items=self.items
        )


def list_exports(
    configs: Iterable[ExportConfig],
    errors: Iterable[ConfigError],
    source: StateSource,
    incidents: dict[str, ExportState],
    filters: Filters | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    visible: Callable[[set[str]], set[str]] | None = None,
    changed: Mapping[str, datetime] | None = None,
) -> Page:
    """One page of rows, sorted by export id, after the user's permissions and the filters.

    `visible` narrows a set of DAG ids to those the user may see (the auth manager's answer);
    Airflow state is read only for those, in one bulk call per kind of fact. `changed`: when
    each export's config file last changed (UTC), so a config Airflow has had no DAG for since
    MISSING_GRACE shows as failed, not as waiting for its first parse.
    """
    if page_size not in PAGE_SIZES:
        raise ValueError(f"page_size: one of {', '.join(map(str, PAGE_SIZES))}")
    if page < 1:
        raise ValueError("page: 1 or more")
    configs, errors = list(configs), list(errors)
    wanted = {c.dag_id for c in configs} | {dag_id_for(e.export_id) for e in errors}
    allowed = visible(wanted) if visible is not None else wanted
    configs = [c for c in configs if c.dag_id in allowed]
    errors = [e for e in errors if dag_id_for(e.export_id) in allowed]
    filters = filters or Filters()
    by_dag = {c.dag_id: c for c in configs}
    dags = source.dags(list(by_dag))
    # deliveries are the bulk of the data: read them for the page only, unless searching them
    last = source.last_runs(list(by_dag), deliveries=bool(filters.q))

    now = datetime.now(UTC)

    def row(config: ExportConfig) -> ExportRow:
        dag_id, export_id = config.dag_id, config.export_id
        since = (changed or {}).get(export_id)
        orphaned = since is not None and now - since >= MISSING_GRACE
        dag, state = dags.get(dag_id), incidents.get(export_id)
        return export_row(config, dag, last.get(dag_id), state, orphaned)

    rows = [row(c) for c in configs] + [broken_row(e) for e in errors]
    rows = [r for r in rows if _matches(r, filters)]
    if filters.by_export_date:
        first = filters.exported_from or date.min
        final = filters.exported_to or date.max
        exported = source.exported_between([r["dag_id"] for r in rows], first, final)
        rows = [r for r in rows if r["dag_id"] in exported]
    rows.sort(key=lambda r: r["export_id"])
    start = (page - 1) * page_size
    shown = rows[start : start + page_size]
    if not filters.q:
        last = source.last_runs([r["dag_id"] for r in shown if r["last_run"]])
        shown = [row(by_dag[r["dag_id"]]) if r["dag_id"] in last else r for r in shown]
    return Page(len(rows), page, page_size, shown)


def manifest_view(config: ExportConfig, run: RunFacts) -> ManifestView:
    """The View dialog: what one run delivered, file by file, and where."""
    delivered = run.delivered if isinstance(run.delivered, dict) else {}
    files = []
    for item in delivered.get("files") or []:
        if isinstance(item, dict):
            files.append(
                FileLine(
                    name=item.get("name"),
                    size=item.get("size"),
                    sha256=item.get("sha256"),
                    rows=item.get("rows"),
                )
            )
        else:  # older return value: names only
            files.append(FileLine(name=str(item), size=None, sha256=None, rows=None))
    summary = delivery_summary(delivered) if delivered else None
    return ManifestView(
        export_id=config.export_id,
        client_id=config.client_id,
        run=run_summary(run),
        request_id=delivered.get("request_id"),
        manifest=delivered.get("manifest"),
        location=delivered.get("location") or config.destination.location,
        files=files,
        bytes=summary["bytes"] if summary else None,
        rows_per_event=delivered.get("rows_per_event") or {},
        delivered=bool(delivered),
    )
