"""Deadline first: which runs the scheduler starts first when it cannot start them all, and which
uploads share a cap because they go to the same client server.

Airflow orders waiting task instances by `priority_weight` (higher first). With
`weight_rule="absolute"` a task's weight is its own, not summed over its downstream tasks, so
every task of a run carries the same weight and a DAG's shape does not change its rank. The
weight is fixed when the DAG is parsed, so it ranks exports by where their deadline falls in
UTC, not by the run: the deadline of client day D, as minutes after D's midnight in UTC, lies
between 10 h (UTC+14, deadline 00:00) and 60 h (UTC-12, deadline 23:59); the earlier, the
heavier. Runs of the same night therefore go in deadline order whatever their zones. (Exports
without a deadline, recurring and one-time, weigh least.)

Uploads are capped per destination with Airflow pools, one per connection (and bucket for
object stores): the host lives in the connection, which parsing does not read. A task whose pool
does not exist is never scheduled, so the pools are created before the DAGs run (`ees pools`).
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from event_export.config.model import ExportConfig

WEIGHT_RULE = "absolute"
NO_DEADLINE_WEIGHT = 1
_LATEST_MINUTES = 61 * 60  # above any deadline's minutes after the day's UTC midnight
POOL_PREFIX = "ees_upload_"
_POOL_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_POOL_MAX = 200  # Airflow's pool name column holds 256


def deadline_minutes_utc(day: date, deadline: time, tz: ZoneInfo) -> int:
    """Minutes from `day`'s midnight in UTC to the deadline of the run exporting `day` (the
    next local morning's `deadline`), DST-correct for that day."""
    local = datetime.combine(day + timedelta(days=1), deadline, tzinfo=tz)
    midnight_utc = datetime.combine(day, time(0), tzinfo=UTC)
    return int((local - midnight_utc).total_seconds() // 60)


def priority_weight(config: ExportConfig, today: date) -> int:
    """The export's tasks' weight: earlier deadline in UTC, heavier. `today` picks the zone's
    UTC offset (DST), so a DST zone moves by an hour when its clocks change."""
    schedule = config.schedule
    if schedule.frequency != "daily":
        return NO_DEADLINE_WEIGHT
    minutes = deadline_minutes_utc(today, schedule.deadline, config.tz)
    return _LATEST_MINUTES - minutes + NO_DEADLINE_WEIGHT


def upload_pool(config: ExportConfig) -> str:
    """The pool of the export's uploads: one per destination connection (and bucket)."""
    destination = config.destination
    bucket = getattr(destination, "bucket", None)
    raw = "_".join(filter(None, [destination.type, destination.conn_id, bucket]))
    name = _POOL_NAME.sub("_", raw)
    if name != raw or len(name) > _POOL_MAX:  # distinct connection ids stay distinct pools
        name = f"{name[:_POOL_MAX]}_{zlib.crc32(raw.encode()):08x}"
    return POOL_PREFIX + name


def upload_pools(configs: list[ExportConfig]) -> dict[str, list[str]]:
    """Every upload pool the configs use, with the export ids that share it (sorted)."""
    pools: dict[str, list[str]] = {}
    for config in sorted(configs, key=lambda c: c.export_id):
        pools.setdefault(upload_pool(config), []).append(config.export_id)
    return pools
