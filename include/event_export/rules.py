"""Rules between exports, from seed 003, as pure functions over configs.

"Before running a one-time profile export, you must stop any scheduled recurring profile export":
two profile exports of one client would both snapshot the same profiles into the client's storage.
"""

from __future__ import annotations

from collections.abc import Iterable

from event_export.config import ExportConfig

SCHEDULED = ("daily", "recurring")


def conflicting_profile_export(
    config: ExportConfig, all_configs: Iterable[ExportConfig]
) -> str | None:
    """The export id of an active scheduled profile export of the same client that keeps the
    one-time profile export `config` from running, or None (also for any other kind of export).

    Active means its config is enabled: a stopped export (`schedule.enabled: false`) is not.
    """
    if config.kind != "user_profiles" or config.schedule.frequency != "one_time":
        return None
    for other in sorted(all_configs, key=lambda c: c.export_id):
        if (
            other.export_id != config.export_id
            and other.client_id == config.client_id
            and other.kind == "user_profiles"
            and other.schedule.frequency in SCHEDULED
            and other.schedule.enabled
        ):
            return other.export_id
    return None


def profile_export_refusal(config: ExportConfig, all_configs: Iterable[ExportConfig]) -> str | None:
    """Why a one-time profile export may not run now, naming the export to stop; None if it may."""
    other = conflicting_profile_export(config, all_configs)
    if other is None:
        return None
    return (
        f"the recurring user-profile export {other} of client {config.client_id} is active; "
        f"stop it first (set schedule.enabled: false in {other}.yaml), then run this one-time "
        "profile export"
    )
