"""The Exports page as a FastAPI app that Airflow's api-server mounts (plugins/exports_plugin.py).

Behind Airflow's own authentication: every route takes the user from Airflow's token (the
`Authorization: Bearer` header, or the `_token` cookie the Airflow UI sets, which the page inside
the UI's iframe sends along), and the auth manager decides which export DAGs the user may see,
stop or resume (PUT on the DAG) or run (POST on its runs), as it does for Airflow's own REST
API. Every state-changing route first refuses what another origin could send
(`request_guard.py`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from event_export.alerts.incidents import IncidentStore
from event_export.config.model import (
    DESTINATION_TYPES,
    FORMATS,
    FREQUENCIES,
    ConfigError,
    ExportConfig,
    config_files,
    dag_id_for,
    load_all,
    load_or_error,
)
from event_export.destinations.check import check_destination
from event_export.pipeline import naming
from event_export.scheduling import backfills, rules
from event_export.scheduling.schedules import (
    ONE_TIME_MODES,
    Period,
    RequestRefused,
    one_time_period,
)
from event_export.settings import exports_dir
from event_export.ui import backfill_airflow
from event_export.ui.airflow_state import MetadataState, TriggerRefused, pause, trigger
from event_export.ui.exports_catalog import (
    DEFAULT_PAGE_SIZE,
    KIND_LABELS,
    PAGE_SIZES,
    STATUSES,
    Filters,
    list_exports,
    manifest_view,
    status_of,
)
from event_export.ui.exports_page import render
from event_export.ui.payloads import (
    ConfigText,
    ManifestAnswer,
    PageAnswer,
    ResumeAnswer,
    RunOnceAnswer,
    StateChange,
)
from event_export.ui.request_guard import same_origin_only


class _ConfigCache:
    """Parsed configs keyed by file and (mtime, size): a page load re-reads only changed files."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[tuple[int, int] | None, ExportConfig | ConfigError]] = {}

    def _load(self, path: Path) -> ExportConfig | ConfigError:
        try:
            stat = path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:  # a dangling link: its error row is read again on every call
            stamp = None
        cached = self._seen.get(path)
        if cached is None or stamp is None or cached[0] != stamp:
            cached = (stamp, load_or_error(path))
            self._seen[path] = cached
        return cached[1]

    def changed(self) -> dict[str, datetime]:
        """When each loaded export's config file last changed (UTC), by export id."""
        return {
            result.export_id: datetime.fromtimestamp(stamp[0] / 1e9, UTC)
            for stamp, result in self._seen.values()
            if stamp is not None and isinstance(result, ExportConfig)
        }

    def load(self, folder: Path) -> tuple[list[ExportConfig], list[ConfigError]]:
        """As `load_all` loads them (duplicate ids are errors), reading changed files only."""
        good, errors = load_all(folder, load=self._load)
        for gone in set(self._seen) - set(config_files(folder)):
            del self._seen[gone]
        return list(good.values()), errors


CONFIGS = _ConfigCache()


def _session():
    from airflow.utils.session import create_session

    with create_session(scoped=False) as session:
        yield session


async def _user(request: Request):
    """Airflow's own `get_user`: a bearer token or the UI's `_token` cookie, else 401/403."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    return await get_user(request, None, credentials)


User = Annotated[Any, Depends(_user)]
GUARDED = [Depends(same_origin_only)]  # every state-changing route, checked before the user
Session = Annotated[Any, Depends(_session)]


def _auth_manager():
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def _require(user, dag_id: str, method: str, runs: bool = False) -> None:
    """403 unless the auth manager allows `method` on the DAG (or on its runs)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )
    from airflow.models.dag import DagModel

    allowed = _auth_manager().is_authorized_dag(
        method=method,
        access_entity=DagAccessEntity.RUN if runs else None,
        details=DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id)),
        user=user,
    )
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")


def _visible(user, session):
    """The subset of export DAG ids the user may read, as the auth manager answers it."""
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    def narrow(wanted: set[str]) -> set[str]:
        manager = _auth_manager()
        known = set(session.scalars(select(DagModel.dag_id).where(DagModel.dag_id.in_(wanted))))
        allowed = manager.get_authorized_dag_ids(user=user, method="GET", session=session) & known
        return allowed | manager.filter_authorized_dag_ids(dag_ids=wanted - known, user=user)

    return narrow


