"""Import the task code's heavy modules once per worker, not once per task instance.

Why: on Airflow 3 a task runs in a process *forked* from its worker (LocalExecutor's workers
are themselves forked from the scheduler; a Celery worker forks its pool processes), and the
forked task process exits when its task ends. Every module the task process imports (the
DAG file's factory and config model when it parses the DAG file, pyarrow, numpy and duckdb
when the stage runs) is imported again by the next task instance, about a second of CPU each
time (docs/capacity.md, "Where a task instance's CPU goes"). A module imported before the fork
is inherited instead. The dag-processor forks a process per DAG file parse the same way.

`preload()` is called from `airflow_local_settings.py` (deploy/config/), which Airflow imports
at the start of every Airflow process. It imports by the process's role, from its command line:
the scheduler and Celery workers (which run tasks) get the DAG builder and the stages; the
dag-processor (which only parses) the DAG builder; every other process (api-server, triggerer,
CLI commands) nothing. `EES_PRELOAD=off` turns it off (the bench's "before").
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

from event_export.settings import preload_enabled

log = logging.getLogger(__name__)

PARSING = (
    "event_export.orchestration.factory",
    "event_export.orchestration.dag_builder",
)
TASKS = (
    *PARSING,
    "event_export.pipeline.run",  # pyarrow, numpy, the stages, the formats (duckdb)
    "event_export.destinations.check",
)


def role(argv: Sequence[str]) -> str | None:
    """`tasks` (airflow scheduler, airflow celery worker), `parsing` (airflow dag-processor), or
    None, from an Airflow process's command line."""
    words = [w for w in argv[1:] if not w.startswith("-")][:2]
    if words[:1] == ["scheduler"] or words == ["celery", "worker"]:
        return "tasks"
    if words[:1] == ["dag-processor"]:
        return "parsing"
    return None


def modules_for(argv: Sequence[str]) -> tuple[str, ...]:
    wanted = role(argv)
    if wanted == "tasks":
        return TASKS
    if wanted == "parsing":
        return PARSING
    return ()


def preload(argv: Sequence[str] | None = None) -> list[str]:
    """Import this process's modules (see the module's docstring); the names imported. A module
    that fails to import is logged and skipped: the task that needs it reports the error."""
    if not preload_enabled():
        return []
    done = []
    for name in modules_for(sys.argv if argv is None else argv):
        try:
            importlib.import_module(name)
        except Exception:
            log.warning("preload: cannot import %s", name, exc_info=True)
            continue
        done.append(name)
    return done
