"""The hourly health-check DAG: thin tasks over `health_check.run_check` and
`pools.ensure_upload_pools` (independent: a failing one does not hold the other)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable

HEALTH_DAG_ID = "ees_health_check"


def build_health_dag() -> DAG:
    with DAG(
        dag_id=HEALTH_DAG_ID,
        schedule=CronTriggerTimetable("0 * * * *", timezone="UTC"),
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        # the failure policy must run whatever [core] dags_are_paused_at_creation says
        is_paused_upon_creation=False,
        tags=["ees:health-check"],
        doc_md=(
            "Every hour: looks at each export's latest finished run. Client-side failures follow "
            "the three-email policy (email 1 at once, 2 a day later, 3 on day three with the "
            "export paused); failures on our side alert on-call. State: EES_INCIDENTS_PATH. "
            "Emails on-call once about each export without a DAG (a config that does not load, "
            "or whose DAG file failed: no run could alert). Also creates any missing upload "
            "pool (ees_upload_*) the export configs use."
        ),
        default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    ) as dag:

        @task(multiple_outputs=False)  # one XCom value, as the exports' tasks (dag_builder)
        def check_exports() -> dict:
            from event_export.alerts.incidents import IncidentStore
            from event_export.config.model import load_all
            from event_export.orchestration.airflow_api import AirflowApi
            from event_export.orchestration.factory import dag_argument_errors
            from event_export.orchestration.health_check import (
                alert_missing_exports,
                missing_dags,
                run_check,
            )
            from event_export.settings import exports_dir

            good, broken = load_all(exports_dir())
            store, api, now = IncidentStore(), AirflowApi.from_connection(), datetime.now(UTC)
            try:  # an export without a DAG has no run that could alert
                broken += dag_argument_errors(good)  # as dags/export_config_errors.py says
                missing = missing_dags(good, api, now)
                alerted = alert_missing_exports(broken, missing, store)
            finally:  # the exports' own checks run whatever that email did
                report = run_check(list(good.values()), api, store, now)
            return {**report, **({"exports without a DAG": alerted} if alerted else {})}

        @task(multiple_outputs=False)
        def ensure_upload_pools() -> dict:
            """Every upload pool the configs use exists (a new export's too, within the hour)."""
            from event_export.orchestration.airflow_api import AirflowApi
            from event_export.orchestration.pools import ensure_folder_pools
            from event_export.settings import exports_dir

            return ensure_folder_pools(exports_dir(), AirflowApi.from_connection()).as_dict()

        check_exports()
        ensure_upload_pools()
    return dag
