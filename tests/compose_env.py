"""deploy/airflow.env read as docker compose reads it: the settings and connections it gives."""

from __future__ import annotations

import json
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parents[1] / "deploy" / "airflow.env"


def env_file(path: Path = ENV_FILE) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value
    return pairs


def connections(path: Path = ENV_FILE) -> dict[str, dict]:
    """Every AIRFLOW_CONN_* as its JSON, by connection id."""
    return {
        key.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value)
        for key, value in env_file(path).items()
        if key.startswith("AIRFLOW_CONN_")
    }
