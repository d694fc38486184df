"""Stopping by recorded PID: the whole process group goes, a reused PID is never signalled."""

import sys
import time

import psutil
from event_export.standalone import processes

# a parent that forks a child and both sleep: the child stands for a task process
PARENT = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
)


def test_stop_ends_the_group_with_its_children(tmp_path):
    started = processes.start({"svc": [sys.executable, "-c", PARENT]}, {}, tmp_path, tmp_path)
    (service,) = started
    deadline = time.monotonic() + 10
    while not psutil.Process(service.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = psutil.Process(service.pid).children()[0]
    assert service.alive()
    assert processes.stop(started, grace=10) == ["svc"]
    assert not service.alive()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert (tmp_path / "svc.log").exists()
    assert processes.stop(started) == []  # nothing left to stop


def test_a_pid_whose_start_time_differs_is_left_alone(tmp_path):
    (service,) = processes.start({"svc": [sys.executable, "-c", PARENT]}, {}, tmp_path, tmp_path)
    other = processes.Started("svc", service.pid, service.created - 100)  # "reused" PID
    try:
        assert not other.alive()
        assert processes.stop([other]) == []
        assert service.alive()
    finally:
        processes.stop([service], grace=10)


def test_a_service_deaf_to_sigterm_is_killed_and_gone_when_stop_returns(tmp_path):
    deaf = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('deaf', flush=True); time.sleep(60)"
    )
    started = processes.start({"deaf": [sys.executable, "-c", deaf]}, {}, tmp_path, tmp_path)
    (service,) = started
    deadline = time.monotonic() + 30  # a cold interpreter may take a while to ignore SIGTERM
    while "deaf" not in (tmp_path / "deaf.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    began = time.monotonic()
    assert processes.stop(started, grace=1) == ["deaf"]
    assert time.monotonic() - began >= 1  # SIGTERM was ignored for the whole grace
    assert not processes._group_alive(service.pid)  # killed, and torn down, before the return
