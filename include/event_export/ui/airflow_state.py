"""The Exports page's `StateSource` on Airflow's metadata database, plus its actions.

The page must answer quickly for a thousand exports, so every fact is one query for all DAGs
(DAG rows, active runs, latest finished runs, their `validate` XComs, the failed runs' failed
tasks and `failure` XComs), never one per export. It runs inside the api-server, which may use
the ORM (task code may not). Stop, resume and run-once do what the core REST API's PATCH and POST
dagRuns do, with the same models.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from event_export.orchestration import task_ids
from event_export.orchestration.failure_reports import FAILURE_KEY
from event_export.ui.exports_catalog import DagFacts, RunFacts
from event_export.ui.payloads import FailureDetail

ACTIVE_STATES = ("queued", "running")
FINISHED_STATES = ("success", "failed")
DAG_RUN = DagRun.__table__
RUN_COLUMNS = tuple(
    DAG_RUN.c[name]
    for name in ("id", "dag_id", "run_id", "state", "run_after", "logical_date", "end_date", "conf")
)
BRIEF_COLUMNS = RUN_COLUMNS[:4]  # enough for status; the page's rows are read in full


def _dag_models(session: Session, dag_ids: Collection[str]):
    return session.execute(
        select(DagModel.dag_id, DagModel.is_paused, DagModel.next_dagrun_create_after).where(
            DagModel.dag_id.in_(list(dag_ids)), ~DagModel.is_stale
        )
    ).all()


def _text(value) -> str | None:
    return value[:100] if isinstance(value, str) else None


def _delivered(value) -> dict | None:
    if value is None:
        return None
    result = XComModel.deserialize_value(SimpleNamespace(value=value))  # it reads `.value`
    return result if isinstance(result, dict) else None


class MetadataState:
    """Bulk reads on a SQLAlchemy session of Airflow's metadata database."""

    def __init__(self, session: Session):
        self.session = session

    def dags(self, dag_ids: Collection[str]) -> dict[str, DagFacts]:
        if not dag_ids:
            return {}
        active = dict(
            self.session.execute(
                select(DagRun.dag_id, func.count())
                .where(DagRun.dag_id.in_(list(dag_ids)), DagRun.state.in_(ACTIVE_STATES))
                .group_by(DagRun.dag_id)
            ).all()
        )
        return {
            dag_id: DagFacts(bool(paused), next_run, int(active.get(dag_id, 0)))
            for dag_id, paused, next_run in _dag_models(self.session, dag_ids)
        }

    def is_paused(self, dag_id: str) -> bool:
        """Whether the DAG is paused (stopped); False for a DAG Airflow does not know."""
        paused = self.session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id))
        return bool(paused)

    def last_runs(self, dag_ids: Collection[str], deliveries: bool = True) -> dict[str, RunFacts]:
        if not dag_ids:
            return {}
        ranked = (
            select(
                DagRun.id,
                func.row_number()
                .over(
                    partition_by=DagRun.dag_id, order_by=(DagRun.run_after.desc(), DagRun.id.desc())
                )
                .label("rank"),
            )
            .where(DagRun.dag_id.in_(list(dag_ids)), DagRun.state.in_(FINISHED_STATES))
            .subquery()
        )
        columns = RUN_COLUMNS if deliveries else BRIEF_COLUMNS
        runs = self.session.execute(
            select(*columns).join(ranked, and_(ranked.c.id == DAG_RUN.c.id, ranked.c.rank == 1))
        ).all()
        return self._with_deliveries(runs, deliveries)

    def exported_between(self, dag_ids: Collection[str], first: date, last: date) -> set[str]:
        if not dag_ids:
            return set()
        start = datetime.combine(max(first, date(1970, 1, 2)), time(), UTC)
        end = datetime.combine(min(last, date(9998, 12, 30)) + timedelta(days=1), time(), UTC)
        found = self.session.execute(
            select(DagRun.dag_id)
            .where(
                DagRun.dag_id.in_(list(dag_ids)),
                DagRun.state == "success",
                DagRun.end_date >= start,
                DagRun.end_date < end,
            )
            .distinct()
        ).scalars()
        return set(found)

    def run(self, dag_id: str, run_id: str) -> RunFacts | None:
        found = self.session.execute(
            select(*RUN_COLUMNS).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        ).all()
        return self._with_deliveries(found, True).get(dag_id)

    def _with_deliveries(self, runs: list, deliveries: bool) -> dict[str, RunFacts]:
        """Runs as RunFacts; with `deliveries`, one XCom query for all their `validate` values."""
        ids = [r.id for r in runs if r.state == "success"]
        values = {}
        if ids and deliveries:
            values = dict(
                self.session.execute(
                    select(XComModel.dag_run_id, XComModel.value).where(
                        XComModel.dag_run_id.in_(ids),
                        XComModel.task_id == task_ids.VALIDATE,
                        XComModel.key == "return_value",
                        XComModel.map_index == -1,
                    )
                ).all()
            )
        failures = self._failures([r.id for r in runs if r.state == "failed"]) if deliveries else {}
        return {
            r.dag_id: RunFacts(
                run_id=r.run_id,
                state=r.state,
                run_after=getattr(r, "run_after", None),
                logical_date=getattr(r, "logical_date", None),
                end_date=getattr(r, "end_date", None),
                conf=dict(getattr(r, "conf", None) or {}),
                delivered=_delivered(values.get(r.id)),
                failure=failures.get(r.id),
            )
            for r in runs
        }

    def _failures(self, run_ids: list[int]) -> dict[int, FailureDetail]:
        """Each failed run's first failed task (by end date) and the class its `failure` XCom
        names (failure_reports.py): two queries for all runs. A task killed before it could
        push (a timeout, a lost worker) has no class; its id is still shown."""
        if not run_ids:
            return {}
        failed = self.session.execute(
            select(DagRun.id, TaskInstance.task_id, TaskInstance.map_index)
            .join(
                DagRun,
                and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id),
            )
            .where(DagRun.id.in_(run_ids), TaskInstance.state == "failed")
            .order_by(DagRun.id, TaskInstance.end_date, TaskInstance.task_id)
        ).all()
        records = {
            (x.dag_run_id, x.task_id, x.map_index): _delivered(x.value)
            for x in self.session.execute(
                select(
                    XComModel.dag_run_id, XComModel.task_id, XComModel.map_index, XComModel.value
                ).where(XComModel.dag_run_id.in_(run_ids), XComModel.key == FAILURE_KEY)
            )
        }
        found: dict[int, FailureDetail] = {}
        for run_id, task_id, map_index in failed:
            if run_id in found:
                continue
            record = records.get((run_id, task_id, map_index)) or {}
            found[run_id] = FailureDetail(
                task_id=task_id,
                map_index=map_index,
                error=_text(record.get("error")),
                code=_text(record.get("code")),
            )
        return found


