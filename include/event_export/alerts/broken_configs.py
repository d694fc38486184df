"""On-call hears, once, of every export that has no DAG, and when it has one again.

Why: a config that fails to load (a typo in an edit, a place another file took: see
config/collisions.py) or whose DAG file fails to import removes its export's DAG. No DAG means no
run, so no deadline alert and no failure email either: the client's files just stop coming.
Airflow shows an import error, but nobody is paged by one. The hourly health check therefore
hands over every such file with what is wrong with it (orchestration/health_check.py finds them:
broken configs, and valid ones Airflow has no DAG for), compares them with those it already
reported (a JSON file beside the incident state) and emails on-call about the new or changed
ones; a file that is fine again is logged. Like the failure policy, the state is saved before
the email goes out and restored if the send fails, so no alert repeats and a refused send is
retried at the next check.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from event_export.alerts import emails
from event_export.alerts.deadlines import alert_line
from event_export.alerts.incidents import replace_json
from event_export.config.model import ConfigError
from event_export.config.yaml_reader import printable

log = logging.getLogger("event_export.alerts")
STATE_FILE = "broken_configs.json"  # beside the incident state (EES_INCIDENTS_PATH)


def lines(errors: Sequence[ConfigError]) -> dict[str, str]:
    """Each broken file (as messages show it: x.yaml and x.yml may share an export id) with what
    is wrong with it, as the import error says it."""
    return {printable(str(e.path)): str(e) for e in errors}


def _fingerprint(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _load(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8") or "{}")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def alert(
    problems: Mapping[str, str],
    path: Path,
    send: Callable[[emails.Email], None],
    to: Sequence[str],
) -> list[str]:
    """Email `to` once about the files of `problems` (file -> what is wrong) not reported before
    or whose problem changed; log those that are fine again. Returns the files alerted. Call
    under the incident lock."""
    known = _load(path)
    now = {file: _fingerprint(line) for file, line in problems.items()}
    fresh = [file for file in sorted(now) if known.get(file) != now[file]]
    for file in sorted(set(known) - set(now)):
        log.info(alert_line("config_loads_again", file=file))
    if now == known:
        return []
    replace_json(path, now)
    if not fresh:
        return []
    for file in fresh:
        log.warning(alert_line("config_invalid", file=file))
    try:
        send(emails.broken_configs(to, [problems[file] for file in fresh]))
    except Exception:
        replace_json(path, {**now, **{file: known.get(file, "") for file in fresh}})
        raise
    return fresh
