"""Airflow DAG file with no DAG: it fails to import while any export config is broken.

That import error is how the Airflow UI shows a broken config (or a config whose DAG does not
build), naming the file and the field, while the exports_NN.py files keep every valid export
running.
"""

from event_export.orchestration.factory import config_errors

_errors = config_errors()
if _errors:
    raise ValueError(
        f"{len(_errors)} export config(s) are invalid and were skipped:\n"
        + "\n".join(str(e) for e in _errors)
    )
