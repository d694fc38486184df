"""The cross-origin guard's rules on bare requests (the API tests run them through the app)."""

import pytest
from event_export.ui.request_guard import _origin, refusal
from starlette.requests import Request


def request(host: str = "airflow.example:8080", scheme: str = "http", **headers) -> Request:
    raw = [(b"host", host.encode())] + [
        (k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()
    ]
    scope = {"type": "http", "scheme": scheme, "headers": raw, "method": "POST", "path": "/"}
    return Request(scope | {"query_string": b""})


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://Airflow.Example:8080", "http://airflow.example:8080"),
        ("https://airflow.example:443/", "https://airflow.example"),
        ("http://airflow.example:80", "http://airflow.example"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("file:///etc/passwd", None),
        ("http://x:notaport", None),
        ("", None),
    ],
)
def test_origins_are_compared_in_one_spelling(url, origin):
    assert _origin(url) == origin


def test_the_host_the_request_was_sent_to_is_the_own_origin():
    ok = {"X-EES-Request": "1"}
    assert refusal(request(**ok, Origin="http://airflow.example:8080")) is None
    assert refusal(request(**ok, Origin="http://AIRFLOW.example:8080")) is None
    assert refusal(request(**ok, Origin="http://airflow.example:8081"))
    assert (
        refusal(
            request(scheme="https", host="airflow.example", **ok, Origin="https://airflow.example")
        )
        is None
    )
    assert refusal(request(**ok, Sec_Fetch_Site="same-origin")) is None
    assert "Sec-Fetch-Site: same-site" in refusal(request(**ok, Sec_Fetch_Site="same-site"))


def test_the_header_comes_first_and_names_itself():
    assert "X-EES-Request: 1" in refusal(request(Origin="http://airflow.example:8080"))
