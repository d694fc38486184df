"""How a failed task tells the health check whose fault it was, and the Exports page what broke:
small XComs, pushed as it fails.

Only ClientSideError (credentials, bucket, path, permissions, retention) is the client's; any other
exception is ours. `client_error` holds the client-facing explanation and fix, never a secret. A
client's error fails the task without retries: minutes later the bucket is still missing, and the
hourly health check and the next run are what follow it up.

Every failure of a wrapped task also pushes `failure`: the exception's class name (and a client
error's or a connection problem's code), never its message, which may quote a path or a server's
answer. Airflow 3 keeps no exception in its metadata database, and reading logs in bulk is slow;
this XCom lets the page show `FAILED` with the task and the error class in one query for all
exports.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from event_export.destinations.errors import ClientSideError, SetupError

XCOM_KEY = "client_error"
FAILURE_KEY = "failure"
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def client_error_record(exc: ClientSideError) -> dict[str, str]:
    return {"code": exc.code, "explanation": exc.explanation, "fix": exc.fix}


def failure_record(exc: BaseException) -> dict[str, str]:
    """The class of what failed (the cause of a deliberate AirflowFailException), no message."""
    from airflow.sdk.exceptions import AirflowFailException

    cause = exc.__cause__ if isinstance(exc, AirflowFailException) and exc.__cause__ else exc
    record = {"error": type(cause).__name__}
    if isinstance(cause, ClientSideError | SetupError):
        record["code"] = cause.code
    return record


def _push(key: str, value: dict) -> None:
    """Best effort: a failing push must not hide the task's own error."""
    try:
        from airflow.sdk import get_current_context

        get_current_context()["ti"].xcom_push(key=key, value=value)
    except Exception:
        log.warning("could not record the failure in XCom %r", key, exc_info=True)


def reports_failures(func: F) -> F:
    """Wrap a task body: on any exception push its `failure` record, then raise it unchanged."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            _push(FAILURE_KEY, failure_record(exc))
            raise

    return wrapper  # type: ignore[return-value]


def reports_client_errors(func: F) -> F:
    """Wrap a task body: on ClientSideError push its record to XCom and fail without retrying;
    any failure also pushes its `failure` record (see reports_failures)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ClientSideError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            _push(XCOM_KEY, client_error_record(exc))
            raise AirflowFailException(f"client-side error ({exc.code}): {exc}") from exc

    return reports_failures(wrapper)  # type: ignore[return-value]
