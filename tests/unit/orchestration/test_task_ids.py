"""The task ids the health check and the Exports page read are the ones the builder declares."""

import itertools
from pathlib import Path

import pytest
from event_export.config.model import DAG_ID_PREFIX, ExportConfig
from event_export.orchestration import task_ids
from event_export.orchestration.dag_builder import build_dag
from event_export.orchestration.health_dag import build_health_dag


def _config(frequency: str) -> ExportConfig:
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "acme_ids",
            "schedule": {"timezone": "Asia/Kolkata", "frequency": frequency},
            "destination": {"type": "local", "conn_id": "c"},
        }
    )


@pytest.mark.parametrize("frequency", ["daily", "one_time"])
def test_the_built_dag_has_exactly_the_named_tasks(frequency):
    config = _config(frequency)
    dag = build_dag(config, Path("acme_ids.yaml"))
    expected = set(task_ids.ALL) - ({task_ids.CHECK_REQUEST} if frequency == "daily" else set())
    assert set(dag.task_ids) == expected
    assert dag.dag_id == f"{DAG_ID_PREFIX}acme_ids" == config.dag_id
    # the data path in docs/architecture.md's order: each task downstream of the one before
    path = [t for t in task_ids.ALL if t in expected]
    for before, after in itertools.pairwise(path):
        assert after in dag.get_task(before).downstream_task_ids, (before, after)


@pytest.mark.parametrize("frequency", ["daily", "one_time"])
def test_each_task_keeps_its_result_as_one_xcom_value(frequency):
    """Readers pull a task's `return_value` only; a dict's keys pushed as XComs of their own (what
    TaskFlow infers from `-> dict`) cost an execution-API call and a row each, 13 a validate."""
    config = _config(frequency)
    tasks = [*build_dag(config, Path("acme_ids.yaml")).tasks, *build_health_dag().tasks]
    assert len(tasks) >= 9
    for task in tasks:
        # a mapped task keeps the flag among its partial arguments
        flag = getattr(task, "multiple_outputs", None)
        if flag is None:
            flag = task.partial_kwargs.get("multiple_outputs")
        assert flag is False, task.task_id
