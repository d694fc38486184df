"""Which Airflow processes import the task code at start (event_export/preload.py), and that
Airflow finds the settings module that calls it."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from conftest import REPO
from event_export import preload
from event_export.standalone.airflow_env import LOCAL_SETTINGS_DIR


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/airflow", "scheduler"], preload.TASKS),
        (["airflow", "celery", "worker", "--queues", "q"], preload.TASKS),
        (["airflow", "dag-processor"], preload.PARSING),
        (["airflow", "api-server", "--port", "8080"], ()),
        (["airflow", "triggerer"], ()),
        (["airflow", "celery", "flower"], ()),
        (["airflow", "db", "migrate"], ()),
        (["airflow", "tasks", "list", "scheduler"], ()),  # a DAG named scheduler is no role
        (["python", "-m", "pytest"], ()),
    ],
)
def test_only_the_processes_that_fork_tasks_or_parses_preload(argv, expected):
    assert preload.modules_for(argv) == expected


def test_the_task_processes_get_the_stages_and_the_parsers_only_the_builder():
    assert "event_export.pipeline.run" in preload.TASKS
    assert "event_export.pipeline.run" not in preload.PARSING
    assert set(preload.PARSING) < set(preload.TASKS)
    for name in preload.TASKS:  # every name is a module of the package
        assert importlib.util.find_spec(name) is not None, name


def test_preload_imports_its_modules_and_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("EES_PRELOAD", "off")
    assert preload.preload(["airflow", "scheduler"]) == []
    monkeypatch.delenv("EES_PRELOAD")
    assert preload.preload(["airflow", "dag-processor"]) == list(preload.PARSING)
    assert all(name in sys.modules for name in preload.PARSING)
    assert preload.preload(["airflow", "triggerer"]) == []


def test_a_module_that_fails_to_import_is_skipped_not_raised(monkeypatch, caplog):
    monkeypatch.setattr(preload, "PARSING", ("event_export.no_such_module", *preload.PARSING))
    assert preload.preload(["airflow", "dag-processor"]) == list(preload.PARSING[1:])
    assert "cannot import event_export.no_such_module" in caplog.text


def test_airflow_finds_the_local_settings_that_preload():
    """`make up` and the test stack put deploy/config on the PYTHONPATH; compose mounts it as
    $AIRFLOW_HOME/config (on Airflow's sys.path)."""
    settings = LOCAL_SETTINGS_DIR / "airflow_local_settings.py"
    assert settings.is_file()
    assert "preload()" in settings.read_text()
    compose = (REPO / "docker-compose.yaml").read_text()
    assert "./deploy/config:/opt/airflow/config" in compose
