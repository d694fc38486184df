"""Creates the upload pools the export configs use, so no upload waits on a pool that does not
exist (Airflow never schedules such a task; it only logs a warning in the scheduler).

Missing pools are created with EES_UPLOAD_POOL_SLOTS; an existing pool keeps its slots, so an
operator's change in the UI (a client's server that takes more, or fewer, connections) stays.
Run by `ees pools` (at deployment, before the first night), by the hourly health check, and by
every export run for its own pool (`ensure_export_pool`, in its first task): an export added after
deployment uploads on its first run instead of waiting for the next health check.

Pools are created through the public REST API: task code in Airflow 3 may not touch the metadata
database, and the Task SDK's execution API has no pool calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from event_export.config.model import ExportConfig, load_all
from event_export.orchestration.airflow_api import AirflowApi, AirflowApiError
from event_export.scheduling.priorities import POOL_PREFIX, upload_pools
from event_export.settings import upload_pool_slots

log = logging.getLogger(__name__)
HTTP_CONFLICT = 409  # POST /pools of a name that exists: another run created it meanwhile
# Up to this many pools are asked for one by one, more are listed: an export run wants its own
# pool only, and listing every upload pool from each run cost the api-server 0.85 s a call at
# 1,000 exports (200 pools; docs/capacity.md), a pool asked for by name under 0.1 s.
ASK_EACH_UP_TO = 4


@dataclass(frozen=True)
class PoolSync:
    created: dict[str, int]  # pool -> slots given
    existing: dict[str, int]  # pool -> slots it has
    exports: dict[str, list[str]]  # pool -> export ids uploading through it

    def as_dict(self) -> dict:
        return {"created": self.created, "existing": self.existing}


def ensure_upload_pools(
    configs: list[ExportConfig], api: AirflowApi, slots: int, dry_run: bool = False
) -> PoolSync:
    """Create every upload pool of `configs` that Airflow lacks; report the rest."""
    wanted = upload_pools(configs)
    if len(wanted) > ASK_EACH_UP_TO:
        have = api.pools(POOL_PREFIX)
    else:
        asked = {name: api.pool(name) for name in wanted}
        have = {name: found for name, found in asked.items() if found is not None}
    created = {}
    for name, export_ids in wanted.items():
        if name in have:
            continue
        if not dry_run:
            shown = ", ".join(export_ids[:5]) + (" ..." if len(export_ids) > 5 else "")
            try:
                api.create_pool(name, slots, f"EES uploads to one destination: {shown}")
            except AirflowApiError as exc:
                if exc.status != HTTP_CONFLICT:
                    raise
                # runs sharing a destination start together: the first one's pool stands
                standing = api.pool(name)
                have[name] = slots if standing is None else standing
                continue
        created[name] = slots
    existing = {name: have[name] for name in wanted if name in have}
    return PoolSync(created, existing, wanted)


def ensure_export_pool(config: ExportConfig) -> PoolSync | None:
    """The export's own upload pool, created if missing, from its run's first task (before the
    upload tasks are scheduled, which Airflow never does in a missing pool).

    Best effort, like the other REST API calls from task code: without the API connection (the
    embedded default, `dag.test()`, where pools are not enforced) or an answer, it logs a warning
    and returns None; the run goes on and the hourly health check creates the pool."""
    try:
        synced = ensure_upload_pools([config], AirflowApi.from_connection(), upload_pool_slots())
    except Exception as exc:  # no connection, api-server down, refused: the health check follows
        log.warning("could not make sure the upload pool of %s exists: %s", config.export_id, exc)
        return None
    for name, slots in synced.created.items():
        log.info("created the upload pool %s with %d slots", name, slots)
    return synced


def ensure_folder_pools(
    folder: Path, api: AirflowApi, slots: int | None = None, dry_run: bool = False
) -> PoolSync:
    """`ensure_upload_pools` for the valid configs in `folder` (a broken config has no DAG, so no
    pool); slots default to EES_UPLOAD_POOL_SLOTS."""
    good, _ = load_all(folder)
    slots = upload_pool_slots() if slots is None else slots
    return ensure_upload_pools(list(good.values()), api, slots, dry_run)
