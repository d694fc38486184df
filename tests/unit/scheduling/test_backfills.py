"""Backfill planning in client days: the runs a range of local days means (checked against
Airflow's own timetables), the refusals with their reasons, and the days a resume offers."""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from airflow.timetables.base import TimeRestriction
from configs import schedule_config
from event_export.config.model import ExportConfig
from event_export.orchestration.dag_builder import timetable_for
from event_export.scheduling.backfills import BackfillRefused, missed_days, plan_backfill
from event_export.scheduling.windows import day_window

TODAY = date(2026, 11, 29)


def _airflow_runs(config: ExportConfig, plan) -> list[tuple[datetime, datetime, datetime]]:
    """(logical date, interval start, interval end) of every run Airflow's timetable for the
    export creates with logical dates in [from_date, to_date]: what a backfill iterates."""
    timetable = timetable_for(config)
    restriction = TimeRestriction(plan.from_date, plan.to_date, catchup=True)
    found, last = [], None
    while info := timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction
    ):
        found.append((info.logical_date, info.data_interval.start, info.data_interval.end))
        last = info.data_interval
    return found


@pytest.mark.parametrize(
    ("zone", "first", "last"),
    [
        ("Asia/Kolkata", date(2026, 11, 2), date(2026, 11, 4)),
        ("America/New_York", date(2026, 10, 31), date(2026, 11, 2)),  # clocks go back 1 Nov
        ("America/New_York", date(2026, 3, 7), date(2026, 3, 9)),  # clocks go forward 8 Mar
        ("Pacific/Chatham", date(2026, 4, 4), date(2026, 4, 6)),  # +13:45 / +12:45
        ("UTC", date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_daily_backfill_is_one_run_per_local_day_exactly_as_airflow_iterates_it(zone, first, last):
    config = schedule_config(timezone=zone)
    plan = plan_backfill(config, first, last, TODAY)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert [run.day for run in plan.runs] == days
    for run in plan.runs:
        assert run.window == day_window(run.day, config.tz)  # local midnight to local midnight
        assert run.logical_date == run.window.end  # the trigger at the midnight after the day
        assert run.label == run.day.strftime("%d%m%Y")
    airflow = _airflow_runs(config, plan)
    assert [logical for logical, _, _ in airflow] == [run.logical_date for run in plan.runs]


def test_the_us_clock_change_day_is_25_hours_and_its_neighbours_24():
    plan = plan_backfill(
        schedule_config(timezone="America/New_York"), date(2026, 10, 31), date(2026, 11, 2), TODAY
    )
    hours = [(r.window.end - r.window.start) / timedelta(hours=1) for r in plan.runs]
    assert hours == [24, 25, 24]
    assert plan.from_date == datetime(2026, 11, 1, 4, tzinfo=UTC)  # not the bare-date UTC reading
    assert plan.to_date == datetime(2026, 11, 3, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "blocks"),
    [
        ("Asia/Kolkata", date(2026, 11, 2), 4),
        ("America/New_York", date(2026, 11, 1), 4),  # a 25-hour day: still 4 wall-clock blocks
        ("Europe/Berlin", date(2026, 3, 29), 4),  # a 23-hour day
    ],
)
def test_six_hourly_backfill_of_a_day_is_four_contiguous_windows_as_airflow_runs_them(
    zone, day, blocks
):
    config = schedule_config(frequency="recurring", every_hours=6, timezone=zone)
    plan = plan_backfill(config, day, day, TODAY)
    assert len(plan.runs) == blocks
    windows = [run.window for run in plan.runs]
    assert windows[0].start == day_window(day, config.tz).start
    assert windows[-1].end == day_window(day, config.tz).end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))  # no gap
    assert [run.logical_date for run in plan.runs] == [w.start for w in windows]
    assert [r.label[-8:] for r in plan.runs] == ["T0000_6h", "T0600_6h", "T1200_6h", "T1800_6h"]
    airflow = _airflow_runs(config, plan)
    assert [(start, end) for _, start, end in airflow] == [(w.start, w.end) for w in windows]


REFUSED = [  # (schedule, from, to, words the reason must contain)
    ({}, date(2025, 12, 31), date(2026, 1, 2), ["before the export's start_date 2026-01-01"]),
    ({"start_date": "2026-11-10"}, date(2026, 11, 9), date(2026, 11, 12), ["2026-11-10"]),
    ({}, date(2026, 11, 27), TODAY, ["not over yet", "2026-11-28"]),
    ({}, TODAY + timedelta(days=3), TODAY + timedelta(days=4), ["not over yet"]),
    ({}, date(2026, 11, 5), date(2026, 11, 4), ["before from"]),
    ({"frequency": "one_time"}, date(2026, 11, 2), date(2026, 11, 2), ["one-time", "run-once"]),
    ({"enabled": False}, date(2026, 11, 2), date(2026, 11, 2), ["enabled: false", "resume"]),
    (
        {"frequency": "recurring", "every_hours": 6, "enabled": False},
        date(2026, 11, 2),
        date(2026, 11, 2),
        ["stopped by its config"],
    ),
]


@pytest.mark.parametrize(("schedule", "first", "last", "words"), REFUSED)
def test_refusals_name_the_reason(schedule, first, last, words):
    with pytest.raises(BackfillRefused) as refused:
        plan_backfill(schedule_config(**schedule), first, last, TODAY)
    for word in words:
        assert word in str(refused.value)


def test_yesterday_in_the_clients_zone_is_the_latest_day():
    plan = plan_backfill(
        schedule_config(timezone="Asia/Kolkata"),
        TODAY - timedelta(days=1),
        TODAY - timedelta(days=1),
        TODAY,
    )
    assert [run.day for run in plan.runs] == [TODAY - timedelta(days=1)]


def test_resume_offers_the_days_after_the_last_delivered_one_up_to_yesterday():
    config = schedule_config(timezone="Asia/Kolkata")
    delivered_25th = day_window(date(2026, 11, 25), config.tz).end  # the daily run's window end
    assert missed_days(config, delivered_25th, TODAY) == (date(2026, 11, 26), date(2026, 11, 28))
    yesterday_done = day_window(date(2026, 11, 28), config.tz).end
    assert missed_days(config, yesterday_done, TODAY) is None
    assert missed_days(config, None, TODAY) is None  # never delivered: nothing was missed


def test_resume_offers_a_partly_delivered_recurring_day_whole():
    config = schedule_config(frequency="recurring", every_hours=6, timezone="Asia/Kolkata")
    mid_day = datetime(2026, 11, 26, 12, tzinfo=config.tz)  # the 06:00-12:00 block delivered
    assert missed_days(config, mid_day, TODAY) == (date(2026, 11, 26), date(2026, 11, 28))
    end_of_day = day_window(date(2026, 11, 26), config.tz).end
    assert missed_days(config, end_of_day, TODAY) == (date(2026, 11, 27), date(2026, 11, 28))


def test_resume_never_offers_days_before_the_start_date_nor_for_one_time_exports():
    config = schedule_config(start_date="2026-11-20")
    long_ago = day_window(date(2026, 10, 1), config.tz).end
    assert missed_days(config, long_ago, TODAY) == (date(2026, 11, 20), date(2026, 11, 28))
    assert missed_days(schedule_config(frequency="one_time"), None, TODAY) is None
