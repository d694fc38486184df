"""Build one Airflow DAG from one export config. The pipeline's shape is fixed; the config fills it.

[check_request ->] check_destination -> extract -> split_by_event -> format (mapped per shard:
several small events, or a row range of a large one) -> chunk -> upload (mapped per batch of
files, in the destination's pool) -> validate. Every task weighs by the
export's deadline (scheduling/priorities.py). The destination is probed before any data is read,
and a one-time request is checked before that. Tasks are thin: each rebuilds the ExportRun from
the config and calls one stage. Both naming profiles share the shape: `chunk` zips the day
(daily_zip) or names the size-limited files the format tasks cut (gcp_export); a profile export
has one part, the day's snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.timetables.trigger import CronTriggerTimetable

from event_export.alerts.deadlines import deadline_alert
from event_export.config.model import ExportConfig, load_all
from event_export.destinations import check as destination_check
from event_export.orchestration import schema_state, task_ids
from event_export.orchestration.airflow_api import paused_through_api
from event_export.orchestration.failure_reports import reports_client_errors, reports_failures
from event_export.orchestration.notify_callbacks import NotifyCallbacks, callbacks_for
from event_export.orchestration.pools import ensure_export_pool
from event_export.orchestration.xcom_reads import pull_maybe_absent
from event_export.scheduling import rules
from event_export.scheduling.priorities import WEIGHT_RULE, priority_weight, upload_pool
from event_export.scheduling.schedules import (
    ONE_TIME_FIELDS,
    RequestRefused,
    daily_run_period,
    hours_period,
    last_block_before,
    one_time_period,
    recurring_cron,
    recurring_hours,
)
from event_export.scheduling.trigger_form import one_time_params
from event_export.scheduling.windows import Window
from event_export.settings import exports_dir

if TYPE_CHECKING:  # the hand-offs' types only annotate: XCom keeps one value per task (no
    # `multiple_outputs` inferred from a dict type), which is all its readers pull; a task
    # annotated `-> dict` says `multiple_outputs=False` (ONE_VALUE) for the same reason
    from event_export.pipeline.handoffs import Extracted, Formatted, Shard, UploadBatch
    from event_export.pipeline.run import ExportRun

DEFAULT_RETRIES = 2
# A task returning a dict keeps it as one XCom value: TaskFlow would otherwise also push each key
# as an XCom of its own, which no reader pulls (one execution-API call and one row each: 13 for
# every validate, 6 for every check_destination)
ONE_VALUE = {"multiple_outputs": False}
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
    """The period this run covers: its logical date (scheduled), or the one-time period asked
    for by the trigger form (one-time exports) or by a run-once's `conf` (any export)."""
    from event_export.pipeline.run import ExportRun  # here: it brings pyarrow, which parsing skips

    context = get_current_context()
    dag_run = context["dag_run"]
    when = context.get("logical_date") or dag_run.run_after
    schedule = config.schedule
    run_once = {k: v for k, v in (dag_run.conf or {}).items() if k in ONE_TIME_FIELDS}
    if schedule.frequency == "one_time" or run_once.get("period"):
        asked = {**dict(context["params"]), **run_once}
        try:
            period = one_time_period(asked, dag_run.run_after, config.tz)
        except RequestRefused as exc:  # the asker's mistake: retrying cannot help
            raise AirflowFailException(f"one-time export refused: {exc}") from exc
        return ExportRun.for_period(config, period)
    if schedule.frequency == "recurring":
        block = _block(context, config)
        return ExportRun.for_period(config, hours_period(block, schedule.every_hours, config.tz))
    return ExportRun.for_period(config, daily_run_period(when, config.tz))


def _block(context, config: ExportConfig) -> Window:
    """A recurring run's window: its data interval (scheduled runs, and manual runs given a
    logical date), else the last block that ended before the run was triggered."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        return Window(start, end)
    every = config.schedule.every_hours
    return last_block_before(context["dag_run"].run_after, every, config.tz)


def timetable_for(config: ExportConfig):
    """Daily at local midnight; recurring on local blocks from midnight; one-time: none.

    Recurring exports use a cron *data-interval* timetable firing at local hours 0, N, 2N, ...:
    its data interval is `[previous fire, this fire)`, contiguous and aligned to the zone's
    midnight whenever the DAG was deployed, restarted or unpaused (with catchup off, the scheduler
    skips to the latest complete block, still on the grid).
    """
    schedule = config.schedule
    if schedule.frequency == "daily":
        return CronTriggerTimetable("0 0 * * *", timezone=schedule.timezone)
    if schedule.frequency == "recurring":
        return CronDataIntervalTimetable(
            recurring_cron(schedule.every_hours), timezone=schedule.timezone
        )
    return None


def first_run_at(config: ExportConfig) -> datetime:
    """The DAG's start date: the daily trigger covering the start date, or the start of the first
    recurring block (a data-interval timetable's start date is its first interval's start)."""
    start = config.schedule.start_date
    midnight = datetime(start.year, start.month, start.day, tzinfo=config.tz)
    if config.schedule.frequency == "daily":
        return midnight + timedelta(days=1)
    return midnight  # recurring: the first block starts at the start date's local midnight


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
        when = (
            f"Runs at local hours {','.join(map(str, recurring_hours(hours)))} "
            f"({schedule.timezone}), "
            f"each covering the block since the previous one: "
            f"[local midnight + k*{hours} h, + {hours} h)."
        )
    else:
        when = (
            "One-time export: use *Trigger* and choose a day, a date range, the previous or the "
            f"current month ({schedule.timezone} days, within the last 60 days)."
        )
    stopped = (
        "" if schedule.enabled else "\n\n**Stopped** by its config (`schedule.enabled: false`)."
    )
    return head + when + stopped


def dag_arguments(
    config: ExportConfig, source: Path, callbacks: NotifyCallbacks | None = None
) -> dict:
    """Everything the config decides about the DAG: `DAG(**dag_arguments(...))` is the cheap
    check that a config builds (the tasks below are the same for every export). `callbacks`:
    the export's notification callbacks when the caller already has them."""
    callbacks = callbacks_for(config) if callbacks is None else callbacks
    alert = deadline_alert(config)
    optional = {"deadline": alert} if alert is not None else {}
    return dict(
        dag_id=config.dag_id,
        schedule=timetable_for(config),
        start_date=first_run_at(config),
        catchup=False,
        max_active_runs=4,
        tags=tags_for(config),
        doc_md=_doc(config, source),
        params=one_time_params() if config.schedule.frequency == "one_time" else None,
        # explicit, whatever the deployment's [core] dags_are_paused_at_creation says
        is_paused_upon_creation=not config.schedule.enabled,
        **optional,
        default_args={
            "retries": DEFAULT_RETRIES,
            "retry_delay": timedelta(minutes=2),
            "retry_exponential_backoff": True,
            **callbacks.dag,  # notify.webhooks / notify.slack: the failed event
            # deadline first when the deployment cannot run everything at once (priorities.py)
            "priority_weight": priority_weight(config, datetime.now(UTC).date()),
            "weight_rule": WEIGHT_RULE,
        },
    )


