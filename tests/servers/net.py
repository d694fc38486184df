"""Ports and waiting for servers."""

from __future__ import annotations

import json
import os
import socket
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.02)


def set_connection(conn_id: str, conn: dict) -> None:
    """An Airflow connection through the environment, as a deployment's secrets backend gives."""
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
