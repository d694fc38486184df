"""Which client-day a run covers, as a UTC window computed from local calendar dates.

A day is not always 24 hours (daylight saving), so windows come from local midnights, never from
adding 24 hours to a timestamp.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from event_export.lake import Window


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_window(day: date, tz: ZoneInfo) -> Window:
    """The UTC interval of one calendar day in the client's time zone."""
    return Window(local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))


def day_covered_by_run(logical_date: datetime, tz: ZoneInfo) -> date:
    """A daily run triggers at local midnight and exports the day that just ended."""
    return logical_date.astimezone(tz).date() - timedelta(days=1)
