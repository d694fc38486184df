"""Airflow DAG file: the hourly health check of every export
(logic: event_export.orchestration.health_check)."""

from event_export.orchestration.health_dag import build_health_dag

dag = build_health_dag()
