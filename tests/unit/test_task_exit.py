"""A task supervisor sees its task process exit when it exits (event_export/task_exit.py), on
Airflow's own supervisor class and real forked processes."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from airflow.sdk.execution_time.supervisor import ActivitySubprocess, WatchedSubprocess
from event_export import preload, task_exit

# the supervisor's poll interval in these tests: long, so a pass that sleeps it out shows
INTERVAL = 2.0
# how long the child takes to exit after it closed its sockets (a slow teardown, exaggerated)
TEARDOWN = 0.4


@pytest.fixture
def airflows_wait(monkeypatch):
    """Airflow's own _service_subprocess again after the test (install() replaces it), and its
    _on_child_started (preload also installs task_heartbeat)."""
    monkeypatch.setattr(
        WatchedSubprocess, "_service_subprocess", WatchedSubprocess._service_subprocess
    )
    monkeypatch.setattr(
        ActivitySubprocess, "_on_child_started", ActivitySubprocess._on_child_started
    )


def _closes_its_sockets_then_exits_slowly():
    os.closerange(0, 4096)  # every end of the supervisor's sockets: it reads EOF on all four
    time.sleep(TEARDOWN)
    os._exit(7)


def _supervise(target) -> tuple[int, float]:
    """Fork `target` under Airflow's supervisor and loop as its _monitor_subprocess does (until
    every socket is read to its end and the exit is seen); the exit code and the seconds."""
    start = time.monotonic()
    proc = WatchedSubprocess.start(id=uuid.uuid4(), target=target)
    while proc._exit_code is None or proc._open_sockets:
        proc._service_subprocess(max_wait_time=INTERVAL)
    return proc._exit_code, time.monotonic() - start


def test_airflows_supervisor_sleeps_its_interval_when_the_sockets_close_before_the_exit(
    airflows_wait,
):
    """The case task_exit.py fixes, reproduced on Airflow's own class: nothing left to read,
    the exit not yet seen, so the pass sleeps the whole interval."""
    code, seconds = _supervise(_closes_its_sockets_then_exits_slowly)
    assert code == 7
    assert seconds >= INTERVAL


def test_installed_the_supervisor_sees_the_exit_when_it_happens(airflows_wait, monkeypatch):
    monkeypatch.delenv("EES_TASK_EXIT_WAIT", raising=False)
    assert task_exit.install() is True
    assert task_exit.install() is True  # once: the second call finds it installed
    assert WatchedSubprocess._service_subprocess.__wrapped__.__name__ == "_service_subprocess"
    code, seconds = _supervise(_closes_its_sockets_then_exits_slowly)
    assert code == 7
    # at the child's exit, not after the interval (the margin is for a loaded host)
    assert TEARDOWN <= seconds < INTERVAL - 0.5


def test_installed_a_task_that_writes_and_exits_is_read_to_its_end(airflows_wait, capfd):
    """With sockets still open, every pass is Airflow's: output read, exit code kept."""
    assert task_exit.install() is True

    def prints_and_exits():
        print("hello from the task process", flush=True)
        os._exit(3)

    code, seconds = _supervise(prints_and_exits)
    assert code == 3
    assert seconds < INTERVAL


def test_switched_off_nothing_is_installed(airflows_wait, monkeypatch):
    airflows = WatchedSubprocess._service_subprocess
    monkeypatch.setenv("EES_TASK_EXIT_WAIT", "off")
    assert task_exit.install() is False
    assert WatchedSubprocess._service_subprocess is airflows


def test_a_supervisor_without_the_expected_method_is_left_alone(airflows_wait, monkeypatch):
    monkeypatch.delattr(WatchedSubprocess, "_check_subprocess_exit")
    airflows = WatchedSubprocess._service_subprocess
    assert task_exit.install() is False
    assert WatchedSubprocess._service_subprocess is airflows


def test_wait_for_exit_returns_at_the_exit_without_reaping():
    pid = os.fork()
    if pid == 0:
        time.sleep(0.2)
        os._exit(5)
    start = time.monotonic()
    assert task_exit.wait_for_exit(pid, INTERVAL) is True
    assert time.monotonic() - start < INTERVAL / 2
    # not reaped: the supervisor's own waitpid still gets the status
    assert os.waitpid(pid, os.WNOHANG) == (pid, 5 << 8)
    assert task_exit.wait_for_exit(pid, INTERVAL) is False  # gone: nothing to watch


def test_preload_installs_it_in_the_processes_that_supervise_tasks_only(airflows_wait, monkeypatch):
    monkeypatch.setenv("EES_PRELOAD", "off")  # the imports aside: the wait only
    monkeypatch.setenv("EES_TASK_FIRST_HEARTBEAT", "off")
    assert preload.preload(["airflow", "dag-processor"]) == []
    assert not getattr(WatchedSubprocess._service_subprocess, "waits_for_exit", False)
    assert preload.preload(["airflow", "celery", "worker"]) == ["task_exit_wait"]
    assert WatchedSubprocess._service_subprocess.waits_for_exit
