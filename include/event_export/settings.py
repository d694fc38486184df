"""Deployment settings from the environment: where the lake, the staging area and configs live,
which connections and addresses alerts use. Every EES_* variable is read here and nowhere else."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_EXPORTS_DIR = PACKAGE_DIR.parent / "exports"


def exports_dir() -> Path:
    """Folder of export configs (EES_EXPORTS_DIR, default include/exports)."""
    return Path(os.environ.get("EES_EXPORTS_DIR") or DEFAULT_EXPORTS_DIR)


def lake_uri(configured: str | None) -> str:
    """The config's own source, else EES_LAKE_URI."""
    uri = configured or os.environ.get("EES_LAKE_URI")
    if not uri:
        raise RuntimeError("no event lake: set `source` in the export config or EES_LAKE_URI")
    return uri


def staging_root() -> Path:
    """Local staging between stages (EES_STAGING_DIR, default $AIRFLOW_HOME/staging); with
    EES_STAGING_URI set, only the tasks' scratch folders live here."""
    configured = os.environ.get("EES_STAGING_DIR")
    if configured:
        return Path(configured)
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(airflow_home) / "staging"


def staging_uri() -> str | None:
    """Object-storage staging shared by all workers (EES_STAGING_URI, s3://bucket/prefix);
    unset: the local folder `staging_root()` is the staging area."""
    return os.environ.get("EES_STAGING_URI") or None


def staging_conn_id() -> str:
    """The `aws` connection for EES_STAGING_URI (EES_STAGING_CONN_ID, default aws_default)."""
    return os.environ.get("EES_STAGING_CONN_ID") or "aws_default"


