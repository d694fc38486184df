"""A task's supervisor sends its first heartbeat one interval after the task started, not at once.

Why: Airflow 3.3.2's supervisor (`airflow.sdk.execution_time.supervisor`) tells the execution API
that a task instance started (`task_instances.start`), and the API records that moment as the
task instance's last heartbeat. But the supervisor's own clock of heartbeat attempts starts at
zero, so its first pass after the fork sends a heartbeat at once: one more call to the
api-server (a locked read and an update of the task instance's row) for every task instance,
telling it what the start told it a moment before. A night's task instances mostly take under
a second (7 a small day's run), so that first heartbeat is most of their heartbeats.

`install()` wraps the step that reports the start (`_on_child_started`) so that, once the start
is recorded, the attempt clock reads "now": the next heartbeat goes out after `[workers]
min_heartbeat_interval` (1 s in this project), as every later one does. The server's timeout for
a silent task instance (`[scheduler] task_instance_heartbeat_timeout`, 300 s by default) is not
approached. preload() installs it where task_exit.install() goes (the scheduler's LocalExecutor
workers, the Celery workers' pool processes); EES_TASK_FIRST_HEARTBEAT=off leaves Airflow's
supervisor as it is. Where the supervisor lacks what this relies on (another Airflow version),
nothing is installed and a warning is logged.
"""

from __future__ import annotations

import functools
import time

from event_export.settings import task_first_heartbeat_deferred
from event_export.task_exit import supervisor_class

# what the wrapper reads and sets on Airflow's ActivitySubprocess (checked before installing)
_NEEDS = ("_on_child_started", "_last_heartbeat_attempt", "_last_successful_heartbeat")


def install() -> bool:
    """Defer each task's first heartbeat (module docstring); True when installed (or already)."""
    if not task_first_heartbeat_deferred():
        return False
    ActivitySubprocess = supervisor_class("ActivitySubprocess", _NEEDS, "task_heartbeat")
    if ActivitySubprocess is None:
        return False
    airflows = ActivitySubprocess._on_child_started
    if getattr(airflows, "defers_first_heartbeat", False):
        return True

    @functools.wraps(airflows)
    def _on_child_started(self, *args, **kwargs):
        result = airflows(self, *args, **kwargs)
        # the start just recorded a heartbeat on the server: count it as this one's attempt
        self._last_heartbeat_attempt = time.monotonic()
        return result

    _on_child_started.defers_first_heartbeat = True
    ActivitySubprocess._on_child_started = _on_child_started
    return True
