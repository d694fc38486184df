"""The Exports page's JSON shapes, declared once: the catalog builds them, the API returns them.

The page's JavaScript, `ees` and scripts read these keys, so a key renamed or dropped in one
builder would break them silently; as `TypedDict`s the builders are checked against one
declaration and stay plain dicts, which the API returns as they are. What the `validate` task
returns (a run's delivery) is the pipeline's XCom and is read here, not declared.
"""

from __future__ import annotations

from typing import TypedDict


class DestinationCell(TypedDict):
    """Where an export delivers: its type and the name the page shows."""

    type: str | None
    name: str | None  # nickname, else bucket, else connection id (a broken file: bucket or path)
    conn_id: str | None


class IncidentStage(TypedDict):
    """Where an open client-side incident stands in its emails (the FAILING badge)."""

    emails_sent: int
    of: int  # the email that stops the export
    code: str
    explanation: str
    fix: str
    opened_at: str
    stops_at: str
    stopped_at: str | None


class FailureDetail(TypedDict):
    """A failed run's first failed task and the error its `failure` XCom names."""

    task_id: str
    map_index: int | None
    error: str | None  # the exception's class
    code: str | None  # a client-side error's code


class SchemaSummary(TypedDict):
    """A delivery's `schema_changes`, counted for the row (labels only, never a raw name)."""

    compared_with: str | None  # the period of the delivery compared with; None: the first
    changed: bool  # schema_changed: a column came or went in an event of both deliveries
    events: list[str]  # the first SCHEMA_EVENTS_SHOWN events with changed columns, by label
    events_changed: int
    new_columns: int
    vanished_columns: int
    new_events: int
    vanished_events: int
    dropped: int  # columns `schema: locked` left out


class DeliverySummary(TypedDict):
    """What a successful run delivered, summed for the row."""

    manifest: str | None
    request_id: str | None
    location: str | None
    files: int
    bytes: int | None
    rows: int
    schema: SchemaSummary | None  # None: a delivery from before the schema contract


class RunSummary(TypedDict):
    run_id: str
    state: str
    logical_date: str | None
    run_after: str | None
    finished_at: str | None
    period: dict[str, str] | None  # a one-time run's requested days
    delivery: DeliverySummary | None
    failure: FailureDetail | None


class ExportDescription(TypedDict):
    """What a config file says about its export (a broken file: whatever of it is readable)."""

    export_id: str
    client_id: str | None
    destination: DestinationCell
    kind: str | None
    format: str | None
    profile: str | None
    frequency: str | None
    frequency_label: str | None
    timezone: str | None


class ExportRow(ExportDescription):
    """One row of the page: a config file, good or broken (status INVALID, `error` set)."""

    dag_id: str
    kind_label: str | None
    status: str
    status_detail: str
    incident: IncidentStage | None
    last_run: RunSummary | None
    next_run: str | None
    in_airflow: bool
    actions: list[str]  # view, stop, resume, once, check
    error: list[str] | None  # a broken file's `file: field: message` lines


class PageAnswer(TypedDict):
    """`GET /api/exports`."""

    total: int
    page: int
    page_size: int
    items: list[ExportRow]


class FileLine(TypedDict):
    name: str
    size: int | None
    sha256: str | None
    rows: int | None


class ManifestView(TypedDict):
    """`GET /api/exports/{id}/runs/{run_id}/manifest`: the View dialog."""

    export_id: str
    client_id: str
    run: RunSummary | None
    request_id: str | None
    manifest: str | None
    location: str | None
    files: list[FileLine]
    bytes: int | None
    rows_per_event: dict[str, int]
    delivered: bool


class ConfigText(TypedDict):
    """The export's YAML as committed, shown read-only in View."""

    path: str
    yaml: str


class ManifestAnswer(ManifestView):
    """The View dialog's answer: the run's manifest view and the config it ran from."""

    config: ConfigText | None


# client days, both ends included, as ISO dates (`from` is a keyword: the functional form)
DayRange = TypedDict("DayRange", {"from": str, "to": str})


class StateChange(TypedDict):
    """`POST …/stop` and `…/resume`."""

    message: str  # "export stopped" | "export resumed"
    export_id: str
    status: str


class ResumeAnswer(StateChange):
    missed: DayRange | None  # the client days missed while stopped, offered as a backfill


class RunOnceAnswer(TypedDict):
    """`POST …/run-once`."""

    message: str  # "export initiated"
    request_id: str
    run_id: str
    period: DayRange