def pause(session: Session, dag_id: str, paused: bool = True) -> bool:
    """Pause (or, with paused=False, resume) a DAG as PATCH /api/v2/dags/{id} does; False when
    there is no such DAG. Committed here, before the answer: FastAPI closes the session's
    dependency (which commits) only after the response is sent, and the page reloads its rows as
    soon as it has the answer, so it could read the old state."""
    done = session.execute(
        update(DagModel)
        .where(DagModel.dag_id == dag_id, ~DagModel.is_stale)
        .values(is_paused=paused)
    )
    session.commit()
    return bool(done.rowcount)


class TriggerRefused(ValueError):
    """Airflow would not create the run (no such DAG, import errors, conf refused)."""


def trigger(session: Session, dag_id: str, conf: dict, user_name: str) -> str:
    """Create a manual run with `conf`, as POST /api/v2/dags/{id}/dagRuns does; its run id."""
    from airflow.api_fastapi.common.dagbag import DBDagBag
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.exceptions import ParamValidationError
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    model = session.scalar(select(DagModel).where(DagModel.dag_id == dag_id, ~DagModel.is_stale))
    if model is None:
        raise TriggerRefused(f"{dag_id} is not in Airflow (yet)")
    if model.has_import_errors:
        raise TriggerRefused(f"{dag_id} has import errors")
    dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
    if dag is None:
        raise TriggerRefused(f"{dag_id} is not in Airflow (yet)")
    body = TriggerDAGRunPostBody(logical_date=None, conf=conf)
    try:
        params = body.validate_context(dag)
        run = dag.create_dagrun(
            run_id=params["run_id"],
            logical_date=params["logical_date"],
            data_interval=params["data_interval"],
            run_after=params["run_after"],
            conf=params["conf"],
            run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.UI,
            triggering_user_name=user_name,
            state=DagRunState.QUEUED,
            partition_key=params["partition_key"],
            partition_date=params["partition_date"],
            session=session,
        )
    except (ParamValidationError, ValueError) as exc:
        raise TriggerRefused(str(exc)) from exc
    session.commit()  # before the answer, as in `pause`: the page reloads its rows at once
    return run.run_id
