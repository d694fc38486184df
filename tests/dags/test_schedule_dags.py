"""How each frequency, the deadline switch and the stop switch shape an export's DAG."""

from datetime import timedelta
from pathlib import Path

import pytest
from event_export.config.model import ExportConfig
from event_export.orchestration.dag_builder import STOPPED_TAG, build_dag


def _config(**schedule) -> ExportConfig:
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "acme_x",
            "schedule": {"timezone": "Asia/Kolkata", **schedule},
            "destination": {"type": "local", "conn_id": "c"},
        }
    )


def _dag(config: ExportConfig):
    return build_dag(config, Path("acme_x.yaml"))


def test_recurring_runs_on_local_blocks_from_midnight():
    dag = _dag(_config(frequency="recurring", every_hours=6, start_date="2026-10-01"))
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.summary == "0 */6 * * *"
    assert dag.timetable._timezone.name == "Asia/Kolkata"
    assert dag.start_date.isoformat() == "2026-09-30T18:30:00+00:00"  # 00:00 IST, first block
    assert "frequency:recurring" in dag.tags
    assert "Runs at local hours 0,6,12,18 (Asia/Kolkata)" in dag.doc_md
    assert dag.deadline is None


def test_one_time_is_unscheduled_with_a_validated_form_and_a_request_check():
    dag = _dag(_config(frequency="one_time"))
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert set(dag.params) == {"period", "day", "date_from", "date_to"}
    assert dag.params.get_param("period").schema["enum"] == [
        "day",
        "date_range",
        "previous_month",
        "current_month",
    ]
    assert dag.task_dict["check_destination"].upstream_task_ids == {"check_request"}
    assert dag.task_dict["extract"].upstream_task_ids == {"check_destination"}
    with pytest.raises(ValueError, match="date"):
        dag.params.get_param("day").resolve("31/12/2026")


def test_daily_dag_carries_the_deadline_alert_when_alerts_are_on(monkeypatch):
    assert _dag(_config(deadline="06:30")).deadline is None  # tests run with alerts off
    monkeypatch.setenv("EES_DEADLINE_ALERTS", "on")
    dag = _dag(_config(deadline="06:30"))
    (alert,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert alert.interval == timedelta(hours=6, minutes=30)
    assert alert.callback.path == "event_export.alerts.deadlines.on_deadline_missed"
    assert alert.callback.kwargs["export_id"] == "acme_x"


def test_enabled_false_creates_the_dag_paused_and_tagged_stopped():
    stopped = _dag(_config(enabled=False))
    assert stopped.is_paused_upon_creation is True
    assert STOPPED_TAG in stopped.tags
    running = _dag(_config())
    assert STOPPED_TAG not in running.tags
    assert running.is_paused_upon_creation is False  # not None: the deployment's default


def test_every_task_weighs_by_the_deadline_and_uploads_use_the_destinations_pool():
    from datetime import UTC, datetime

    from event_export.scheduling.priorities import priority_weight

    config = _config(deadline="06:00")
    dag = _dag(config)
    weight = priority_weight(config, datetime.now(UTC).date())
    assert weight > 1
    for task in dag.tasks:
        # absolute: the scheduler ranks by the task's own weight, not summed downstream
        assert (task.priority_weight, task.weight_rule) == (weight, "absolute"), task.task_id
    assert dag.task_dict["upload"].pool == "ees_upload_local_c"
    assert dag.task_dict["format"].pool == "default_pool"
