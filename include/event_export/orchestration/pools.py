"""Creates the upload pools the export configs use, so no upload waits on a pool that does not
exist (Airflow never schedules such a task; it only logs a warning in the scheduler).

Missing pools are created with EES_UPLOAD_POOL_SLOTS; an existing pool keeps its slots, so an
operator's change in the UI (a client's server that takes more, or fewer, connections) stays.
Run by the hourly health check and by `ees pools` (at deployment, before the first night).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from event_export.config.model import ExportConfig, load_all
from event_export.orchestration.airflow_api import AirflowApi
from event_export.scheduling.priorities import POOL_PREFIX, upload_pools
from event_export.settings import upload_pool_slots


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
    have = api.pools(POOL_PREFIX)
    created = {}
    for name, export_ids in wanted.items():
        if name in have:
            continue
        if not dry_run:
            shown = ", ".join(export_ids[:5]) + (" ..." if len(export_ids) > 5 else "")
            api.create_pool(name, slots, f"EES uploads to one destination: {shown}")
        created[name] = slots
    existing = {name: have[name] for name in wanted if name in have}
    return PoolSync(created, existing, wanted)


def ensure_folder_pools(
    folder: Path, api: AirflowApi, slots: int | None = None, dry_run: bool = False
) -> PoolSync:
    """`ensure_upload_pools` for the valid configs in `folder` (a broken config has no DAG, so no
    pool); slots default to EES_UPLOAD_POOL_SLOTS."""
    good, _ = load_all(folder)
    slots = upload_pool_slots() if slots is None else slots
    return ensure_upload_pools(list(good.values()), api, slots, dry_run)