def _days(name: str, default: float) -> float:
    """A non-negative number of days from the environment; anything else names the setting."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        days = float(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number of days") from None
    if not math.isfinite(days) or days < 0:
        raise ValueError(f"{name}: {raw!r} must be a finite number of days, 0 or more")
    return days


def staging_keep_days() -> float:
    """Days a successful run's staging is kept for debugging (EES_STAGING_KEEP_DAYS, default 0:
    removed as soon as the run validates)."""
    return _days("EES_STAGING_KEEP_DAYS", 0)


def staging_host_copies() -> bool:
    """Whether, with staging on S3, a worker keeps a hard link to each file it staged and hands
    it to its own later tasks of the run once S3 confirms the object is that file
    (EES_STAGING_HOST_COPIES, default on; off, 0, false or no: every fetch downloads).
    pipeline/staging.py says why."""
    return _switch("EES_STAGING_HOST_COPIES")


def staging_max_age_days() -> float:
    """Days a failed (never validated) run's staging is kept for a retry
    (EES_STAGING_MAX_AGE_DAYS, default 7)."""
    return _days("EES_STAGING_MAX_AGE_DAYS", 7)


STAGING_CODECS = {"zstd": "zstd", "lz4": "lz4", "none": None}


def staging_compression() -> str | None:
    """How staged Arrow buffers are compressed (EES_STAGING_COMPRESSION: lz4, zstd or none).

    Unset, LZ4 where staging is a local folder and ZSTD on object storage (EES_STAGING_URI): at
    10 M events LZ4 costs the daily zip 7-8% less CPU and stages about 1.4 times the bytes (236
    MB per 1 M events against 165, with the zip's members), which a local disk's page cache
    absorbs and an upload pays for. Readers need no setting: each batch says how it was written
    (docs/performance.md).
    """
    default = "zstd" if staging_uri() else "lz4"
    raw = os.environ.get("EES_STAGING_COMPRESSION", "").strip().lower() or default
    if raw not in STAGING_CODECS:
        allowed = ", ".join(STAGING_CODECS)
        raise ValueError(f"EES_STAGING_COMPRESSION: {raw!r} is not one of {allowed}")
    return STAGING_CODECS[raw]


def deadline_alerts_enabled() -> bool:
    """Whether daily exports get their deadline alert (EES_DEADLINE_ALERTS, default on; off, 0,
    false or no switch it off, as the tests and the demo do: see alerts/deadlines.py)."""
    return _switch("EES_DEADLINE_ALERTS")


def preload_enabled() -> bool:
    """Whether the scheduler, Celery workers and dag-processor import the task code at start
    (EES_PRELOAD, default on; off, 0, false or no turns it off): preload.py says why."""
    return _switch("EES_PRELOAD")


def task_exit_wait_enabled() -> bool:
    """Whether the processes that supervise tasks wait on a finished task process's exit instead
    of sleeping out Airflow's poll interval (EES_TASK_EXIT_WAIT, default on; off, 0, false or no
    turns it off): task_exit.py says why."""
    return _switch("EES_TASK_EXIT_WAIT")


def task_first_heartbeat_deferred() -> bool:
    """Whether a task's supervisor sends its first heartbeat one interval after the task started
    rather than at once (EES_TASK_FIRST_HEARTBEAT, default on; off, 0, false or no turns it off):
    task_heartbeat.py says why."""
    return _switch("EES_TASK_FIRST_HEARTBEAT")


def payload_scanner_enabled() -> bool:
    """Whether extract and format read payloads with the project's JSON scanner in C where it is
    built (EES_PAYLOAD_SCANNER, default on; off, 0, false or no reads them with DuckDB, the way
    before it, to compare or to rule the scanner out): pipeline/payload_cells.py says why."""
    return _switch("EES_PAYLOAD_SCANNER")


def scanner_library() -> str | None:
    """Where the payload scanner's library was built outside the package (EES_SCANNER_LIBRARY:
    the image's, since compose mounts the host's `include` over the package), else None."""
    return os.environ.get("EES_SCANNER_LIBRARY") or None


def _switch(name: str) -> bool:
    """An on/off setting that is on unless set to off, 0, false or no (any case, spaces)."""
    return os.environ.get(name, "on").strip().lower() not in {"off", "0", "false", "no"}


def smtp_conn_id() -> str:
    """The Airflow connection of the mail server (EES_SMTP_CONN_ID, default smtp_default)."""
    return os.environ.get("EES_SMTP_CONN_ID") or "smtp_default"


def oncall_emails() -> tuple[str, ...]:
    """The on-call list (EES_ONCALL_EMAILS, comma separated): deployment setting, not a secret."""
    raw = os.environ.get("EES_ONCALL_EMAILS", "")
    return tuple(a.strip() for a in raw.split(",") if a.strip())


def incidents_path() -> Path:
    """The incident state file (EES_INCIDENTS_PATH, default $AIRFLOW_HOME/ees/incidents.json)."""
    configured = os.environ.get("EES_INCIDENTS_PATH")
    if configured:
        return Path(configured)
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "ees" / "incidents.json"


def upload_pool_slots() -> int:
    """Concurrent uploads to one destination (EES_UPLOAD_POOL_SLOTS, default 4): the slots a new
    upload pool is created with; a pool's slots changed in Airflow are kept."""
    raw = os.environ.get("EES_UPLOAD_POOL_SLOTS", "4")
    slots = int(raw)
    if slots < 1:
        raise ValueError(f"EES_UPLOAD_POOL_SLOTS must be at least 1, not {raw!r}")
    return slots


DEFAULT_SHARD_ROWS = 1_000_000


def shard_rows() -> int:
    """Rows one `format` task handles (EES_SHARD_ROWS, default 1,000,000): small events share a
    shard, a larger event is cut over several (pipeline/shards.py, docs/capacity.md)."""
    raw = os.environ.get("EES_SHARD_ROWS", str(DEFAULT_SHARD_ROWS))
    rows = int(raw)
    if rows < 1:
        raise ValueError(f"EES_SHARD_ROWS must be at least 1, not {raw!r}")
    return rows


def airflow_api_conn_id() -> str:
    """The connection the health check reaches the api-server with (EES_AIRFLOW_API_CONN_ID,
    default ees_airflow_api: host/port, login, password)."""
    return os.environ.get("EES_AIRFLOW_API_CONN_ID") or "ees_airflow_api"


@dataclass(frozen=True)
class ApiLogin:
    """How `ees` reaches the api-server: a token, or a user and password (never arguments, which
    other users can see in `ps`)."""

    url: str
    token: str
    user: str
    password: str = field(repr=False)


def api_login() -> ApiLogin:
    """EES_API_URL (default http://127.0.0.1:8080), EES_API_TOKEN or EES_API_USER +
    EES_API_PASSWORD."""
    return ApiLogin(
        url=os.environ.get("EES_API_URL", "http://127.0.0.1:8080").rstrip("/"),
        token=os.environ.get("EES_API_TOKEN", ""),
        user=os.environ.get("EES_API_USER", ""),
        password=os.environ.get("EES_API_PASSWORD", ""),
    )
