"""The failure policy against a running Airflow: a real client-side failure (missing destination
folder) is classified from its XCom, the health-check DAG sends email 1 from a worker, and on
day three the export's DAG is paused through the REST API."""

from datetime import UTC, datetime, timedelta

from event_export.config import load_config
from event_export.health_check import observe, run_check
from event_export.incidents import IncidentStore
from stack import CLIENT_EMAIL, wait_until


def test_every_dag_decides_its_own_pause_state(airflow_stack):
    """The stack runs with DAGS_ARE_PAUSED_AT_CREATION=true (deploy/airflow.env's setting), and
    nobody unpauses anything before this test (it runs first on the stack): the health check and
    an enabled daily export run on their own schedule, `enabled: false` stays paused."""
    assert airflow_stack.env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"
    api = airflow_stack.api()
    for dag_id in ("ees_health_check", "export_stop_me", "export_acme_profiles_once"):
        assert airflow_stack.wait_for_dag(dag_id)["is_paused"] is False, dag_id
    assert airflow_stack.wait_for_dag("export_dl_acme")["is_paused"] is True  # enabled: false

    def scheduled(dag_id: str):
        runs = [r for r in api.latest_runs(dag_id, limit=10) if r["run_type"] == "scheduled"]
        return runs[0] if runs else None

    # catchup=False: the latest hour's check and Berlin's last day start as soon as parsed
    check = wait_until(lambda: scheduled("ees_health_check"), 180, "a scheduled health check")
    assert check["state"] == "success", airflow_stack.describe_runs("ees_health_check")
    export = wait_until(lambda: scheduled("export_stop_me"), 180, "a scheduled export run")
    assert export["state"] == "failed"  # it ran: its client's folder is missing (path_missing)
    assert api.get_dag("export_dl_acme")["is_paused"] is True


def test_client_failure_three_emails_and_pause_through_the_rest_api(airflow_stack, smtp_server):
    api = airflow_stack.api()
    airflow_stack.wait_for_dag("export_stop_me")
    airflow_stack.wait_for_dag("ees_health_check")
    api.set_paused("export_stop_me", False)
    api.trigger("export_stop_me", datetime.now(UTC).replace(microsecond=0).isoformat())
    run = airflow_stack.wait_for_finished_run("export_stop_me", 180)
    assert run["state"] == "failed"

    seen = observe(api, "export_stop_me")
    assert seen.outcome == "client_failure"
    assert seen.code == "path_missing"
    assert "does not exist" in seen.explanation

    def client_emails():
        return [m for m in smtp_server.messages if m["X-Envelope-To"] == CLIENT_EMAIL]

    # the hourly DAG, run now by hand, opens the incident and sends email 1 from its worker
    api.set_paused("ees_health_check", False)
    api.trigger("ees_health_check", datetime.now(UTC).replace(microsecond=0).isoformat())
    check = airflow_stack.wait_for_finished_run("ees_health_check", 120)
    assert check["state"] == "success", airflow_stack.log_text()[-4000:]
    (first,) = wait_until(client_emails, 30, "email 1")
    assert "could not deliver files" in str(first["Subject"])
    assert "does not exist" in smtp_server.body(first)

    # the next days on a chosen clock, with the state the DAG left on disk
    store = IncidentStore(airflow_stack.home / "incidents.json")
    opened = store.load()["stop_me"].incident.opened_at
    configs = [load_config(airflow_stack.home / "exports" / "stop_me.yaml")]
    assert run_check(configs, api, store, opened + timedelta(hours=23)) == {}
    assert run_check(configs, api, store, opened + timedelta(days=1)) == {"stop_me": ["email 2"]}
    assert not api.get_dag("export_stop_me")["is_paused"]
    day_three = opened + timedelta(days=2)
    assert run_check(configs, api, store, day_three) == {"stop_me": ["paused", "email 3"]}
    assert api.get_dag("export_stop_me")["is_paused"] is True
    assert [str(m["Subject"]).split(" ")[0] for m in client_emails()] == [
        "Action",
        "Reminder:",
        "Your",
    ]
    assert run_check(configs, api, store, day_three + timedelta(hours=5)) == {}
    assert len(client_emails()) == 3


def test_the_config_switch_pauses_a_running_export(airflow_stack, tmp_path):
    api = airflow_stack.api()
    airflow_stack.wait_for_dag("export_stop_me")
    config = load_config(airflow_stack.home / "exports" / "stop_me.yaml")
    stopped = config.model_copy(
        update={"schedule": config.schedule.model_copy(update={"enabled": False})}
    )
    api.set_paused("export_stop_me", False)
    store = IncidentStore(tmp_path / "incidents.json")
    now = datetime.now(UTC)
    assert run_check([stopped], api, store, now) == {"stop_me": ["paused by config"]}
    assert api.get_dag("export_stop_me")["is_paused"] is True
    assert run_check([stopped], api, store, now) == {}
