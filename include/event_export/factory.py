"""The DAG factory: every valid config under the exports folder becomes one DAG.

A bad config must never take the others down, so nothing here raises for one: broken files are
returned separately, and `dags/export_config_errors.py` turns them into a visible import error.
When a worker parses the file for a single DAG, only that config is read.
"""

from __future__ import annotations

import logging
from pathlib import Path

from event_export.config import ConfigError, load_all, load_config
from event_export.settings import exports_dir

log = logging.getLogger(__name__)
DAG_PREFIX = "export_"


def _requested_dag_id() -> str | None:
    try:
        from airflow.sdk import get_parsing_context

        return get_parsing_context().dag_id
    except ImportError:  # pragma: no cover - older SDKs
        return None


def build_all(folder: Path | None = None) -> dict[str, object]:
    """DAGs by id for every valid config; logs (never raises) for broken ones."""
    from event_export.dag_builder import build_dag

    folder = folder or exports_dir()
    wanted = _requested_dag_id()
    if wanted and wanted.startswith(DAG_PREFIX):
        stem = wanted.removeprefix(DAG_PREFIX)
        path = next(
            (
                folder / f"{stem}{ext}"
                for ext in (".yaml", ".yml")
                if (folder / f"{stem}{ext}").exists()
            ),
            None,
        )
        if path is not None:
            try:
                config = load_config(path)
                return {config.dag_id: build_dag(config, path)}
            except ValueError as exc:
                log.error("export config skipped: %s", exc)
                return {}
    good, errors = load_all(folder)
    for err in errors:
        log.error("export config skipped: %s", err)
    return {config.dag_id: build_dag(config, path) for path, config in good.items()}


def config_errors(folder: Path | None = None) -> list[ConfigError]:
    return load_all(folder or exports_dir())[1]
