"""File names clients see. Names must be stable (reruns overwrite) and can never escape a folder."""

from __future__ import annotations

import hashlib
import re
from datetime import date

_SEPARATORS = re.compile(r"[\t\n\r\x0b\x0c/\\\x00]")
_CONTROL = re.compile(r"[\x01-\x1f\x7f]")


def safe_component(name: str) -> str:
    """One path component from any event name: no separators, no control characters, no '..'.

    Tabs, line breaks, slashes and NUL become '-', other control characters '?'. Spaces stay, as
    the daily-zip examples keep them ("add to cart_01012022.csv").
    """
    cleaned = _CONTROL.sub("?", _SEPARATORS.sub("-", name)).strip()
    cleaned = cleaned.lstrip(".") or "-"
    return cleaned[:200]


def ddmmyyyy(day: date) -> str:
    return f"{day:%d%m%Y}"


def daily_zip_name(client_id: str, day: date) -> str:
    """`<clientID>_<DDMMYYYY>.zip` from the Event Data Scheduler document."""
    return f"{safe_component(client_id)}_{ddmmyyyy(day)}.zip"


def daily_csv_name(event_name: str, day: date) -> str:
    """`<event name>_<DDMMYYYY>.csv` from the Event Data Scheduler document."""
    return f"{safe_component(event_name)}_{ddmmyyyy(day)}.csv"


def manifest_name(data_file: str) -> str:
    stem = data_file.rsplit(".", 1)[0]
    return f"{stem}.manifest.json"


def staging_key(event_name: str) -> str:
    """A short, fixed-alphabet key for staging files of one event, whatever its name."""
    return hashlib.sha256(event_name.encode()).hexdigest()[:16]


def unique_names(names: dict[str, str]) -> dict[str, str]:
    """Disambiguate event names that sanitise to the same file name, deterministically."""
    seen: dict[str, int] = {}
    for file_name in names.values():
        seen[file_name] = seen.get(file_name, 0) + 1
    out = {}
    for event, file_name in names.items():
        if seen[file_name] > 1:
            stem, dot, ext = file_name.rpartition(".")
            file_name = f"{stem}-{staging_key(event)[:6]}{dot}{ext}"
        out[event] = file_name
    return out
