"""Test settings: an isolated AIRFLOW_HOME per session, set before anything imports Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytest_plugins = ["servers.fixtures"]  # test servers on 127.0.0.1 (tests/servers/)

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="ees-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "EES_STAGING_DIR": str(_HOME / "staging"),
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
    """A migrated metadata database (SQLite in the session's AIRFLOW_HOME)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    return _HOME


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