def _config_text(export_id: str) -> ConfigText | None:
    """The export's YAML as committed, shown read-only in View (configs change by commit)."""
    for path in config_files(exports_dir()):
        if path.stem == export_id and path.is_file():
            return ConfigText(
                path=str(path), yaml=path.read_text(encoding="utf-8", errors="replace")
            )
    return None


def _config(export_id: str) -> ExportConfig:
    good, errors = CONFIGS.load(exports_dir())
    for config in good:
        if config.export_id == export_id:
            return config
    for error in errors:
        if error.export_id == export_id:
            raise HTTPException(status.HTTP_409_CONFLICT, f"the config is broken: {error}")
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no export {export_id!r}")


def request_id(config: ExportConfig, period: Period) -> str:
    """The request id the run of this period will carry in its file names and manifest."""
    return naming.request_id_for(config.client_id, config.export_id, period.key)


class RunOnceBody(BaseModel):
    period: str
    day: date | None = None
    date_from: date | None = None
    date_to: date | None = None

    def conf(self) -> dict:
        """The one-time trigger form's values, as a run's conf."""
        return {
            "period": self.period,
            "day": self.day.isoformat() if self.day else None,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }


class BackfillBody(BaseModel):
    """`POST /api/exports/{id}/backfill`: local days, inclusive, and Airflow's backfill options."""

    date_from: date
    date_to: date
    reprocess: Literal["none", "failed", "completed"] = "none"
    max_active_runs: int = Field(
        backfills.DEFAULT_MAX_ACTIVE_RUNS, ge=1, le=backfills.MAX_ACTIVE_RUNS_LIMIT
    )
    dry_run: bool = False


def _backfill(config: ExportConfig, body: BackfillBody, user, session) -> JSONResponse | dict:
    """Plan the client's days (backfills.py), then dry-run or create it in Airflow."""
    today = datetime.now(UTC).astimezone(config.tz).date()
    try:
        plan = backfills.plan_backfill(config, body.date_from, body.date_to, today)
    except backfills.BackfillRefused as exc:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)
    answer = plan.to_dict() | {"reprocess": body.reprocess, "dry_run": body.dry_run}
    try:
        if body.dry_run:
            will_run = backfill_airflow.dry_run(session, plan, body.reprocess)
            return answer | {"will_run": will_run, "message": "dry run: nothing created"}
        done = backfill_airflow.create(plan, body.reprocess, body.max_active_runs, user.get_name())
    except backfill_airflow.AirflowRefused as exc:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)
    return answer | {
        "message": f"backfill {done.backfill_id} created: {len(done.logical_dates)} run(s)",
        "backfill_id": done.backfill_id,
        "will_run": done.logical_dates,
        "max_active_runs": body.max_active_runs,
    }


def _page_html() -> str:
    options = {
        "destination": list(DESTINATION_TYPES),
        "kind": [[k, v] for k, v in KIND_LABELS.items()],
        "format": list(FORMATS),
        "status": list(STATUSES),
        "frequency": list(FREQUENCIES),
        "page_sizes": list(PAGE_SIZES),
        "default_page_size": DEFAULT_PAGE_SIZE,
        "periods": list(ONE_TIME_MODES),
        "exports_dir": str(exports_dir()),  # for "How to add or change an export"
    }
    return render(options)