def build_dag(config: ExportConfig, source: Path) -> DAG:
    callbacks = callbacks_for(config)
    with DAG(**dag_arguments(config, source, callbacks)) as dag:

        @task(task_id=task_ids.CHECK_DESTINATION, **ONE_VALUE)
        @reports_client_errors
        def check_destination() -> dict:
            """Credentials, bucket or folder, a probe written and deleted: before any data.
            First the export's upload pool, if missing (a new export's uploads would wait)."""
            ensure_export_pool(config)
            return destination_check.check_before_run(config.destination, config.encrypt)

        @task(task_id=task_ids.EXTRACT)
        @reports_failures
        def extract() -> Extracted:
            from event_export.pipeline.lake import LakeNotFoundError  # pyarrow: not at parse

            # the previous delivery's schema, staged for the run's format and validate
            try:
                return _run(config).extract(schema_state.previous(get_current_context()))
            except LakeNotFoundError as exc:  # a wrong source: on-call's, at once, no retries
                raise AirflowFailException(str(exc)) from exc

        @task(task_id=task_ids.SPLIT_BY_EVENT)
        @reports_failures
        def split_by_event(extracted: Extracted) -> list[Shard]:
            return _run(config).split(extracted)

        @task(task_id=task_ids.FORMAT, map_index_template="{{ task.op_kwargs['shard']['label'] }}")
        @reports_failures
        def format(shard: Shard) -> list[Formatted]:
            return _run(config).format_shard(shard)

        @task(task_id=task_ids.CHUNK, trigger_rule="none_failed")
        @reports_failures
        def chunk(formatted: list[list[Formatted]]) -> list[UploadBatch]:
            # `formatted` wires the mapped format tasks upstream; their results are read in one
            # request that cannot log "XCom not found" (xcom_reads.py), none on an empty day
            shards: list[list[Formatted]] = pull_maybe_absent(
                get_current_context(), task_ids.FORMAT
            )
            run = _run(config)
            return run.upload_batches(run.package([f for shard in shards for f in shard]))

        @task(
            task_id=task_ids.UPLOAD,
            map_index_template="{{ task.op_kwargs['batch']['label'] }}",
            pool=upload_pool(config),  # caps concurrent uploads to this destination
        )
        @reports_client_errors
        def upload(batch: UploadBatch) -> list[str]:
            return _run(config).upload_batch(batch)

        @task(task_id=task_ids.VALIDATE, **ONE_VALUE, **callbacks.validate)  # the delivered event
        @reports_client_errors
        def validate(batches: list[UploadBatch], uploaded: list[list[str]]) -> dict:
            """Check the delivery, publish the manifest, then release the run's staging."""
            run = _run(config)
            files = [f for batch in batches for f in batch["files"]]
            summary = schema_state.record(get_current_context(), run.validate(files))
            return {**summary, "period": run.covered.key, "staging": run.release_staging()}

        extracted = extract()
        checked = check_destination()
        if config.schedule.frequency == "one_time":

            @task(task_id=task_ids.CHECK_REQUEST, **ONE_VALUE)
            @reports_failures
            def check_request() -> dict:
                """Refuse a request outside the allowed periods, or a one-time profile export
                while a scheduled one of the client is active, before any work is done."""
                period = _run(config).covered  # refuses a bad period itself (see _run)
                others = load_all(exports_dir())[0].values()
                if refusal := rules.profile_export_refusal(config, others, paused_through_api):
                    raise AirflowFailException(f"one-time export refused: {refusal}")
                return {"from": period.first_day.isoformat(), "to": period.last_day.isoformat()}

            check_request() >> checked
        checked >> extracted
        shards = split_by_event(extracted)
        batches = chunk(format.expand(shard=shards))
        validate(batches, upload.expand(batch=batches))
    return dag
