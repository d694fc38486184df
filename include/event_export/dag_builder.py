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
from airflow.timetables.trigger import CronTriggerTimetable

from event_export.config import ExportConfig
from event_export.pipeline import ExportRun

DEFAULT_RETRIES = 2


def tags_for(config: ExportConfig) -> list[str]:
    """Tags the Airflow UI filters on: destination, format, kind, frequency, client."""
    return [
        f"client:{config.client_id}",
        f"destination:{config.destination.type}",
        f"format:{config.format}",
        f"frequency:{config.schedule.frequency}",
        f"kind:{config.kind}",
        f"profile:{config.profile}",
    ]


def _run(config: ExportConfig) -> ExportRun:
    context = get_current_context()
    when = context.get("logical_date") or context["dag_run"].run_after
    return ExportRun.for_logical_date(config, when)


def build_dag(config: ExportConfig, source: Path) -> DAG:
    tz = config.schedule.timezone
    start = config.schedule.start_date
    doc = (
        f"Export **{config.export_id}** for client **{config.client_id}**, built from "
        f"`{source.name}`. {config.description}\n\nEach run covers the previous calendar day in "
        f"{tz} and is due by {config.schedule.deadline:%H:%M} local time the next morning. "
        f"Files: profile `{config.profile}`, format `{config.format}`, kind `{config.kind}`."
    )
    with DAG(
        dag_id=config.dag_id,
        schedule=CronTriggerTimetable("0 0 * * *", timezone=tz),
        start_date=datetime(start.year, start.month, start.day) + timedelta(days=1),
        catchup=False,
        max_active_runs=4,
        tags=tags_for(config),
        doc_md=doc,
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
        def upload(file: dict) -> str:
            return _run(config).upload(file)

        @task
        def validate(files: list[dict], uploaded: list[str]) -> dict:
            return _run(config).validate(files)

        parts = split_by_event(extract())
        files = chunk(format.expand(part=parts))
        validate(files, upload.expand(file=files))
    return dag