def create_app() -> FastAPI:
    app = FastAPI(title="Event Export Scheduler: Exports", docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request):
        try:
            await _user(request)
        except HTTPException as exc:
            login = _auth_manager().get_url_login(next_url=str(request.url))
            body = f'<p>Please <a href="{login}" target="_top">log in to Airflow</a>.</p>'
            return HTMLResponse(body, status_code=exc.status_code)
        return HTMLResponse(_page_html())

    # the routes return payloads.py's TypedDicts as they are built: no response model re-checks
    # or reshapes them (response_model=None), so the API answers exactly what the catalog made
    @app.get("/api/exports", response_model=None)
    def exports(
        user: User,
        session: Session,
        destination: str | None = None,
        kind: str | None = None,
        format: str | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
        frequency: str | None = None,
        exported_from: date | None = None,
        exported_to: date | None = None,
        q: str | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> PageAnswer:
        if page_size not in PAGE_SIZES:
            raise HTTPException(422, f"page_size: one of {', '.join(map(str, PAGE_SIZES))}")
        filters = Filters(
            destination or None,
            kind or None,
            format or None,
            status_ or None,
            frequency or None,
            exported_from,
            exported_to,
            q or None,
        )
        good, errors = CONFIGS.load(exports_dir())
        found = list_exports(
            good,
            errors,
            MetadataState(session),
            IncidentStore().load(),
            filters,
            page,
            page_size,
            visible=_visible(user, session),
            changed=CONFIGS.changed(),
        )
        return found.to_dict()

    @app.get("/api/exports/{export_id}/runs/{run_id}/manifest", response_model=None)
    def manifest(export_id: str, run_id: str, user: User, session: Session) -> ManifestAnswer:
        config = _config(export_id)
        _require(user, config.dag_id, "GET", runs=True)
        run = MetadataState(session).run(config.dag_id, run_id)
        if run is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id!r} of {export_id}")
        return ManifestAnswer(**manifest_view(config, run), config=_config_text(export_id))

    @app.post("/api/exports/{export_id}/stop", dependencies=GUARDED, response_model=None)
    def stop(export_id: str, user: User, session: Session) -> StateChange:
        dag_id = dag_id_for(export_id)
        _require(user, dag_id, "PUT")
        if not pause(session, dag_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{dag_id} is not in Airflow")
        return StateChange(message="export stopped", export_id=export_id, status="STOPPED")

    @app.post("/api/exports/{export_id}/resume", dependencies=GUARDED, response_model=None)
    def resume(export_id: str, user: User, session: Session) -> ResumeAnswer:
        """Unpause a stopped export (the same right as Stop); refused while its config says
        `enabled: false`, which the health check would enforce again within the hour."""
        config = _config(export_id)
        _require(user, config.dag_id, "PUT")
        if not config.schedule.enabled:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"{export_id} is stopped by its config (schedule.enabled: false): set "
                f"enabled: true in {export_id}.yaml (or remove the line) to resume it",
            )
        if not pause(session, config.dag_id, paused=False):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{config.dag_id} is not in Airflow")
        state = MetadataState(session)
        now, _ = status_of(
            config,
            state.dags([config.dag_id]).get(config.dag_id),
            state.last_runs([config.dag_id], deliveries=False).get(config.dag_id),
            IncidentStore().load().get(export_id),
        )
        today = datetime.now(UTC).astimezone(config.tz).date()
        last = backfill_airflow.last_delivered_end(session, config.dag_id)
        missed = backfills.missed_days(config, last, today)
        return ResumeAnswer(
            message="export resumed",
            export_id=export_id,
            status=now,
            # the days missed while stopped: offered as a backfill of exactly those
            missed={"from": missed[0].isoformat(), "to": missed[1].isoformat()} if missed else None,
        )

    @app.post("/api/exports/{export_id}/check", dependencies=GUARDED)
    def check(export_id: str, user: User) -> dict:
        """Seed 003's "Save Credentials" check: log in, find the bucket or folder, write and
        delete a probe under the export's prefix. It writes to the client's storage, so it needs
        the right to edit the export (PUT on its DAG), as Stop does."""
        config = _config(export_id)
        _require(user, config.dag_id, "PUT")
        result = check_destination(config.destination, encrypt=config.encrypt)
        return result.to_dict() | {"export_id": export_id}

    @app.post("/api/exports/{export_id}/run-once", dependencies=GUARDED)
    def run_once(export_id: str, body: RunOnceBody, user: User, session: Session):
        config = _config(export_id)
        _require(user, config.dag_id, "POST", runs=True)
        try:
            period = one_time_period(body.model_dump(), datetime.now(UTC), config.tz)
        except RequestRefused as exc:
            return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)
        configs = CONFIGS.load(exports_dir())[0]
        conflict = rules.profile_export_refusal(config, configs, MetadataState(session).is_paused)
        if conflict:
            return JSONResponse({"detail": conflict}, status_code=status.HTTP_409_CONFLICT)
        try:
            run_id = trigger(session, config.dag_id, body.conf(), user.get_name())
        except TriggerRefused as exc:
            return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)
        return RunOnceAnswer(
            message="export initiated",
            request_id=request_id(config, period),
            run_id=run_id,
            period={"from": period.first_day.isoformat(), "to": period.last_day.isoformat()},
        )

    @app.post("/api/exports/{export_id}/backfill", dependencies=GUARDED)
    def backfill(export_id: str, body: BackfillBody, user: User, session: Session):
        """Airflow backfill runs for local days (backfills.py); the right of Run once."""
        config = _config(export_id)
        _require(user, config.dag_id, "POST", runs=True)
        return _backfill(config, body, user, session)

    return app


app = create_app()
