"""Build one Airflow DAG from one export config. The pipeline's shape is fixed; the config fills it.

extract -> split_by_event -> format (mapped per event) -> chunk -> upload (mapped per file) ->
validate. Tasks are thin: each rebuilds the ExportRun from the config and calls one stage. Both
naming profiles share the shape: `chunk` zips the day (daily_zip) or names the size-limited files
the format tasks cut (gcp_export); a profile export has one part, the day's snapshot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.trigger import CronTriggerTimetable, DeltaTriggerTimetable

from event_export.config import ExportConfig
from event_export.deadlines import deadline_alert
from event_export.failure_reports import reports_client_errors
from event_export.pipeline import ExportRun
from event_export.schedules import (
    RequestRefused,
    daily_run_period,
    hours_period,
    one_time_period,
)
from event_export.trigger_form import one_time_params

DEFAULT_RETRIES = 2
STOPPED_TAG = "stopped"


def tags_for(config: ExportConfig) -> list[str]:
    """Tags the Airflow UI filters on: destination, format, kind, frequency, client."""
    return [
        f"client:{config.client_id}",
        f"destination:{config.destination.type}",
        f"format:{config.format}",
        f"frequency:{config.schedule.frequency}",
        f"kind:{config.kind}",
        f"profile:{config.profile}",
        *([] if config.schedule.enabled else [STOPPED_TAG]),
    ]


def _run(config: ExportConfig) -> ExportRun:
    """The period this run covers, from its logical date (scheduled) or its form (one-time)."""
    context = get_current_context()
    when = context.get("logical_date") or context["dag_run"].run_after
    schedule = config.schedule
    if schedule.frequency == "recurring":
        return ExportRun.for_period(config, hours_period(when, schedule.every_hours, config.tz))
    if schedule.frequency == "one_time":
        asked = dict(context["params"])
        return ExportRun.for_period(
            config, one_time_period(asked, context["dag_run"].run_after, config.tz)
        )
    return ExportRun.for_period(config, daily_run_period(when, config.tz))


def timetable_for(config: ExportConfig):
    """Daily at local midnight; recurring every N hours from local midnight; one-time: none."""
    schedule = config.schedule
    if schedule.frequency == "daily":
        return CronTriggerTimetable("0 0 * * *", timezone=schedule.timezone)
    if schedule.frequency == "recurring":
        return DeltaTriggerTimetable(timedelta(hours=schedule.every_hours))
    return None


def first_run_at(config: ExportConfig) -> datetime:
    """The first trigger: the run that covers the start date's first day (or first hours)."""
    start = config.schedule.start_date
    midnight = datetime(start.year, start.month, start.day, tzinfo=config.tz)
    if config.schedule.frequency == "daily":
        return midnight + timedelta(days=1)
    if config.schedule.frequency == "recurring":
        return midnight + timedelta(hours=config.schedule.every_hours)
    return midnight


def _doc(config: ExportConfig, source: Path) -> str:
    schedule = config.schedule
    head = (
        f"Export **{config.export_id}** for client **{config.client_id}**, built from "
        f"`{source.name}`. {config.description} Files: profile `{config.profile}`, format "
        f"`{config.format}`, kind `{config.kind}`.\n\n"
    )
    if schedule.frequency == "daily":
        when = (
            f"Each run covers the previous calendar day in {schedule.timezone} and is due by "
            f"{schedule.deadline:%H:%M} local time the next morning."
        )
    elif schedule.frequency == "recurring":
        hours = schedule.every_hours
        when = f"Runs every {hours} hours, each covering the {hours} hours before it."
    else:
        when = (
            "One-time export: use *Trigger* and choose a day, a date range, the previous or the "
            f"current month ({schedule.timezone} days, within the last 60 days)."
        )
    stopped = (
        "" if schedule.enabled else "\n\n**Stopped** by its config (`schedule.enabled: false`)."
    )
    return head + when + stopped


def build_dag(config: ExportConfig, source: Path) -> DAG:
    alert = deadline_alert(config)
    optional = {"deadline": alert} if alert is not None else {}
    with DAG(
        dag_id=config.dag_id,
        schedule=timetable_for(config),
        start_date=first_run_at(config),
        catchup=False,
        max_active_runs=4,
        tags=tags_for(config),
        doc_md=_doc(config, source),
        params=one_time_params() if config.schedule.frequency == "one_time" else None,
        is_paused_upon_creation=True if not config.schedule.enabled else None,
        **optional,
        default_args={
            "retries": DEFAULT_RETRIES,
            "retry_delay": timedelta(minutes=2),
            "retry_exponential_backoff": True,
        },
    ) as dag:

        @task
        def extract() -> dict:
            return _run(config).extract()

        @task
        def split_by_event(extracted: dict) -> list[dict]:
            return _run(config).split(extracted["path"])

        @task(map_index_template="{{ task.op_kwargs['part']['event'] }}")
        def format(part: dict) -> dict:
            return _run(config).format(part)

        @task(trigger_rule="none_failed")
        def chunk(formatted: list[dict]) -> list[dict]:
            return _run(config).package(list(formatted or []))

        @task(map_index_template="{{ task.op_kwargs['file']['name'] }}")
        @reports_client_errors
        def upload(file: dict) -> str:
            return _run(config).upload(file)

        @task
        @reports_client_errors
        def validate(files: list[dict], uploaded: list[str]) -> dict:
            return _run(config).validate(files)

        extracted = extract()
        if config.schedule.frequency == "one_time":

            @task
            def check_request() -> dict:
                """Refuse a request outside the allowed periods before any work is done."""
                try:
                    period = _run(config).covered
                except RequestRefused as exc:
                    raise AirflowFailException(f"one-time export refused: {exc}") from exc
                return {"from": period.first_day.isoformat(), "to": period.last_day.isoformat()}

            check_request() >> extracted
        parts = split_by_event(extracted)
        files = chunk(format.expand(part=parts))
        validate(files, upload.expand(file=files))
    return dag
