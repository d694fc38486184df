"""A backfill plan handed to Airflow inside the api-server, as `POST /api/v2/backfills` does it.

The Exports page's API runs in the api-server, where the page's other actions (stop, resume,
run once) use Airflow's models directly after the auth manager has said yes; a backfill is
created the same way, with the functions Airflow's own backfill routes call
(`airflow.models.backfill`), so it is a real Airflow backfill: listed in Airflow's backfill
view, cancellable there, its runs of type `backfill`. Also the one read Resume needs: when the
export last delivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from event_export.scheduling.backfills import BackfillPlan
from event_export.scheduling.schedules import ONE_TIME_FIELDS

DELIVERING_RUN_TYPES = ("scheduled", "backfill", "manual")


class AirflowRefused(ValueError):
    """Airflow would not create the backfill (another one running, nothing to do, no DAG)."""


@dataclass(frozen=True)
class Created:
    backfill_id: int
    logical_dates: list[str]


def last_delivered_end(session: Session, dag_id: str) -> datetime | None:
    """The end of the newest data interval a successful run of `dag_id` delivered (scheduled,
    backfilled, or triggered with a logical date; a run-once of other days does not count)."""
    from airflow.models.dagrun import DagRun

    rows = session.execute(
        select(DagRun.data_interval_end, DagRun.conf)
        .where(
            DagRun.dag_id == dag_id,
            DagRun.state == "success",
            DagRun.run_type.in_(DELIVERING_RUN_TYPES),
            DagRun.data_interval_end.is_not(None),
        )
        .order_by(DagRun.data_interval_end.desc())
        .limit(50)
    ).all()
    for end, conf in rows:
        if not any((conf or {}).get(k) for k in ONE_TIME_FIELDS):
            return end
    return None


def _airflow_arguments(plan: BackfillPlan, reprocess: str) -> dict:
    """What Airflow's dry run and creation both take from a plan: the DAG, its logical dates
    (oldest first) and the reprocess rule."""
    from airflow.models.backfill import ReprocessBehavior

    return {
        "dag_id": plan.dag_id,
        "from_date": plan.from_date,
        "to_date": plan.to_date,
        "reverse": False,
        "reprocess_behavior": ReprocessBehavior(reprocess),
    }


@contextmanager
def _refusals() -> Iterator[None]:
    """Airflow's refusal (another backfill running, nothing to run, no DAG) as AirflowRefused."""
    from airflow.exceptions import AirflowException

    try:
        yield
    except (AirflowException, ValueError) as exc:
        raise AirflowRefused(str(exc)) from exc


def dry_run(session: Session, plan: BackfillPlan, reprocess: str) -> list[str]:
    """The logical dates Airflow would create runs for (it skips days already run, unless
    `reprocess` says otherwise), oldest first."""
    from airflow.models.backfill import _do_dry_run

    with _refusals():
        infos = _do_dry_run(**_airflow_arguments(plan, reprocess), session=session)
        return [info.logical_date.isoformat() for info in infos]


def create(plan: BackfillPlan, reprocess: str, max_active_runs: int, user_name: str) -> Created:
    """Create the backfill; the scheduler then runs it, `max_active_runs` at a time."""
    from airflow.models.backfill import BackfillDagRun, _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with _refusals():
        backfill = _create_backfill(
            **_airflow_arguments(plan, reprocess),
            max_active_runs=max_active_runs,
            dag_run_conf=None,
            triggering_user_name=user_name,
            run_on_latest_version=True,
        )
    with create_session() as session:
        dates = session.scalars(
            select(DagRun.logical_date)
            .join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
            .where(BackfillDagRun.backfill_id == backfill.id)
            .order_by(DagRun.logical_date)
        ).all()
    return Created(backfill.id, [d.isoformat() for d in dates])
