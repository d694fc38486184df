"""A small client of Airflow's public REST API (v2) for what task code may not do through the ORM.

Airflow 3 forbids the ORM in tasks, so the health check reads other DAGs' runs and pauses a
stopped export here. Credentials are a service user's, kept in an Airflow connection
(EES_AIRFLOW_API_CONN_ID, default `ees_airflow_api`: host/port of the api-server, login, password).
"""

from __future__ import annotations

import functools
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from event_export.settings import airflow_api_conn_id

# the custom header the Exports page's API requires on state changes (request_guard.py)
REQUEST_HEADERS = {"X-EES-Request": "1"}

log = logging.getLogger(__name__)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default certificate verification (certifi's bundle, or SSL_CERT_FILE /
    SSL_CERT_DIR), built once per process.

    Why: httpx builds a new SSL context for every client, even for an http:// URL, and a
    one-off `httpx.request` is a client: loading the CA bundle took about 0.02 CPU-s a call,
    two calls in every `check_destination` task (docs/capacity.md, "Where a task instance's CPU
    goes"). Preload builds it in the processes that fork tasks, so task processes inherit it.
    """
    return httpx.create_ssl_context()


class AirflowApiError(RuntimeError):
    """The API refused a call; the message carries the status and path, never the credentials.
    `status` and `detail` (the server's own sentence, when it gave one) let a caller explain it."""

    def __init__(self, message: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def response_detail(response: httpx.Response) -> str:
    """The server's reason in one line: FastAPI's `detail` (a sentence, or the validation errors
    as `field: message`), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300]
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'request'}: {e.get('msg', '')}"
            for e in detail
            if isinstance(e, dict)
        )
    return " ".join(response.text.split())[:300]


@dataclass
class AirflowApi:
    base_url: str
    username: str
    password: str = field(repr=False)
    timeout: float = 30.0
    _token: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_connection(cls, conn_id: str | None = None) -> AirflowApi:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id or airflow_api_conn_id())
        scheme = conn.schema or "http"
        port = f":{conn.port}" if conn.port else ""
        return cls(f"{scheme}://{conn.host}{port}", conn.login or "", conn.password or "")

    def token(self) -> str:
        """A JWT from POST /auth/token (simple auth manager and FAB both answer it)."""
        if self._token is None:
            response = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=self.timeout,
                verify=tls_context(),
            )
            if response.status_code >= 300:
                raise AirflowApiError(
                    f"POST /auth/token: HTTP {response.status_code}",
                    response.status_code,
                    response_detail(response),
                )
            self._token = response.json()["access_token"]
        return self._token

    @classmethod
    def with_token(cls, base_url: str, token: str) -> AirflowApi:
        """A client that already holds a token (e.g. from EES_API_TOKEN)."""
        api = cls(base_url, "", "")
        api._token = token
        return api

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A public REST API (v2) call; a 404 answers None (no such DAG or run)."""
        return self.call_path(method, f"/api/v2{path}", missing_ok=True, **kwargs)

    def call_path(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        """A call to any path of the api-server (plugins included) with the bearer token."""
        # X-EES-Request: the Exports page's API refuses state changes without it (request_guard)
        headers = {"Authorization": f"Bearer {self.token()}", **REQUEST_HEADERS}
        url = f"{self.base_url}{path}"
        response = httpx.request(
            method, url, headers=headers, timeout=self.timeout, verify=tls_context(), **kwargs
        )
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 300:
            raise AirflowApiError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}",
                response.status_code,
                response_detail(response),
            )
        return response.json() if response.content else None

    def get_dag(self, dag_id: str) -> dict | None:
        return self._call("GET", f"/dags/{quote(dag_id)}")

    def dag_ids(self, prefix: str) -> set[str]:
        """Every DAG id starting with `prefix` that Airflow has and that is not stale (a DAG
        whose file no longer declares it is stale), a page of 100 at a time."""
        found: set[str] = set()
        offset = 0
        while True:
            params = {"dag_id_prefix_pattern": prefix, "limit": 100, "offset": offset}
            page = self._call("GET", "/dags", params=params) or {}
            rows = list(page.get("dags", []))
            found.update(row["dag_id"] for row in rows)
            offset += len(rows)
            if not rows or offset >= page["total_entries"]:
                return found

    def set_paused(self, dag_id: str, paused: bool = True) -> dict:
        """PATCH /api/v2/dags/{dag_id} with is_paused: how a stopped export is paused."""
        done = self._call(
            "PATCH",
            f"/dags/{quote(dag_id)}",
            params={"update_mask": "is_paused"},
            json={"is_paused": paused},
        )
        if done is None:
            raise AirflowApiError(f"PATCH /dags/{dag_id}: no such DAG")
        return done

    def latest_runs(self, dag_id: str, limit: int = 5) -> list[dict]:
        """Finished runs, newest first (by run_after)."""
        found = self._call(
            "GET",
            f"/dags/{quote(dag_id)}/dagRuns",
            params={"order_by": "-run_after", "limit": limit, "state": ["success", "failed"]},
        )
        return list(found["dag_runs"]) if found else []

    def task_instances(self, dag_id: str, run_id: str, state: str | None = None) -> list[dict]:
        params = {"limit": 1000, **({"state": [state]} if state else {})}
        found = self._call(
            "GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances", params=params
        )
        return list(found["task_instances"]) if found else []

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
        path = (
            f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
            f"/xcomEntries/{quote(key)}"
        )
        found = self._call("GET", path, params={"map_index": map_index, "deserialize": True})
        return None if found is None else found.get("value")

    def pools(self, prefix: str) -> dict[str, int]:
        """Every pool whose name starts with `prefix`, with its slots."""
        found, offset = {}, 0
        while True:
            page = self._call(
                "GET",
                "/pools",
                params={"pool_name_prefix_pattern": prefix, "limit": 100, "offset": offset},
            )
            rows = list((page or {}).get("pools", []))
            found.update({row["name"]: row["slots"] for row in rows})
            offset += len(rows)
            if not rows or offset >= page["total_entries"]:
                return found

    def pool(self, name: str) -> int | None:
        """The slots of the pool called `name`, None when there is none: one row, where `pools`
        pages through every pool of a prefix (the api-server counts each listed pool's task
        instances by state)."""
        found = self._call("GET", f"/pools/{quote(name, safe='')}")
        return None if found is None else int(found["slots"])

    def create_pool(self, name: str, slots: int, description: str) -> dict:
        body = {"name": name, "slots": slots, "description": description}
        return self._call("POST", "/pools", json=body)

    def trigger(self, dag_id: str, logical_date: str | None, conf: dict | None = None) -> dict:
        body = {"logical_date": logical_date, "conf": conf or {}}
        return self._call("POST", f"/dags/{quote(dag_id)}/dagRuns", json=body)


def paused_through_api(dag_id: str) -> bool:
    """Whether `dag_id` is paused, asked of the REST API from task code (which may not read the
    metadata database). Without the API connection (the embedded default) or an answer: False,
    so a rule that asks counts the DAG as running, the safe side for it."""
    try:
        dag = AirflowApi.from_connection().get_dag(dag_id)
    except Exception as exc:  # no connection, api-server down, refused: all mean "unknown"
        log.warning("could not ask the REST API whether %s is paused: %s", dag_id, exc)
        return False
    return bool(dag and dag.get("is_paused"))
