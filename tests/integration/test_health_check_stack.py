"""The shared stack's checks: the failure policy against a running Airflow (a real client-side
failure is classified from its XCom, the health-check DAG sends email 1 from a worker, and on day
three the export's DAG is paused through the REST API); a recurring export run by the scheduler on
its local block; a failed upload that keeps its staging and is retried from it; and every socket
the stack listens on is on loopback."""

import ipaddress
import json
import os
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psutil
from event_export.alerts.incidents import IncidentStore
from event_export.config.model import load_config
from event_export.generator import write_window
from event_export.orchestration.airflow_api import AirflowApi
from event_export.orchestration.factory import shard_of
from event_export.orchestration.health_check import missing_dags, observe, run_check
from event_export.orchestration.pools import ASK_EACH_UP_TO, ensure_upload_pools
from event_export.pipeline.lake import Window
from event_export.scheduling.priorities import POOL_PREFIX, upload_pool
from event_export.scheduling.schedules import hours_period, last_block_before
from stack import CLIENT_EMAIL, DELIVERIES, SERVICE_USER, wait_until


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
    check = wait_until(lambda: scheduled("ees_health_check"), 300, "a scheduled health check")
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


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_scheduler_runs_a_recurring_export_on_its_local_block(airflow_stack):
    """CronDataIntervalTimetable serialised and run by the real scheduler: the run it creates on
    unpause covers the latest complete 4-hour Asia/Kolkata block, and the file is named by it."""
    api = airflow_stack.api()
    airflow_stack.wait_for_dag("export_acme_4h")
    kolkata = ZoneInfo("Asia/Kolkata")
    now = datetime.now(UTC)
    write_window(airflow_stack.home / "lake", Window(now - timedelta(hours=9), now), 300)
    api.set_paused("export_acme_4h", False)
    try:
        run = airflow_stack.wait_for_finished_run("export_acme_4h", 240)
    finally:
        api.set_paused("export_acme_4h", True)
    assert run["state"] == "success", airflow_stack.describe_runs("export_acme_4h")
    window = Window(_at(run["data_interval_start"]), _at(run["data_interval_end"]))
    assert window == last_block_before(_at(run["queued_at"]), 4, kolkata)
    local_start = window.start.astimezone(kolkata)
    assert (local_start.hour % 4, local_start.minute) == (0, 0)
    assert run["run_type"] == "scheduled"
    name = f"acme_{hours_period(window, 4, kolkata).label}.zip"
    folder = airflow_stack.home / DELIVERIES / "recurring"
    delivered = sorted(p.name for p in folder.glob("*.zip"))
    assert name in delivered
    dag = api.get_dag("export_acme_4h")  # what the Exports page's "next run" reads
    assert _at(dag["next_dagrun_data_interval_start"]) >= window.end
    next_start = _at(dag["next_dagrun_data_interval_start"]).astimezone(kolkata)
    assert (next_start.hour % 4, next_start.minute) == (0, 0)
    # issue 16: a successful run logs no line at error level, in its task logs (JSON lines) or
    # in the scheduler's output, where LocalExecutor's task supervisors log (chunk's read of the
    # mapped format results logged "[error] XCom not found ... offset=1" there on every run)
    logs = airflow_stack.home / "logs" / "dag_id=export_acme_4h"
    (run_logs,) = [p for p in logs.glob("run_id=*") if p.name == f"run_id={run['dag_run_id']}"]
    records = [
        json.loads(line)
        for path in run_logs.rglob("*.log")
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith("{")
    ]
    assert len(records) > 20  # the run's task logs were read
    assert [r for r in records if str(r.get("level")).lower() in ("error", "critical")] == []
    scheduler = airflow_stack.logs["scheduler"].read_text(errors="replace").splitlines()
    about_run = [line for line in scheduler if run["dag_run_id"] in line]
    assert about_run  # the supervisors' lines name the run
    assert [line for line in about_run if "[error" in line or "[critical" in line] == []


class _ListedTooEarly(AirflowApi):
    """The real API, whose first answer about a pool is "none": what a run saw just before
    another run to the same destination created the pool."""

    listed = False

    def pool(self, name: str) -> int | None:
        if not self.listed:
            self.listed = True
            return None
        return super().pool(name)


