"""One-time exports through dag.test with trigger-form values: a range delivered, or refused."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from airflow.dag_processing.dagbag import DagBag
from conftest import REPO, set_local_connection
from event_export.generator import write_window
from event_export.schedules import days_period

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
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "it_once.yaml").write_text(CONFIG.format(lake=lake))
    monkeypatch.setenv("EES_EXPORTS_DIR", str(exports))
    set_local_connection("it_once", tmp_path / "client")
    bag = DagBag(dag_folder=REPO / "dags" / "exports.py")
    assert bag.import_errors == {}
    return bag.dags["export_it_once"], tmp_path / "client" / "acme", first, last


def test_date_range_is_delivered_as_one_zip_named_by_the_range(one_time_dag):
    dag, delivered, first, last = one_time_dag
    conf = {"period": "date_range", "date_from": first.isoformat(), "date_to": last.isoformat()}
    run = dag.test(run_conf=conf)
    assert run.state == "success"
    name = f"acme_{first:%d%m%Y}-{last:%d%m%Y}"
    assert sorted(p.name for p in delivered.iterdir()) == [f"{name}.manifest.json", f"{name}.zip"]
    manifest = json.loads((delivered / f"{name}.manifest.json").read_text())
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
    assert states["extract"] == "upstream_failed"
    assert not delivered.exists() or not any(delivered.iterdir())
