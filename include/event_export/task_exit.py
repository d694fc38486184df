"""A task's supervisor sees its task process exit when it exits, not up to a second later.

Why: Airflow 3.3.2's supervisor (`airflow.sdk.execution_time.supervisor`, the process that
forks and watches each task process: a LocalExecutor worker, a Celery pool process) loops until
it has read every socket of the task process to its end *and* seen the process exit. Each pass
waits in `select` on the sockets for up to `[workers] min_heartbeat_interval` (1 s in this
project), then asks `waitpid` without blocking. The task runner closes two of its four sockets
itself just before `os._exit`; the kernel closes the other two while it tears the process down,
an instant before the process can be reaped. When the supervisor wakes on those last two and asks
`waitpid` before that instant, it has no socket left to wake it and sleeps the whole interval in
an empty `select`: its slot (an executor slot, a Celery pool process) sits idle about a second
after a task that is already over. On this 2-core host that happened to 231 of 420 task
instances in the 60-run burst on Celery (docs/capacity.md, "Where a Celery slot's time goes").

`install()` changes only that idle pass: when the supervisor has no socket left to read and has
not yet seen the exit, it waits on the process itself (a pidfd, readable once the process has
exited; it does not reap it) for the same timeout, then Airflow's own exit check runs as before.
Every other pass, the heartbeats and the timeouts stay Airflow's. preload() installs it in the
processes that supervise tasks (the scheduler, whose LocalExecutor workers inherit it, and the
Celery workers, whose pool processes do); EES_TASK_EXIT_WAIT=off leaves Airflow's wait alone.
Where the supervisor no longer has the method or the attributes this relies on (another Airflow
version), nothing is installed and a warning is logged.
"""

from __future__ import annotations

import logging
import os
import select

from event_export.settings import task_exit_wait_enabled

log = logging.getLogger(__name__)

# what the replacement reads of Airflow's WatchedSubprocess (checked before installing)
_NEEDS = ("_service_subprocess", "_check_subprocess_exit", "_exit_code", "selector", "pid")


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Block until process `pid` has exited (reapable, not reaped) or `timeout` seconds pass.
    False when the process cannot be watched this way (no pidfd, or no such process left):
    the caller then waits as it would have."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return False
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.poll(max(0, round(timeout * 1000)))
    finally:
        os.close(fd)
    return True


def supervisor_class(name: str, needs: tuple[str, ...], who: str) -> type | None:
    """Airflow's supervisor class `name` when it has every attribute (or attrs field) in
    `needs`; else None, with a warning naming `who` (this project's adjustment) and what lacks."""
    try:
        from airflow.sdk.execution_time import supervisor
    except ImportError:
        log.warning("%s: no Airflow task supervisor to adjust", who, exc_info=True)
        return None
    found = getattr(supervisor, name, None)
    fields = {f.name for f in getattr(found, "__attrs_attrs__", ())}
    missing = [n for n in needs if not hasattr(found, n) and n not in fields]
    if found is None or missing:
        log.warning("%s: Airflow's supervisor has no %s; left as it is", who, missing or name)
        return None
    return found


def install() -> bool:
    """Replace the supervisor's idle pass (module docstring); True when installed (or already)."""
    if not task_exit_wait_enabled():
        return False
    WatchedSubprocess = supervisor_class("WatchedSubprocess", _NEEDS, "task_exit")
    if WatchedSubprocess is None:
        return False
    airflows = WatchedSubprocess._service_subprocess
    if getattr(airflows, "waits_for_exit", False):
        return True

    def _service_subprocess(self, max_wait_time, raise_on_timeout=False, expect_signal=None):
        if (
            self._exit_code is None
            and not self.selector.get_map()
            and wait_for_exit(self.pid, max(0.01, max_wait_time))
        ):
            return self._check_subprocess_exit(
                raise_on_timeout=raise_on_timeout, expect_signal=expect_signal
            )
        return airflows(self, max_wait_time, raise_on_timeout, expect_signal)

    _service_subprocess.waits_for_exit = True
    _service_subprocess.__wrapped__ = airflows
    WatchedSubprocess._service_subprocess = _service_subprocess
    return True
