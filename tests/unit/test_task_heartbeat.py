"""A task's supervisor sends no heartbeat right after the start the execution API just recorded
(event_export/task_heartbeat.py), on Airflow's own supervisor class. The night's bench test
counts the heartbeats of real task instances on the stack (tests/bench/test_night_bench.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from airflow.sdk.execution_time import supervisor
from airflow.sdk.execution_time.supervisor import ActivitySubprocess
from event_export import preload, task_heartbeat


class _Client:
    """Where Airflow's supervisor sends heartbeats: counts them (the execution API's client)."""

    def __init__(self):
        self.heartbeats = 0
        self.task_instances = SimpleNamespace(heartbeat=self._heartbeat)

    def _heartbeat(self, ti_id, pid):
        self.heartbeats += 1


@pytest.fixture
def airflows_start(monkeypatch):
    """Airflow's _on_child_started stands in for the start (no API here) and is restored after."""
    monkeypatch.setattr(ActivitySubprocess, "_on_child_started", lambda self, **kwargs: None)


def _started() -> tuple[ActivitySubprocess, _Client]:
    """A supervisor just after its task's start, as _monitor_subprocess's first pass sees it."""
    proc = object.__new__(ActivitySubprocess)
    client = _Client()
    fields = {"client": client, "id": "ti", "_process": SimpleNamespace(pid=1)}
    fields |= {"_last_heartbeat_attempt": 0.0, "_terminal_state": None, "failed_heartbeats": 0}
    for name, value in fields.items():
        object.__setattr__(proc, name, value)
    proc._on_child_started(ti=None, dag_rel_path="", bundle_info=None, sentry_integration="")
    return proc, client


def test_airflows_supervisor_heartbeats_at_once_after_the_start(airflows_start):
    proc, client = _started()
    proc._send_heartbeat_if_needed()
    assert client.heartbeats == 1


def test_installed_the_first_heartbeat_waits_one_interval(airflows_start, monkeypatch):
    monkeypatch.setattr(supervisor, "MIN_HEARTBEAT_INTERVAL", 0.3)
    monkeypatch.delenv("EES_TASK_FIRST_HEARTBEAT", raising=False)
    assert task_heartbeat.install() is True
    assert task_heartbeat.install() is True  # once: the second call finds it installed
    proc, client = _started()
    proc._send_heartbeat_if_needed()
    assert client.heartbeats == 0
    time.sleep(0.35)
    proc._send_heartbeat_if_needed()
    assert client.heartbeats == 1  # then as Airflow paces them


def test_switched_off_nothing_is_installed(airflows_start, monkeypatch):
    airflows = ActivitySubprocess._on_child_started
    monkeypatch.setenv("EES_TASK_FIRST_HEARTBEAT", "off")
    assert task_heartbeat.install() is False
    assert ActivitySubprocess._on_child_started is airflows


def test_a_supervisor_without_the_expected_step_is_left_alone(airflows_start, monkeypatch):
    monkeypatch.delattr(ActivitySubprocess, "_on_child_started")
    assert task_heartbeat.install() is False
    assert not hasattr(ActivitySubprocess, "_on_child_started")


def test_preload_installs_it_in_the_processes_that_supervise_tasks_only(
    airflows_start, monkeypatch
):
    monkeypatch.setenv("EES_PRELOAD", "off")  # the imports aside
    monkeypatch.setenv("EES_TASK_EXIT_WAIT", "off")
    monkeypatch.delenv("EES_TASK_FIRST_HEARTBEAT", raising=False)
    assert preload.preload(["airflow", "dag-processor"]) == []
    assert not getattr(ActivitySubprocess._on_child_started, "defers_first_heartbeat", False)
    assert preload.preload(["airflow", "scheduler"]) == ["task_first_heartbeat"]
    assert ActivitySubprocess._on_child_started.defers_first_heartbeat
