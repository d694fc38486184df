"""Airflow's own task-log server app, bound to 127.0.0.1:
`python -m event_export.standalone.log_server PORT`.

Airflow 3.3.2 has no setting for the log servers' bind address: `airflow.utils.serve_logs.core.
serve_logs` passes `host=""` to uvicorn, which listens on every interface (0.0.0.0 and [::]), and
only the ports are settings (`[logging] worker_log_server_port`, `trigger_log_server_port`). So the
scheduler and the triggerer start with `--skip-serve-logs` and this module runs the same app
(`airflow.utils.serve_logs.log_server:get_app`, JWT-checked, serving the logs folder) on loopback
at the ports those settings name, and the api-server can still fetch a running task's log.
"""

from __future__ import annotations

import sys

import uvicorn


def main(port: int) -> None:
    uvicorn.run(
        "airflow.utils.serve_logs.log_server:get_app",
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
