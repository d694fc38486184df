"""Airflow DAG file: the export DAGs of shard 4 of 8 (one DAG per config; see
event_export.orchestration.factory).

Declaration only. Exports are spread over dags/exports_00.py .. exports_07.py by a stable hash
of the export id, so no one file's parse can approach the import timeout or take every export
down; a broken config is skipped here and reported by export_config_errors.py.
"""

from event_export.orchestration.factory import build_shard

globals().update(build_shard(__file__))
