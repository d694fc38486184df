"""Test settings: an isolated AIRFLOW_HOME per session, set before anything imports Airflow."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="ees-airflow-"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _metadata_database() -> str:
    """A fresh PostgreSQL database for Airflow where the machine runs one, else SQLite.

    The machines this project runs on start PostgreSQL on 127.0.0.1:5432 (trust auth); a laptop
    without it still runs the suite on SQLite, Airflow's embedded default.
    """
    try:
        import psycopg2

        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except Exception:  # no server here: the embedded default
        return f"sqlite:///{_HOME / 'airflow.db'}"
    name = f"ees_test_{os.getpid()}"
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ees\\_test\\_%'")
        for (stale,) in cur.fetchall():  # left by a session that was killed
            if stale == name or not Path(f"/proc/{stale.rsplit('_', 1)[1]}").exists():
                cur.execute(f"DROP DATABASE IF EXISTS {stale} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    admin.close()
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


METADATA_DB = _metadata_database()
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "EES_STAGING_DIR": str(_HOME / "staging"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": METADATA_DB,
    }
)
os.environ.pop("EES_EXPORTS_DIR", None)
os.environ.pop("EES_LAKE_URI", None)


def set_local_connection(conn_id: str, root: Path) -> None:
    """An Airflow `fs` connection through the environment, as a deployment's secrets would give."""
    root.mkdir(parents=True, exist_ok=True)
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "fs", "extra": {"path": str(root)}}
    )


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata database (see METADATA_DB), dropped after the session."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    return _HOME


def pytest_sessionfinish(session, exitstatus) -> None:
    """Drop the session's PostgreSQL database, whatever happened."""
    if not METADATA_DB.startswith("postgresql"):
        return
    import psycopg2

    with contextlib.suppress(ImportError):
        from airflow.settings import dispose_orm

        dispose_orm()
    admin = psycopg2.connect(PG_ADMIN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {METADATA_DB.rsplit('/', 1)[1]} WITH (FORCE)")
    admin.close()


@pytest.fixture(scope="session")
def demo_day() -> date:
    return date(2026, 11, 1)


@pytest.fixture(scope="session")
def kolkata_lake(tmp_path_factory, demo_day) -> Path:
    """A small generated lake around one Asia/Kolkata day, shared by the tests that only read it."""
    from event_export.generator import write_window
    from event_export.windows import day_window

    root = tmp_path_factory.mktemp("lake")
    write_window(root, day_window(demo_day, ZoneInfo("Asia/Kolkata")), 6_000)
    return root
