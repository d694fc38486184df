"""Starting the services as process groups and stopping exactly those later, by PID.

Each service starts in a session of its own (its PID is its process group, which holds the task
processes it forks). The PID and the process's start time are recorded; `make down` signals a
group only while its leader is still the recorded process, so a PID the system reused for
something else is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Started:
    """One service: its name, PID (= process group) and start time (psutil's create_time)."""

    name: str
    pid: int
    created: float

    def to_dict(self) -> dict:
        return {"name": self.name, "pid": self.pid, "created": self.created}

    @classmethod
    def from_dict(cls, data: dict) -> Started:
        return cls(data["name"], int(data["pid"]), float(data["created"]))

    def alive(self) -> bool:
        """Whether the recorded process still runs (same PID and start time, not a zombie)."""
        try:
            process = psutil.Process(self.pid)
            same = abs(process.create_time() - self.created) < 0.01
            return same and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


def start(
    commands: Mapping[str, list[str]], env: Mapping[str, str], logs: Path, cwd: Path
) -> list[Started]:
    """Start every command with its output in `logs/<name>.log`."""
    logs.mkdir(parents=True, exist_ok=True)
    started = []
    for name, args in commands.items():
        with (logs / f"{name}.log").open("a") as out:
            proc = subprocess.Popen(
                args,
                env=dict(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        started.append(Started(name, proc.pid, psutil.Process(proc.pid).create_time()))
    return started


KILL_WAIT = 10  # s after SIGKILL for the kernel to finish each killed process


def stop(services: list[Started], grace: float = 30) -> list[str]:
    """SIGTERM each live service's process group, SIGKILL what remains after `grace` seconds;
    the names of the services that were running."""
    running = [s for s in services if s.alive()]
    for service in running:
        _signal_group(service.pid, signal.SIGTERM)
    _wait_gone(running, grace)
    for service in running:
        if _group_alive(service.pid):
            _signal_group(service.pid, signal.SIGKILL)
    # a killed process still runs until the kernel has torn it down (seconds for a scheduler of
    # several hundred MB on a loaded machine): `make down` returns once it is gone, so the next
    # `make up` or the caller's check finds no service of this run still running
    _wait_gone(running, KILL_WAIT)
    for service in running:  # reap our own children (when the caller started them)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(service.pid, os.WNOHANG)
    return [s.name for s in running]


def _wait_gone(services: list[Started], seconds: float) -> None:
    """Wait up to `seconds` until no process of the services' groups runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_group_alive(s.pid) for s in services):
        time.sleep(0.3)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` still runs (zombies do not count)."""
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return False
