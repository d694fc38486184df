"""The Exports page: plain HTML, CSS and a little vanilla JS, no build step.

The three live as files in `ui/page/` (package data, so a wheel install serves them too) and are
put together once per process into one HTML answer: no extra routes, and the page calls the JSON
API next to it with relative URLs, so it works wherever the app is mounted and inside the Airflow
UI's iframe. The browser sends Airflow's `_token` cookie with each call, and every state-changing
call carries the `X-EES-Request: 1` header the API requires (a page on another origin cannot send
it; see request_guard.py).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

PAGE_FILES = files("event_export.ui") / "page"


@cache
def template() -> str:
    """The page with its style and script in place; `__OPTIONS__` is left for `render`."""
    html = (PAGE_FILES / "exports.html").read_text(encoding="utf-8")
    css = (PAGE_FILES / "exports.css").read_text(encoding="utf-8")
    script = (PAGE_FILES / "exports.js").read_text(encoding="utf-8")
    return html.replace("/* STYLE */", css).replace("/* SCRIPT */", script)


def render(options: dict) -> str:
    """The page with the filters' choices and settings it shows. `<` is escaped in the JSON so
    no value (a folder name, say) can close the script element."""
    return template().replace("__OPTIONS__", json.dumps(options).replace("<", "\\u003c"))