class _Counted(AirflowApi):
    """The real API, recording each call's method and path."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.calls: list[tuple[str, str]] = []

    def call_path(self, method: str, path: str, **kwargs):
        self.calls.append((method, path))
        return super().call_path(method, path, **kwargs)


def test_a_run_asks_for_its_own_pool_by_name_and_only_deployments_list_them(airflow_stack):
    """An export run's first task makes sure of its one upload pool: one GET of that pool, not
    a listing of every upload pool (0.85 s of api-server time a run at 1,000 exports)."""
    config = load_config(airflow_stack.home / "exports" / "acme_4h.yaml")
    pool = upload_pool(config)
    api = _Counted(airflow_stack.base_url, SERVICE_USER, airflow_stack.password)
    synced = ensure_upload_pools([config], api, slots=9)
    assert (synced.created, synced.existing) == ({}, {pool: 4})
    assert [c for c in api.calls if "/pools" in c[1]] == [("GET", f"/api/v2/pools/{pool}")]
    assert api.pool("ees_upload_local_no_such_connection") is None
    # more destinations (ees pools, the health check): listed, a call per 100 pools
    api.calls.clear()
    others = [
        config.model_copy(
            update={"destination": config.destination.model_copy(update={"conn_id": f"d{i}"})}
        )
        for i in range(ASK_EACH_UP_TO + 1)
    ]
    synced = ensure_upload_pools([config, *others], api, slots=4, dry_run=True)
    assert synced.existing == {pool: 4} and len(synced.created) == ASK_EACH_UP_TO + 1
    assert [c for c in api.calls if "/pools" in c[1]] == [("GET", "/api/v2/pools")]


def test_a_pool_another_run_just_created_is_kept_with_its_slots(airflow_stack):
    """Runs sharing a destination start together and each may see their pool missing: the
    api-server refuses the second creation (409), which means the pool exists."""
    api = airflow_stack.api()
    config = load_config(airflow_stack.home / "exports" / "acme_4h.yaml")
    pool = upload_pool(config)
    assert api.pools(POOL_PREFIX)[pool] == 4
    late = _ListedTooEarly(airflow_stack.base_url, SERVICE_USER, airflow_stack.password)
    synced = ensure_upload_pools([config], late, slots=9)
    assert late.listed  # it saw no pool, so it tried to create one
    assert (synced.created, synced.existing) == ({}, {pool: 4})
    assert api.pools(POOL_PREFIX)[pool] == 4


def _stack_processes(airflow_stack) -> list[psutil.Process]:
    found = []
    for proc in airflow_stack.procs.values():
        try:
            top = psutil.Process(proc.pid)
            found += [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def test_every_socket_the_stack_listens_on_is_loopback_on_its_own_port(airflow_stack):
    listening = {}
    for process in _stack_processes(airflow_stack):
        try:
            for conn in process.net_connections(kind="inet"):
                bound_udp = conn.type == 2 and conn.laddr  # SOCK_DGRAM: a bound UDP socket
                if conn.status == psutil.CONN_LISTEN or bound_udp:
                    listening[(conn.laddr.ip, conn.laddr.port)] = process.name()
        except psutil.NoSuchProcess:
            continue
    assert listening, "no listening socket found: the test would prove nothing"
    outside = {
        addr: name
        for addr, name in listening.items()
        if not ipaddress.ip_address(addr[0]).is_loopback
    }
    assert outside == {}, f"listening beyond loopback: {outside}"
    ports = {port for _, port in listening}
    env = airflow_stack.env
    assert int(airflow_stack.base_url.rsplit(":", 1)[1]) in ports  # the api-server
    log_ports = {
        int(env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]),
        int(env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]),
    }
    assert log_ports <= ports  # both log servers run, on the stack's own free ports
    assert not ports & {8793, 8794, 8080}  # never Airflow's fixed defaults


def test_a_failed_upload_keeps_its_staging_and_clearing_the_task_retries_from_it(airflow_stack):
    api, home, dag_id = airflow_stack.api(), airflow_stack.home, "export_acme_retry"
    airflow_stack.wait_for_dag(dag_id)
    kolkata = ZoneInfo("Asia/Kolkata")
    asked = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    block = last_block_before(asked, 6, kolkata)  # what a manual run at `asked` covers
    write_window(home / "lake", block, 2000)  # "add to cart" rows: split and format stage files
    period = hours_period(block, 6, kolkata)
    delivered = home / DELIVERIES / "retry" / f"acme_{period.label}.zip"
    delivered.mkdir(parents=True)  # a folder in the way: the upload's rename fails
    api.set_paused(dag_id, False)
    run_id = api.trigger(dag_id, asked.isoformat())["dag_run_id"]

    def tis() -> dict:
        return {t["task_id"]: t for t in api.task_instances(dag_id, run_id)}

    def run_state(state: str):
        return [
            r
            for r in api.latest_runs(dag_id, 10)
            if r["dag_run_id"] == run_id and r["state"] == state
        ]

    def upload_failed_once():
        upload = tis().get("upload")
        return upload if upload and upload["state"] in ("up_for_retry", "failed") else None

    try:
        upload = wait_until(upload_failed_once, 240, "the blocked upload to fail")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{airflow_stack.describe_runs(dag_id)}") from None
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/upload/{upload['map_index']}"
    api.call_path("PATCH", path, json={"new_state": "failed"})  # no need to wait for retries
    wait_until(lambda: run_state("failed"), 120, "the run to fail")
    staged = home / "staging" / "acme_retry" / period.key
    kept = {p.relative_to(staged).parts[0] for p in staged.rglob("*") if p.is_file()}
    assert kept == {"extract", "format", "package"}  # a failed run keeps its staging

    delivered.rmdir()  # the destination is fixed; clear the failed task and what follows it
    api.call_path(
        "POST",
        f"/api/v2/dags/{dag_id}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": ["upload"],
            "include_downstream": True,
            "only_failed": True,
            "reset_dag_runs": True,
        },
    )
    try:
        wait_until(lambda: run_state("success"), 180, "the cleared run to succeed", every=2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{airflow_stack.describe_runs(dag_id)}") from None
    finally:
        api.set_paused(dag_id, True)
    done = tis()
    assert [done[t]["try_number"] for t in ("extract", "split_by_event", "chunk")] == [1, 1, 1]
    assert done["upload"]["try_number"] >= 2  # retried from the staged zip, the lake not re-read
    assert delivered.is_file() and delivered.stat().st_size > 0
    assert not staged.exists()  # validated: released


def test_a_config_that_stops_loading_reaches_on_call_once(airflow_stack, smtp_server):
    """The hourly check's own path: a worker runs `check_exports`, which emails on-call about a
    config that no longer loads (its export has no DAG, so no run would ever alert)."""
    api = airflow_stack.api()
    airflow_stack.wait_for_dag("ees_health_check")
    api.set_paused("ees_health_check", False)
    broken = airflow_stack.home / "exports" / "typo_zone.yaml"
    broken.write_text(
        "client_id: acme\nexport_id: typo_zone\nschedule: {timezone: Asia/Kolkta}\n"
        "destination: {type: local, conn_id: stack_delivery, path: typo}\n"
    )

    def config_emails():
        return [m for m in smtp_server.messages if str(m["Subject"]).startswith("[EES config]")]

    def checked() -> dict:
        logical = datetime.now(UTC).replace(microsecond=0)
        if logical.minute == logical.second == 0:  # the hourly run's own logical date
            logical += timedelta(seconds=1)
        run_id = api.trigger("ees_health_check", logical.isoformat())["dag_run_id"]

        def finished():
            runs = [r for r in api.latest_runs("ees_health_check") if r["dag_run_id"] == run_id]
            return runs[0] if runs else None

        return wait_until(finished, 180, f"health check {run_id}", every=2)

    before = len(config_emails())
    try:
        assert checked()["state"] == "success", airflow_stack.log_text()[-4000:]
        (email,) = wait_until(lambda: config_emails()[before:], 30, "the on-call email")
        assert email["X-Envelope-To"] == "oncall@ees.invalid"
        body = smtp_server.body(email)
        assert f"{broken}: schedule.timezone: unknown IANA time zone" in body
        assert checked()["state"] == "success"  # the next check: already told
        assert len(config_emails()) == before + 1
    finally:
        broken.unlink()


def test_a_valid_config_airflow_has_no_dag_for_is_found_through_the_rest_api(
    airflow_stack, tmp_path
):
    """What a DAG file that failed to import leaves: valid configs without DAGs. Airflow's own
    listing of non-stale DAGs (`AirflowApi.dag_ids`) is what the health check compares with."""
    api = airflow_stack.api()
    airflow_stack.wait_for_dag("export_stop_me")
    running = airflow_stack.home / "exports" / "stop_me.yaml"
    orphan = tmp_path / "no_dag_here.yaml"  # never in the stack's folder: Airflow has no DAG
    orphan.write_text(running.read_text().replace("export_id: stop_me", "export_id: no_dag_here"))
    hour_ago = time.time() - 3600
    os.utime(orphan, (hour_ago, hour_ago))
    configs = {running: load_config(running), orphan: load_config(orphan)}
    assert {"export_stop_me", "ees_health_check"} <= api.dag_ids("")
    now = datetime.now(UTC)
    missing = missing_dags(configs, api, now)
    assert list(missing) == [str(orphan)]
    shard = f"dags/exports_{shard_of('no_dag_here'):02d}.py did not import"
    assert missing[str(orphan)].startswith(f"{orphan}: (dag): ") and shard in missing[str(orphan)]
    os.utime(orphan)  # just written: a new config's DAG gets its grace
    assert missing_dags(configs, api, now) == {}
