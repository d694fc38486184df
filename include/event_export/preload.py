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

One more thing a task process may pay is done once in the processes that run tasks: the Task
SDK's plugins. Each task process's start-up asks the SDK's listener manager, which loads every
plugin from the plugins folder, here our Exports page (FastAPI and its pydantic models): 0.76
CPU-s in a forked child that had not loaded them (`bench/task_start.py`). Both are cached per
process, so loading them before the fork makes every task process inherit them
(`warm_task_sdk`). On LocalExecutor the scheduler's own plugin load already made it cheap (0.003
CPU-s a task process, `bench/night.py --probe`); a process that has not loaded them would pay it
for each task.

The same processes also get `task_exit.install()`: their task supervisors wait on a finished
task process's exit rather than sleeping out Airflow's poll interval (task_exit.py says why);
and `task_heartbeat.install()`: no heartbeat right after the start the API just recorded
(task_heartbeat.py).

The same processes import the providers of the destination kinds the exports use
(`DESTINATIONS`, read from the configs' `destination.type` at start): a forked task imported its
destination's provider hook at each `check_destination` and `upload`, 0.2 CPU-s for S3 and SFTP,
about 0.4 for GCS and Azure (docs/capacity.md). A kind no config names is not imported (memory);
an export of a new kind added later imports its provider in its tasks until the next restart.

Where S3 is in use (a destination or the staging), `warm_s3` also shares botocore's data loader
among the S3 clients the task processes build, loaded here.

One more cost of each task process's start is paid here once: the Task SDK's pydantic
validators for the supervisor's messages and rendered fields (task_adapters.py). And one of
each Celery pool process's first task: Airflow's models and their ORM mappers, which the
database result backend's first write sets up (`warm_orm`).

The same holds for the TLS context of our REST API client (`airflow_api.tls_context`):
httpx loads the CA bundle for every request otherwise, twice in each `check_destination`; and
for the payload scanner's library (`payload_cells`), loaded once here, where a missing build is
logged at the start.

Nothing here starts a thread or opens a connection before a fork: duckdb and pyarrow are
imported, never used (their thread pools and DuckDB's connections start in the task process).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from event_export import task_adapters, task_exit, task_heartbeat
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
    # imported by the stages on first use, not by their modules: pyarrow's first conversion of
    # a Python value (pa.scalar, pa.array: the lake window's bounds in pipeline/lake.py, and
    # more) sets up its pandas compatibility layer, which imports pandas (294 modules: 1.2-1.4
    # CPU-s a task process without bytecode, about 0.3 from .pyc files)
    "pyarrow.pandas_compat",
    "pandas",
    "_strptime",  # datetime.strptime's first call
    # imported by every task process of the night's bench that preload did not give them
    # (`bench/night.py --probe`, each task process's own imports): the Task SDK's DAG bundle,
    # its asset metadata and cache, the template environment's extensions and the codec its
    # lexer reads string literals with (the mapped tasks' map index template), the version
    # checks pyarrow makes on first use
    "airflow.dag_processing.bundles.local",
    "airflow.sdk.definitions.asset.metadata",
    "airflow.sdk.execution_time.cache",
    "airflow.version",
    "jinja2.ext",
    "pyarrow.vendored.version",
    "encodings.unicode_escape",
    # the task runner's parse of the DAG file (`BundleDagBag`) and what it imports (Airflow's
    # serialization, trigger rules, dependencies): a scheduler has them; a Celery worker's pool
    # process got them only as a side effect of its result backend's first write (Airflow's
    # models, imported by the database backend), so with another backend each task process
    # imported them itself, 0.08 CPU-s a task instance (docs/capacity.md)
    "airflow.dag_processing.dagbag",
)


# what each kind of destination imports when a task uses it (destinations/<kind>.py)
DESTINATIONS = {
    "local": ("event_export.destinations.local", "airflow.providers.standard.hooks.filesystem"),
    "s3": ("event_export.destinations.s3", "airflow.providers.amazon.aws.hooks.s3"),
    "gcs": ("event_export.destinations.gcs", "airflow.providers.google.cloud.hooks.gcs"),
    "azure": (
        "event_export.destinations.azure",
        "airflow.providers.microsoft.azure.hooks.wasb",
        "azure.storage.blob",
    ),
    "sftp": ("event_export.destinations.sftp", "airflow.providers.sftp.hooks.sftp", "paramiko"),
    "ftp": ("event_export.destinations.ftp", "airflow.providers.ftp.hooks.ftp"),
}


def destination_kinds(folder: Path) -> list[str]:
    """The destination kinds the configs in `folder` name, sorted. Each file is only read as
    YAML (the project's bounded reader), not validated: a file that does not read, or names no
    known kind, adds nothing (its DAG reports the problem)."""
    from event_export.config.model import config_files
    from event_export.config.yaml_reader import read

    kinds = set()
    for path in config_files(folder):
        try:
            data = read(path)
        except Exception:
            continue
        destination = data.get("destination") if isinstance(data, dict) else None
        kind = destination.get("type") if isinstance(destination, dict) else None
        if isinstance(kind, str) and kind in DESTINATIONS:
            kinds.add(kind)
    return sorted(kinds)


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
    that fails to import is logged and skipped: the task that needs it reports the error. In a
    process that runs tasks, also load the Task SDK's plugins, and (whether or not preload is on)
    let its task supervisors see a task process's exit at once (task_exit.py: `task_exit_wait`
    among the names when installed) and defer a task's first heartbeat (task_heartbeat.py:
    `task_first_heartbeat`)."""
    argv = sys.argv if argv is None else argv
    done = []
    if role(argv) == "tasks" and task_exit.install():
        done.append("task_exit_wait")
    if role(argv) == "tasks" and task_heartbeat.install():
        done.append("task_first_heartbeat")
    if not preload_enabled():
        return done
    done += _import(modules_for(argv))
    if role(argv) == "tasks":
        kinds = kinds_in_use()
        done += _import([name for kind in kinds for name in DESTINATIONS[kind]])
        if "s3" in kinds and warm_s3():
            done.append("s3_client_data")
        if warm_task_sdk():
            done.append("task_sdk_plugins")
        if _warmed("build the Task SDK's validators", task_adapters.install):
            done.append("task_sdk_validators")
        if warm_tls():
            done.append("tls_context")
        if warm_scanner():
            done.append("payload_scanner")
        if warm_orm():
            done.append("orm_mappers")
    return done


def warm_orm() -> bool:
    """Import Airflow's models and configure their ORM mappers before the forks. A Celery
    worker's pool process does that at its first write to the database result backend (0.3
    CPU-s, once per pool process); a scheduler has done it already. False (and logged) when it
    fails: the pool processes then do it themselves, as without preload."""

    def configure() -> None:
        from airflow.models import import_all_models
        from sqlalchemy.orm import configure_mappers

        import_all_models()
        configure_mappers()

    return _warmed("configure Airflow's ORM mappers", configure)


def warm_scanner() -> bool:
    """Load the payload scanner's library (pipeline/payload_cells.py) before the forks: each task
    process inherits it loaded, and a missing or stale build is logged once here, at the start,
    rather than in the first task that reads payloads."""

    def load() -> bool:
        from event_export.pipeline import payload_cells

        return payload_cells.available()

    return _warmed("load the payload scanner", load)


def warm_task_sdk() -> bool:
    """Load the Task SDK's plugins and listener manager in this process (both cached per
    process), so the task processes forked below it inherit them instead of loading every plugin
    again at each task's start. False (and logged) when that fails: each task then loads them
    itself, as without preload."""

    def load() -> None:
        from airflow.sdk.listener import get_listener_manager
        from airflow.sdk.plugins_manager import integrate_macros_plugins

        get_listener_manager()
        integrate_macros_plugins()

    return _warmed("load the Task SDK's plugins", load)


def warm_tls() -> bool:
    """Build the REST API client's TLS context (cached per process) before the forks. False
    (and logged) when that fails: each task then builds its own, as without preload."""

    def build() -> None:
        from event_export.orchestration.airflow_api import tls_context

        tls_context()

    return _warmed("build the API client's TLS context", build)


def _warmed(what: str, action: Callable[[], bool | None]) -> bool:
    """Run `action` in this process before the forks; False when it returns False, or raises
    (logged as "cannot <what>"): the tasks then do that work themselves, as without preload."""
    try:
        return action() is not False
    except Exception:
        log.warning("preload: cannot %s", what, exc_info=True)
        return False


def kinds_in_use() -> list[str]:
    """The destination kinds the configs name, and `s3` when staging is on S3 (the same
    provider and client)."""
    from event_export.settings import exports_dir, staging_uri

    kinds = set(destination_kinds(exports_dir()))
    if staging_uri():
        kinds.add("s3")
    return sorted(kinds)


def warm_s3() -> bool:
    """Share botocore's data loader among the S3 clients of this process and its forks, and load
    the S3 client's data here. Each task that stages on S3 or delivers to S3 builds a client
    through a new boto3 session, and each session made a loader of its own that read and parsed
    the S3 service model, its endpoint rules and defaults again: 0.13 CPU-s for a task process's
    first client, 0.05 for each one after (docs/capacity.md, "S3 clients in task processes").
    One loader per data path (AWS_DATA_PATH), as botocore makes; what it caches is the JSON
    botocore ships, which the clients of one session already share. No credentials are looked up
    and no connection is opened here (the client is made with placeholder keys and a region)."""

    def load() -> None:
        import boto3
        import botocore.session

        make = botocore.session.create_loader
        if getattr(make, "shared", False):
            return
        loaders: dict[str | None, object] = {}

        def shared_loader(search_path_string: str | None = None):
            if search_path_string not in loaders:
                loaders[search_path_string] = make(search_path_string)
            return loaders[search_path_string]

        shared_loader.shared = True
        botocore.session.create_loader = shared_loader
        boto3.session.Session().client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id="preload",
            aws_secret_access_key="preload",
        )
        # The amazon provider's hooks name their caller in the user agent through
        # `inspect.stack()`, whose first call in a process maps every loaded module to its file
        # (1,800 `realpath`s here); mapped before the fork, a task process maps only its own.
        inspect.stack()

    return _warmed("load the S3 client's data", load)


def _import(names: Sequence[str]) -> list[str]:
    """Import each module; the names imported. One that fails is logged and skipped."""
    done = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            log.warning("preload: cannot import %s", name, exc_info=True)
            continue
        done.append(name)
    return done
