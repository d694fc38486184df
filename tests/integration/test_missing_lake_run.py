"""A real DAG run (dag.test, the metadata database on PostgreSQL where the machine has it) of an
export whose `source` names no lake: the run fails at extract, once, as ours to fix, and the
client receives nothing. Before, a mistyped `source` delivered an empty zip every day, validated
and green."""

from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags, set_local_connection
from event_export.orchestration.failure_reports import FAILURE_KEY, XCOM_KEY
from event_export.scheduling.windows import day_window

CONFIG = """\
client_id: acme
export_id: it_no_lake
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_no_lake_local, path: acme}}
"""


def _xcoms(run, key: str) -> dict[str, object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.key == key,
            )
        ).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


@pytest.mark.parametrize("lake", ["lake-typo", "empty-folder"])
def test_an_export_whose_source_names_no_lake_fails_at_extract_and_delivers_nothing(
    tmp_path, monkeypatch, airflow_db, demo_day, lake
):
    (tmp_path / "empty-folder").mkdir()  # a folder, but no events/ in it (a wrong level)
    config = CONFIG.format(lake=tmp_path / lake)
    dag = export_dags(tmp_path, monkeypatch, {"it_no_lake": config})["export_it_no_lake"]
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "staging"))
    client = tmp_path / "client"
    set_local_connection("it_no_lake_local", client)

    # the daily run of demo_day starts at the day's end, Kolkata's midnight
    run = dag.test(logical_date=day_window(demo_day, ZoneInfo("Asia/Kolkata")).end)

    assert run.state == "failed"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["check_destination"].state == "success"
    assert tis["extract"].state == "failed"
    assert tis["extract"].try_number == 1  # no retries: the folder does not come back by itself
    assert {t: ti.state for t, ti in tis.items() if t not in ("check_destination", "extract")} == {
        t: "upstream_failed" for t in tis if t not in ("check_destination", "extract")
    }
    # ours, not the client's: the failure record names the error's class, no client record
    assert _xcoms(run, FAILURE_KEY) == {"extract": {"error": "LakeNotFoundError"}}
    assert _xcoms(run, XCOM_KEY) == {}
    assert [p for p in client.rglob("*") if p.is_file()] == []
