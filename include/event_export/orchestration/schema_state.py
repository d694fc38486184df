"""Where the previous delivery's schema lives: Airflow's own metadata, the `validate` task's XCom.

Why XCom: every worker can read it through the Task SDK (no local file, no extra store), it is
written by the task that published the manifest (so only complete deliveries leave one), and
Airflow removes it with its run. `extract` reads the latest record at or before its own run's
logical date (`include_prior_dates`), so a backfilled older day compares with the delivery before
it in time, and stages it for the run's other tasks (pipeline/schema.py).

Only runs with a logical date (scheduled runs, backfills) record: Airflow orders prior XComs by
logical date, and runs without one (a run-once of a period, one-time requests) would sort
differently on PostgreSQL and SQLite. Those runs still compare with the delivery before them.
"""

from __future__ import annotations

from typing import Any

from event_export.orchestration.task_ids import VALIDATE
from event_export.orchestration.xcom_reads import pull_maybe_absent
from event_export.pipeline import schema


def previous(context: Any) -> schema.Base | None:
    """The schema of the latest delivery at or before this run (its own recorded base when the
    latest record is this run's own, from an earlier try of a cleared run)."""
    # the first delivery has none: read without a request that would log its absence
    records = pull_maybe_absent(context, VALIDATE, schema.XCOM_KEY, latest_prior=True)
    return schema.base_of(records[0] if records else None, context["dag_run"].run_id)


def record(context: Any, summary: dict) -> dict:
    """Push the delivery's record (from `validate`'s result) for the next delivery; returns the
    summary without it. A run without a logical date records nothing (see above)."""
    kept = {k: v for k, v in summary.items() if k != "schema_record"}
    run = context["dag_run"]
    if summary.get("schema_record") and getattr(run, "logical_date", None) is not None:
        value = {**summary["schema_record"], "run_id": run.run_id}
        context["ti"].xcom_push(key=schema.XCOM_KEY, value=value)
    return kept
