"""Deployment settings from the environment: where the lake, the staging area and configs live."""

from __future__ import annotations

import os
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
    """Scratch space between stages (EES_STAGING_DIR, default $AIRFLOW_HOME/staging)."""
    configured = os.environ.get("EES_STAGING_DIR")
    if configured:
        return Path(configured)
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(airflow_home) / "staging"
