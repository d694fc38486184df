"""File names clients see. Names must be stable (reruns overwrite) and can never escape a folder."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime

_SEPARATORS = re.compile(r"[\t\n\r\x0b\x0c/\\\x00]")
_CONTROL = re.compile(r"[\x01-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s")


def safe_component(name: str, keep_spaces: bool = True) -> str:
    """One path component from any event name: no separators, no control characters, no '..'.

    Tabs, line breaks, slashes and NUL become '-', other control characters '?'. Spaces stay, as
    the daily-zip examples keep them ("add to cart_01012022.csv"); with `keep_spaces=False` every
    whitespace character becomes '-' too, as the GCP export document asks.
    """
    cleaned = _CONTROL.sub("?", _SEPARATORS.sub("-", name))
    cleaned = cleaned.strip() if keep_spaces else _WHITESPACE.sub("-", cleaned)
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


# GCP export names (seed 003). Parts are joined by '-', so ids never contain one; the run's
# timestamp comes from the data interval, not the clock, so a rerun writes the same names.


def request_id_for(client_id: str, export_id: str, period_key: str) -> str:
    """A run's 10-digit request id: one per export and period, so a rerun of the same period has
    the same id (and writes the same names) and searching for it finds exactly that run's files.
    """
    digest = hashlib.sha256(f"{client_id}/{export_id}/{period_key}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**10:010d}"


def run_timestamp(interval_end: datetime) -> str:
    """The export run's timestamp: Unix seconds of the interval's end (when the run is due)."""
    return str(int(interval_end.timestamp()))


def gcp_event_components(events: list[str]) -> dict[str, str]:
    """Each event's name part: whitespace too becomes '-'; collisions get a short hash."""
    tagged = unique_names({e: f"{safe_component(e, keep_spaces=False)}.x" for e in events})
    return {event: name.removesuffix(".x") for event, name in tagged.items()}


def gcp_event_file_name(
    request_id: str, run_ts: str, event_part: str, day: date, index: int, database_id: str, ext: str
) -> str:
    """`<request id>-<run timestamp>-<event name>-<yyyymmdd>-<file index>-<database-id>.<ext>`."""
    return f"{request_id}-{run_ts}-{event_part}-{day:%Y%m%d}-{index}-{database_id}.{ext}"


def gcp_profile_file_name(
    account_id: int, request_id: str, run_ts: str, database_id: str, file_format: str
) -> str:
    """`<account id>-<request id>-<run timestamp>-<database-id>-<file format>.gz`."""
    return f"{account_id}-{request_id}-{run_ts}-{database_id}-{file_format}.gz"


def gcp_manifest_name(prefix: str, day: date, database_id: str) -> str:
    """The delivery's manifest: `<prefix>-<yyyymmdd>-<database-id>.manifest.json`, where the
    prefix is the files' own leading parts (request id and run timestamp, after the account id
    for profiles), so it sorts beside the files it describes."""
    return f"{prefix}-{day:%Y%m%d}-{database_id}.manifest.json"
