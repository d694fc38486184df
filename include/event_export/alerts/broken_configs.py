"""On-call hears, once, of every export config that stopped loading, and when it loads again.

Why: a config that fails to load (a typo in an edit, a place another file took: see
config/collisions.py) removes its export's DAG. No DAG means no run, so no deadline alert and no
failure email either: the client's files just stop coming. Airflow shows an import error, but
nobody is paged by one. The hourly health check therefore compares the broken files with those
it already reported (a JSON file beside the incident state) and emails on-call about the new or
changed ones; a file that loads again is logged. Like the failure policy, the state is saved
before the email goes out and restored if the send fails, so no alert repeats and a refused
send is retried at the next check.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from event_export.alerts import emails
from event_export.alerts.deadlines import alert_line
from event_export.config.model import ConfigError
from event_export.config.yaml_reader import printable

log = logging.getLogger("event_export.alerts")
STATE_FILE = "broken_configs.json"  # beside the incident state (EES_INCIDENTS_PATH)


def _key(error: ConfigError) -> str:
    """The file, as messages show it (two files may share an export id: x.yaml and x.yml)."""
    return printable(str(error.path))


def _fingerprint(error: ConfigError) -> str:
    return hashlib.sha256(str(error).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _load(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8") or "{}")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save(path: Path, known: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temp, path)


def alert(
    errors: Sequence[ConfigError],
    path: Path,
    send: Callable[[emails.Email], None],
    to: Sequence[str],
) -> list[str]:
    """Email `to` once about the broken files not reported before (or whose errors changed);
    log those that load again. Returns the files alerted. Call under the incident lock."""
    known = _load(path)
    now = {_key(e): _fingerprint(e) for e in errors}
    fresh = [e for e in errors if known.get(_key(e)) != now[_key(e)]]
    for file in sorted(set(known) - set(now)):
        log.info(alert_line("config_loads_again", file=file))
    if now == known:
        return []
    _save(path, now)
    if not fresh:
        return []
    for error in fresh:
        log.warning(alert_line("config_invalid", export=error.export_id, file=_key(error)))
    try:
        send(emails.broken_configs(to, [str(e) for e in fresh]))
    except Exception:
        _save(path, {**now, **{_key(e): known.get(_key(e), "") for e in fresh}})
        raise
    return [_key(e) for e in fresh]
