"""Backfills in the client's days: which runs a range of local days means, and what is refused.

On-call thinks in the client's calendar ("re-deliver 2 to 4 November in Kolkata"), Airflow's
backfill API in logical dates (`from_date`/`to_date`, inclusive), and the two differ: a daily
run's logical date is the local midnight *after* the day it exports (CronTriggerTimetable), a
recurring run's is the start of its block (CronDataIntervalTimetable), and a bare date given to
`airflow backfill create` is read as UTC midnight. This module does that translation once, with
the product's refusals, as pure functions over the config and "today" in the client's zone; the
page's API (exports_api.py) hands the result to Airflow (backfill_airflow.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from event_export.config.model import ExportConfig
from event_export.scheduling.schedules import day_period, hours_period, recurring_blocks
from event_export.scheduling.windows import Window, local_midnight

REPROCESS_CHOICES = ("none", "failed", "completed")  # Airflow's ReprocessBehavior values
DEFAULT_MAX_ACTIVE_RUNS = 3  # gentle on a client's server; Airflow's own default is 10
MAX_ACTIVE_RUNS_LIMIT = 10


class BackfillRefused(ValueError):
    """A backfill the product does not allow; the message is shown to the asker as is."""


@dataclass(frozen=True)
class PlannedRun:
    """One Airflow run of the backfill: the local day, the UTC window, its logical date."""

    day: date
    window: Window
    logical_date: datetime
    label: str  # as in the delivered file names (DDMMYYYY, or DDMMYYYYTHHMM_Nh)

    def to_dict(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "label": self.label,
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "logical_date": self.logical_date.isoformat(),
        }


@dataclass(frozen=True)
class BackfillPlan:
    """Local days first..last of one export, as the runs Airflow will create (oldest first)."""

    export_id: str
    dag_id: str
    first: date
    last: date
    runs: tuple[PlannedRun, ...]

    @property
    def from_date(self) -> datetime:
        return self.runs[0].logical_date

    @property
    def to_date(self) -> datetime:
        return self.runs[-1].logical_date

    def to_dict(self) -> dict:
        return {
            "export_id": self.export_id,
            "dag_id": self.dag_id,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "from_date": self.from_date.isoformat(),
            "to_date": self.to_date.isoformat(),
            "runs": [run.to_dict() for run in self.runs],
        }


def _runs_of_day(config: ExportConfig, day: date) -> list[PlannedRun]:
    tz = config.tz
    if config.schedule.frequency == "recurring":
        every = config.schedule.every_hours
        return [
            PlannedRun(day, block, block.start, hours_period(block, every, tz).label)
            for block in recurring_blocks(day, every, tz)
        ]
    period = day_period(day, tz)  # daily: the run at the local midnight that ends the day
    return [
        PlannedRun(day, period.window, local_midnight(day + timedelta(days=1), tz), period.label)
    ]


def plan_backfill(config: ExportConfig, first: date, last: date, today: date) -> BackfillPlan:
    """The runs that re-deliver local days first..last (inclusive), or BackfillRefused.

    `today` is the client's local date now: only complete days (up to yesterday) can be exported,
    and nothing before the config's start_date. One-time exports have no schedule to backfill,
    and an export stopped by its config (`enabled: false`) must be re-enabled first.
    """
    schedule = config.schedule
    if schedule.frequency == "one_time":
        raise BackfillRefused(
            f"{config.export_id} is a one-time export: it has no schedule to backfill; "
            "use Run once (ees run-once) for the days you need"
        )
    if not schedule.enabled:
        raise BackfillRefused(
            f"{config.export_id} is stopped by its config (schedule.enabled: false): set "
            f"enabled: true in {config.export_id}.yaml and resume it before backfilling"
        )
    if last < first:
        raise BackfillRefused(f"to ({last}) is before from ({first})")
    if first < schedule.start_date:
        raise BackfillRefused(
            f"{first} is before the export's start_date {schedule.start_date}: "
            f"the earliest day it can deliver is {schedule.start_date}"
        )
    yesterday = today - timedelta(days=1)
    if last > yesterday:
        raise BackfillRefused(
            f"{last} is not over yet in {schedule.timezone} (today there is {today}); "
            f"the latest day a backfill can deliver is {yesterday}"
        )
    runs = [
        run
        for offset in range((last - first).days + 1)
        for run in _runs_of_day(config, first + timedelta(days=offset))
    ]
    return BackfillPlan(config.export_id, config.dag_id, first, last, tuple(runs))


def first_missed_day(config: ExportConfig, last_delivered_end: datetime) -> date:
    """The first local day not (completely) delivered: the day in which the last successful
    run's window ended (never before the start_date).

    A daily run's window ends at the midnight after its day, so the next day is the first missed;
    a recurring block that ends mid-day leaves the rest of that day missed, which is offered
    whole (a backfill with reprocess `none` creates only the blocks without a run).
    """
    return max(last_delivered_end.astimezone(config.tz).date(), config.schedule.start_date)


def missed_days(
    config: ExportConfig, last_delivered_end: datetime | None, today: date
) -> tuple[date, date] | None:
    """The local days an export missed while stopped, first..last, or None when none were:
    from `first_missed_day` up to yesterday in the client's zone. An export that never
    delivered has missed nothing (its schedule starts when it is first unpaused, catchup off);
    backfill its past explicitly."""
    if config.schedule.frequency == "one_time" or last_delivered_end is None:
        return None
    first, last = first_missed_day(config, last_delivered_end), today - timedelta(days=1)
    return (first, last) if first <= last else None
