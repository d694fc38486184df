"""Refuse state-changing calls that another origin could make with the user's Airflow cookie.

The Exports page authenticates by Airflow's `_token` cookie, which the UI sets from JavaScript
(not HttpOnly, no SameSite), so a page on another origin (another port of the same host, a sibling
subdomain, another site) can make the browser send it. Two checks close that, before the user is
even looked up:

1. A custom header, `X-EES-Request: 1`. An HTML form cannot set headers, and a `fetch` from
   another origin that sets one needs a CORS preflight, which this app never grants (a `no-cors`
   fetch drops it). The page's JavaScript, the `ees` CLI and scripts send it.
2. Where the browser says where the request comes from, it must be this api-server's own origin:
   `Sec-Fetch-Site` must be `same-origin`, and `Origin` must equal the origin the request was
   addressed to (its scheme and `Host`) or `[api] base_url`'s. Non-browser clients (curl, `ees`)
   send neither header and pass on the custom header alone.

A body typed as a form (`application/x-www-form-urlencoded`, `multipart/form-data`,
`text/plain`: what a form can send without a preflight) is refused too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import HTTPException, Request, status

# the header the page's JavaScript and `ees` send
from event_export.orchestration.airflow_api import REQUEST_HEADERS

((HEADER, VALUE),) = REQUEST_HEADERS.items()
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def _origin(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lower-case, default ports dropped; None if not a URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def own_origins(request: Request) -> set[str]:
    """The origins this api-server answers as: the one the request was sent to (scheme and
    Host header, which a browser sets to the target, never to the calling page), and the
    configured `[api] base_url` when the server sits behind a proxy."""
    found = {_origin(f"{request.url.scheme}://{request.headers.get('host', '')}")}
    try:
        from airflow.configuration import conf

        base_url = conf.get("api", "base_url", fallback="") or ""
    except Exception:  # outside Airflow (unit tests of this module): the request's own origin
        base_url = ""
    if base_url:
        found.add(_origin(base_url))
    return {o for o in found if o}


def refusal(request: Request) -> str | None:
    """Why this request may not change state, or None when it may."""
    headers = request.headers
    if headers.get(HEADER) != VALUE:
        return (
            f"refused: state-changing calls need the header '{HEADER}: {VALUE}' (the page and "
            "`ees` send it); a page on another origin cannot send it"
        )
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        return f"refused: a {content_type} body is what a cross-site form sends; send JSON"
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return f"refused: cross-origin request (Sec-Fetch-Site: {fetch_site})"
    origin = headers.get("origin")
    if origin is not None and _origin(origin) not in own_origins(request):
        return f"refused: request from another origin ({origin[:100]})"
    return None


async def same_origin_only(request: Request) -> None:
    """FastAPI dependency for every state-changing route: 403 with the reason."""
    reason = refusal(request)
    if reason:
        raise HTTPException(status.HTTP_403_FORBIDDEN, reason)
