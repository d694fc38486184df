"""Creates the upload pools the export configs use, so no upload waits on a pool that does not
exist (Airflow never schedules such a task; it only logs a warning in the scheduler).

Missing pools are created with EES_UPLOAD_POOL_SLOTS; an existing pool keeps its slots, so an
operator's change in the UI (a client's server that takes more, or fewer, connections) stays.
Run by the hourly health check and by `ees pools` (at deployment, before the first night).
"""

from __future__ import annotations

from dataclasses import dataclass

from event_export.config.model import ExportConfig
from event_export.orchestration.airflow_api import AirflowApi
from event_export.scheduling.priorities import POOL_PREFIX, upload_pools


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
