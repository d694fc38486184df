"""One-time exports through dag.test with trigger-form values: a range delivered, or refused."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags, set_local_connection
from event_export.generator import write_window
from event_export.pipeline.naming import request_id_for
from event_export.scheduling.schedules import days_period

TZ = ZoneInfo("Asia/Kolkata")
CONFIG = """\
client_id: acme
export_id: it_once
source: {lake}
schedule: {{frequency: one_time, timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_once, path: acme}}
"""


@pytest.fixture
def one_time_dag(tmp_path, monkeypatch, airflow_db):
    today = datetime.now(UTC).astimezone(TZ).date()
    first, last = today - timedelta(days=3), today - timedelta(days=2)
    lake = tmp_path / "lake"
    write_window(lake, days_period(first, last, TZ).window, 3_000)
    dags = export_dags(tmp_path, monkeypatch, {"it_once": CONFIG.format(lake=lake)})
    set_local_connection("it_once", tmp_path / "client")
    return dags["export_it_once"], tmp_path / "client" / "acme", first, last


def test_date_range_is_delivered_as_one_zip_named_by_the_range(one_time_dag):
    dag, delivered, first, last = one_time_dag
    conf = {"period": "date_range", "date_from": first.isoformat(), "date_to": last.isoformat()}
    run = dag.test(run_conf=conf)
    assert run.state == "success"
    name = f"acme_{first:%d%m%Y}-{last:%d%m%Y}"
    assert sorted(p.name for p in delivered.iterdir()) == [f"{name}.manifest", f"{name}.zip"]
    manifest = json.loads((delivered / f"{name}.manifest").read_text())
    window = days_period(first, last, TZ).window
    assert manifest["interval"] == {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
    }
    assert manifest["total_rows"] > 0


def test_a_day_older_than_60_days_is_refused_before_any_work(one_time_dag):
    dag, delivered, first, _ = one_time_dag
    too_old = first - timedelta(days=60)
    run = dag.test(run_conf={"period": "day", "day": too_old.isoformat()})
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["check_request"] == "failed"
    assert states["check_destination"] == states["extract"] == "upstream_failed"
    assert not delivered.exists() or not any(delivered.iterdir())


PROFILES = """\
client_id: acme
export_id: {export_id}
kind: user_profiles
profile: gcp_export
account_id: 880011
schedule: {{frequency: {frequency}, timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_once, path: profiles}}
"""


def test_a_one_time_profile_export_is_refused_while_the_daily_one_runs(
    tmp_path, monkeypatch, airflow_db, capfd
):
    """Seed 003: stop the scheduled profile export first. The refusal names it, before the
    destination is probed or anything is read."""
    configs = {
        export_id: PROFILES.format(export_id=export_id, frequency=frequency)
        for export_id, frequency in (("it_profiles_once", "one_time"), ("it_profiles", "daily"))
    }
    dags = export_dags(tmp_path, monkeypatch, configs)
    set_local_connection("it_once", tmp_path / "client")
    yesterday = datetime.now(UTC).astimezone(TZ).date() - timedelta(days=1)
    run = dags["export_it_profiles_once"].test(
        run_conf={"period": "day", "day": yesterday.isoformat()}
    )
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["check_request"] == "failed"
    assert states["check_destination"] == states["extract"] == "upstream_failed"
    assert "the recurring user-profile export it_profiles of client acme is active" in (
        capfd.readouterr().out
    )
    assert list((tmp_path / "client").iterdir()) == []


def test_run_once_of_a_daily_export_delivers_the_asked_day_with_its_request_id(
    tmp_path, monkeypatch, airflow_db
):
    """What the Exports page's "Run once" does: a manual run of any export with a period conf."""
    today = datetime.now(UTC).astimezone(TZ).date()
    day = today - timedelta(days=5)
    lake = tmp_path / "lake"
    write_window(lake, days_period(day, day, TZ).window, 2_000)
    daily = CONFIG.replace("it_once", "it_daily").replace("frequency: one_time", "frequency: daily")
    dag = export_dags(tmp_path, monkeypatch, {"it_daily": daily.format(lake=lake)})[
        "export_it_daily"
    ]
    set_local_connection("it_daily", tmp_path / "client")
    run = dag.test(run_conf={"period": "day", "day": day.isoformat()})
    assert run.state == "success"
    delivered = tmp_path / "client" / "acme"
    name = f"acme_{day:%d%m%Y}"
    assert sorted(p.name for p in delivered.iterdir()) == [f"{name}.manifest", f"{name}.zip"]
    manifest = json.loads((delivered / f"{name}.manifest").read_text())
    period_key = days_period(day, day, TZ).key
    assert manifest["request_id"] == request_id_for("acme", "it_daily", period_key)
