"""Naming profiles: what a run writes and how its files are named (see base.NamingProfile)."""

from __future__ import annotations

from datetime import date

from event_export.config.model import ExportConfig
from event_export.pipeline.profiles.base import NamingProfile
from event_export.pipeline.profiles.daily_zip import DailyZip
from event_export.pipeline.profiles.gcp_export import PROFILES_PART, GcpExport
from event_export.scheduling.schedules import Period

__all__ = ["PROFILES_PART", "DailyZip", "GcpExport", "NamingProfile", "profile_for"]


def profile_for(config: ExportConfig, day: date, covered: Period, request_id: str) -> NamingProfile:
    """The config's naming profile for one run."""
    if config.profile == "gcp_export":
        return GcpExport(config, day, covered.window, request_id)
    return DailyZip(config, day, covered)
