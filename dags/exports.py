"""Airflow DAG factory entry point: one DAG per export config in include/exports/.

Declaration only; the logic lives in the event_export package. A broken config is skipped here
and reported by export_config_errors.py, so it never hides the other exports.
"""

from event_export.factory import build_all

globals().update(build_all())
