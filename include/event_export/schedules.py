"""What one run covers: a day, a few hours, or a one-time request, as a UTC window plus a label.

Daily runs fire at local midnight and cover the day that just ended; recurring runs fire every N
hours and cover the N hours before; one-time runs cover whole local days asked for in the trigger
form, never older than 60 days. All arithmetic is on local calendar dates (days are 23 to 25
hours long around daylight-saving changes), converted to UTC at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from event_export import naming
from event_export.windows import Window, day_covered_by_run, local_midnight

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
        return self.first_day == self.last_day and self.label == naming.ddmmyyyy(self.first_day)


class RequestRefused(ValueError):
    """A one-time request outside what the product allows; the message is shown to the user."""


def day_period(day: date, tz: ZoneInfo) -> Period:
    """One local calendar day: the daily export's period."""
    return days_period(day, day, tz)


def days_period(first: date, last: date, tz: ZoneInfo) -> Period:
    """Whole local days first..last (inclusive)."""
    window = Window(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz))
    if first == last:
        return Period(window, first, last, naming.ddmmyyyy(first), first.isoformat())
    label = f"{naming.ddmmyyyy(first)}-{naming.ddmmyyyy(last)}"
    return Period(window, first, last, label, f"{first.isoformat()}_{last.isoformat()}")


def hours_period(run_time: datetime, every_hours: int, tz: ZoneInfo) -> Period:
    """The last N hours before a recurring run: [run time - N h, run time), absolute hours.

    Labelled by the local start and the length (``01112026T0400_4h``), unambiguous even on the
    night clocks go back, when a local hour repeats (the UTC offset is then in the key).
    """
    end = run_time.astimezone(UTC)
    start = end - timedelta(hours=every_hours)
    local = start.astimezone(tz)
    label = f"{naming.ddmmyyyy(local.date())}T{local:%H%M}_{every_hours}h"
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
