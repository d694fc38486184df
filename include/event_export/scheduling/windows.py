"""Which client-day a run covers, as a UTC window computed from local calendar dates.

A day is not always 24 hours (daylight saving), so windows come from local midnights, never from
adding 24 hours to a timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval [start, end) of event time. (Here, not in lake.py, so parsing a
    DAG file never imports pyarrow; lake.py re-exports it.)"""

    start: datetime
    end: datetime

    def hours(self) -> Iterator[datetime]:
        """Every UTC hour partition that overlaps the window."""
        hour = self.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        while hour < self.end:
            yield hour
            hour += timedelta(hours=1)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_window(day: date, tz: ZoneInfo) -> Window:
    """The UTC interval of one calendar day in the client's time zone."""
    return Window(local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))


def day_covered_by_run(logical_date: datetime, tz: ZoneInfo) -> date:
    """A daily run triggers at local midnight and exports the day that just ended."""
    return logical_date.astimezone(tz).date() - timedelta(days=1)


def ddmmyyyy(day: date) -> str:
    """A day as a period label and in file names (`01112026`)."""
    return f"{day:%d%m%Y}"
