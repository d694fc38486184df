"""What one run covers: a day, a few hours, or a one-time request, as a UTC window plus a label.

Daily runs fire at local midnight and cover the day that just ended; recurring runs cover fixed
local wall-clock blocks `[local midnight + k*N h, + N h)`, each run's data interval; one-time
runs cover whole local days asked for in the trigger form, never older than 60 days. All
arithmetic is on local calendar dates (days are 23 to 25 hours long around daylight-saving
changes), converted to UTC at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from event_export.scheduling.windows import Window, day_covered_by_run, ddmmyyyy, local_midnight

ONE_TIME_MAX_AGE_DAYS = 60
ONE_TIME_MODES = ("day", "date_range", "previous_month", "current_month")
ONE_TIME_FIELDS = ("period", "day", "date_from", "date_to")  # the trigger form's, a run's conf


@dataclass(frozen=True)
class Period:
    """The span one run exports: UTC window, the local days it touches, and names derived from it.

    `label` goes into file names (DDMMYYYY for one day, as the daily-zip document shows) and `key`
    into the staging path, so a rerun of the same period overwrites its own files only.
    """

    window: Window
    first_day: date
    last_day: date
    label: str
    key: str

    @property
    def single_day(self) -> bool:
        return self.first_day == self.last_day and self.label == ddmmyyyy(self.first_day)


class RequestRefused(ValueError):
    """A one-time request outside what the product allows; the message is shown to the user."""


def day_period(day: date, tz: ZoneInfo) -> Period:
    """One local calendar day: the daily export's period."""
    return days_period(day, day, tz)


def days_period(first: date, last: date, tz: ZoneInfo) -> Period:
    """Whole local days first..last (inclusive)."""
    window = Window(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz))
    if first == last:
        return Period(window, first, last, ddmmyyyy(first), first.isoformat())
    label = f"{ddmmyyyy(first)}-{ddmmyyyy(last)}"
    return Period(window, first, last, label, f"{first.isoformat()}_{last.isoformat()}")


def recurring_hours(every_hours: int) -> list[int]:
    """The local hours a recurring export's blocks start at: 0, N, 2N, ... below 24.

    When N divides 24 the blocks tile the day; otherwise the day's last block is shorter (N=5:
    20:00-24:00 is 4 hours) and the next day starts again at local midnight, so every block
    boundary is a fixed local time, whatever the moment the export was deployed or unpaused.
    """
    if not 1 <= every_hours <= 24:
        raise ValueError(f"every_hours must be 1 to 24, not {every_hours}")
    return list(range(0, 24, every_hours))


def recurring_cron(every_hours: int) -> str:
    """The cron expression whose fire times are the block boundaries of `recurring_hours`."""
    if every_hours == 24:
        return "0 0 * * *"
    if 24 % every_hours == 0:
        return f"0 */{every_hours} * * *"
    return f"0 {','.join(str(h) for h in recurring_hours(every_hours))} * * *"


def recurring_blocks(day: date, every_hours: int, tz: ZoneInfo) -> list[Window]:
    """The blocks of one local calendar day, contiguous from its midnight to the next one's.

    The reference for the scheduler's cron timetable: computed from local wall-clock times, so a
    block that spans a clock change is an hour shorter or longer in absolute time.
    """
    starts = [
        datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)
        for hour in recurring_hours(every_hours)
    ]
    ends = [*starts[1:], local_midnight(day + timedelta(days=1), tz)]
    return [Window(start, end) for start, end in zip(starts, ends, strict=True)]


def last_block_before(moment: datetime, every_hours: int, tz: ZoneInfo) -> Window:
    """The latest block that has ended at `moment`: what a manually triggered run covers."""
    day = moment.astimezone(tz).date()
    for candidate in (day, day - timedelta(days=1)):
        ended = [b for b in recurring_blocks(candidate, every_hours, tz) if b.end <= moment]
        if ended:
            return ended[-1]
    raise AssertionError("a day always has a block that ended before its next day")


def hours_period(window: Window, every_hours: int, tz: ZoneInfo) -> Period:
    """One recurring block, exactly the run's data interval `[start, end)` in absolute time.

    Labelled by the local start and the configured length (``01112026T0400_4h``; the day's short
    last block and blocks across a clock change keep the configured N in the name), unambiguous
    even on the night clocks go back, when a local hour repeats (the UTC offset is in the key).
    """
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    if end <= start:
        raise ValueError(f"empty recurring window {start.isoformat()} - {end.isoformat()}")
    local = start.astimezone(tz)
    label = f"{ddmmyyyy(local.date())}T{local:%H%M}_{every_hours}h"
    key = f"{local:%Y-%m-%dT%H%M%z}_{every_hours}h"
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    return Period(Window(start, end), local.date(), last, label, key)


def daily_run_period(logical_date: datetime, tz: ZoneInfo) -> Period:
    return day_period(day_covered_by_run(logical_date, tz), tz)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _parse_day(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise RequestRefused(f"{field}: {value!r} is not a date (use YYYY-MM-DD)") from exc


def one_time_days(params: dict[str, Any], today: date) -> tuple[date, date]:
    """The whole local days a one-time request asks for, or RequestRefused saying why not.

    `today` is the client's local date when the run starts: only complete days (up to yesterday)
    and nothing older than 60 days (today - 60) can be exported.
    """
    mode = params.get("period")
    yesterday = today - timedelta(days=1)
    oldest = today - timedelta(days=ONE_TIME_MAX_AGE_DAYS)
    if mode == "day":
        if not params.get("day"):
            raise RequestRefused("day: choose the day to export")
        first = last = _parse_day(params["day"], "day")
    elif mode == "date_range":
        if not params.get("date_from") or not params.get("date_to"):
            raise RequestRefused("date_from and date_to: choose both ends of the date range")
        first = _parse_day(params["date_from"], "date_from")
        last = _parse_day(params["date_to"], "date_to")
        if last < first:
            raise RequestRefused(f"date_to ({last}) is before date_from ({first})")
    elif mode == "previous_month":
        last = _month_start(today) - timedelta(days=1)
        first = _month_start(last)
    elif mode == "current_month":
        first, last = _month_start(today), yesterday
        if last < first:
            raise RequestRefused(
                f"the current month has no complete day yet (today is {today}); "
                "choose previous_month or a day"
            )
    else:
        raise RequestRefused(f"period: {mode!r} is not one of {', '.join(ONE_TIME_MODES)}")
    if last > yesterday:
        raise RequestRefused(
            f"{last} is not over yet in the export's time zone; the latest day is {yesterday}"
        )
    if first < oldest:
        raise RequestRefused(
            f"{first} is more than {ONE_TIME_MAX_AGE_DAYS} days ago; one-time exports reach back "
            f"to {oldest} at the earliest"
        )
    return first, last


def one_time_period(params: dict[str, Any], now: datetime, tz: ZoneInfo) -> Period:
    first, last = one_time_days(params, now.astimezone(tz).date())
    return days_period(first, last, tz)
