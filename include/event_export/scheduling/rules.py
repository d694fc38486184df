"""Rules between exports, from seed 003, as pure functions over configs.

"Before running a one-time profile export, you must stop any scheduled recurring profile export":
two profile exports of one client would both snapshot the same profiles into the client's storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from event_export.config.model import ExportConfig

SCHEDULED = ("daily", "recurring")


def _never_paused(dag_id: str) -> bool:
    return False


def conflicting_profile_export(
    config: ExportConfig,
    all_configs: Iterable[ExportConfig],
    is_paused: Callable[[str], bool] = _never_paused,
) -> str | None:
    """The export id of an active scheduled profile export of the same client that keeps the
    one-time profile export `config` from running, or None (also for any other kind of export).

    Active means its config is enabled and its DAG is not paused: an export stopped either way
    (`schedule.enabled: false`, or Stop on the Exports page) is not. `is_paused(dag_id)` is asked
    only about the exports that would conflict by their configs.
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
            and not is_paused(other.dag_id)
        ):
            return other.export_id
    return None


def profile_export_refusal(
    config: ExportConfig,
    all_configs: Iterable[ExportConfig],
    is_paused: Callable[[str], bool] = _never_paused,
) -> str | None:
    """Why a one-time profile export may not run now, naming the export to stop; None if it may."""
    other = conflicting_profile_export(config, all_configs, is_paused)
    if other is None:
        return None
    return (
        f"the recurring user-profile export {other} of client {config.client_id} is active; "
        f"stop it first (Stop on the Exports page, or set schedule.enabled: false in "
        f"{other}.yaml), then run this one-time profile export"
    )
