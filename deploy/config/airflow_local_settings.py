"""Airflow imports this module at the start of every Airflow process (from $AIRFLOW_HOME/config
or the PYTHONPATH). The project's use: import the task code's heavy modules once in the
processes that fork task and parse processes (event_export/preload.py says why and which)."""

from event_export.preload import preload

preload()
