"""Every shipped config becomes a DAG of the fixed shape; a broken one shows as an import error."""

import shutil
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from conftest import REPO

EXPORTS = REPO / "include" / "exports"
SHAPE = {"check_destination", "extract", "split_by_event", "format", "chunk", "upload", "validate"}


def _bag() -> DagBag:
    return DagBag(dag_folder=REPO / "dags")


def test_every_shipped_config_loads_as_one_dag():
    bag = _bag()
    assert bag.import_errors == {}
    configs = sorted(p.stem for p in EXPORTS.glob("*.yaml"))
    exports = sorted(d for d in bag.dag_ids if d.startswith("export_"))
    assert exports == [f"export_{c}" for c in configs]
    for dag_id in exports:
        dag = bag.dags[dag_id]
        assert set(dag.task_dict) == SHAPE
        assert dag.task_dict["check_destination"].upstream_task_ids == set()
        assert dag.task_dict["extract"].upstream_task_ids == {"check_destination"}
        assert dag.task_dict["validate"].upstream_task_ids == {"chunk", "upload"}
        assert dag.task_dict["format"].upstream_task_ids == {"split_by_event"}


def test_tags_let_the_ui_filter_exports():
    dag = _bag().dags["export_globex_purchases"]
    assert set(dag.tags) >= {
        "destination:local",
        "format:csv",
        "kind:selected_events",
        "frequency:daily",
        "client:globex",
    }
    assert str(dag.timetable.summary) == "0 0 * * *"
    assert dag.timetable._timezone.name == "America/New_York"


@pytest.fixture
def exports_with_a_broken_one(tmp_path, monkeypatch) -> Path:
    for config in EXPORTS.glob("*.yaml"):
        shutil.copy(config, tmp_path / config.name)
    (tmp_path / "broken_one.yaml").write_text(
        "client_id: acme\nexport_id: broken_one\nschedule: {timezone: Nowhere/Land}\n"
        "destination: {type: local, conn_id: x}\n"
    )
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    return tmp_path


def test_gcp_export_dags_are_tagged_with_their_profile_format_and_kind():
    bag = _bag()
    assert set(bag.dags["export_umbrella_profiles_csv"].tags) >= {
        "profile:gcp_export",
        "format:csv",
        "kind:user_profiles",
    }
    formats = {
        tag for dag in bag.dags.values() if "profile:gcp_export" in dag.tags for tag in dag.tags
    }
    assert formats >= {"format:json", "format:xml", "format:csv", "format:parquet"}


def test_a_broken_config_is_an_import_error_and_the_others_still_load(exports_with_a_broken_one):
    bag = _bag()
    exports = {d for d in bag.dag_ids if d.startswith("export_")}
    assert exports == {f"export_{p.stem}" for p in EXPORTS.glob("*.yaml") if p.stem != "broken_one"}
    assert "export_broken_one" not in bag.dag_ids
    assert list(bag.import_errors) == [str(REPO / "dags" / "export_config_errors.py")]
    message = next(iter(bag.import_errors.values()))
    assert "broken_one.yaml: schedule.timezone: unknown IANA time zone 'Nowhere/Land'" in message


def test_the_health_check_runs_hourly_and_cannot_clash_with_an_export():
    dag = _bag().dags["ees_health_check"]
    assert not dag.dag_id.startswith("export_")
    assert str(dag.timetable.summary) == "0 * * * *"
    assert set(dag.task_dict) == {"check_exports", "ensure_upload_pools"}
    assert dag.is_paused_upon_creation is False  # runs whatever the deployment's default
