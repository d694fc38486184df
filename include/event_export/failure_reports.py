"""How a failed task tells the health check whose fault it was: a small XCom, pushed as it fails.

Only ClientSideError (credentials, bucket, path, permissions, retention) is the client's; any other
exception is ours. The XCom holds the client-facing explanation and fix, never a secret. A client's
error fails the task without retries: minutes later the bucket is still missing, and the hourly
health check and the next run are what follow it up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from event_export.destinations.errors import ClientSideError

XCOM_KEY = "client_error"
F = TypeVar("F", bound=Callable[..., Any])


def client_error_record(exc: ClientSideError) -> dict[str, str]:
    return {"code": exc.code, "explanation": exc.explanation, "fix": exc.fix}


def reports_client_errors(func: F) -> F:
    """Wrap a task body: on ClientSideError push its record to XCom and fail without retrying."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ClientSideError as exc:
            from airflow.sdk import get_current_context
            from airflow.sdk.exceptions import AirflowFailException

            get_current_context()["ti"].xcom_push(key=XCOM_KEY, value=client_error_record(exc))
            raise AirflowFailException(f"client-side error ({exc.code}): {exc}") from exc

    return wrapper  # type: ignore[return-value]
