"""Window arithmetic of daily, recurring and one-time exports, across DST and month edges."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from configs import schedule_config
from event_export.pipeline.lake import Window
from event_export.scheduling.schedules import (
    RequestRefused,
    daily_run_period,
    hours_period,
    one_time_days,
    one_time_period,
    recurring_blocks,
)
from pydantic import ValidationError

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def test_daily_period_keeps_the_ddmmyyyy_label_and_spans_a_dst_day():
    run = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 2026-03-09 00:00 EDT ends 8 March
    period = daily_run_period(run, NY)
    assert (period.first_day, period.label, period.single_day) == (
        date(2026, 3, 8),
        "08032026",
        True,
    )
    assert period.window.end - period.window.start == timedelta(hours=23)


def test_recurring_block_across_dst_end_is_five_local_hours_labelled_by_its_local_start():
    # 00:00 EDT -> 06:00 EST on 1 November: the 02:00 EDT -> 01:00 EST change is inside the block
    (first, second, *_) = recurring_blocks(date(2026, 11, 1), 6, NY)
    assert first == Window(
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 11, 0, tzinfo=UTC)
    )
    assert second.start == first.end
    period = hours_period(first, 6, NY)
    assert period.window == first
    assert period.label == "01112026T0000_6h"
    assert (period.first_day, period.last_day) == (date(2026, 11, 1), date(2026, 11, 1))
    assert period.single_day is False


def test_recurring_keys_differ_for_the_repeated_local_hour():
    # both start at local 02:00: first in CEST (+0200), then again in CET (+0100)
    hour = timedelta(hours=1)
    first_start = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    second_start = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    first = hours_period(Window(first_start, first_start + 4 * hour), 4, BERLIN)
    second = hours_period(Window(second_start, second_start + 4 * hour), 4, BERLIN)
    assert first.label == second.label == "25102026T0200_4h"
    assert first.key != second.key


@pytest.mark.parametrize("hours", [3, 25, 0])
def test_every_hours_outside_4_to_24_is_refused(hours):
    with pytest.raises(ValidationError, match="every_hours"):
        schedule_config(frequency="recurring", every_hours=hours)


def test_recurring_needs_every_hours_and_daily_refuses_it():
    with pytest.raises(ValidationError, match="every_hours: required"):
        schedule_config(frequency="recurring")
    with pytest.raises(ValidationError, match="only allowed with frequency recurring"):
        schedule_config(frequency="daily", every_hours=6)
    assert schedule_config(frequency="recurring", every_hours=24).schedule.every_hours == 24


TODAY = date(2026, 3, 31)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"period": "day", "day": "2026-03-30"}, (date(2026, 3, 30), date(2026, 3, 30))),
        ({"period": "day", "day": "2026-01-30"}, (date(2026, 1, 30), date(2026, 1, 30))),
        (
            {"period": "date_range", "date_from": "2026-02-27", "date_to": "2026-03-02"},
            (date(2026, 2, 27), date(2026, 3, 2)),
        ),
        ({"period": "previous_month"}, (date(2026, 2, 1), date(2026, 2, 28))),
        ({"period": "current_month"}, (date(2026, 3, 1), date(2026, 3, 30))),
    ],
)
def test_one_time_periods(params, expected):
    assert one_time_days(params, TODAY) == expected


@pytest.mark.parametrize(
    ("params", "today", "message"),
    [
        ({"period": "day", "day": "2026-01-29"}, TODAY, "more than 60 days ago"),
        ({"period": "day", "day": "2026-03-31"}, TODAY, "not over yet"),
        ({"period": "day"}, TODAY, "choose the day"),
        ({"period": "day", "day": "31/03/2026"}, TODAY, "not a date"),
        (
            {"period": "date_range", "date_from": "2026-03-10", "date_to": "2026-03-01"},
            TODAY,
            "is before date_from",
        ),
        ({"period": "date_range", "date_from": "2026-03-10"}, TODAY, "choose both ends"),
        ({"period": "current_month"}, date(2026, 4, 1), "no complete day yet"),
        ({"period": "previous_month"}, date(2026, 8, 31), "more than 60 days ago"),
        ({"period": "last_year"}, TODAY, "is not one of"),
    ],
)
def test_one_time_refusals_say_why(params, today, message):
    with pytest.raises(RequestRefused, match=message):
        one_time_days(params, today)


def test_previous_month_at_a_year_edge_and_leap_february():
    assert one_time_days({"period": "previous_month"}, date(2026, 1, 15)) == (
        date(2025, 12, 1),
        date(2025, 12, 31),
    )
    assert one_time_days({"period": "previous_month"}, date(2028, 3, 10)) == (
        date(2028, 2, 1),
        date(2028, 2, 29),
    )


def test_one_time_range_window_uses_local_midnights_and_today_in_the_clients_zone():
    now = datetime(2026, 3, 31, 3, 0, tzinfo=UTC)  # still 30 March in New York
    period = one_time_period({"period": "current_month"}, now, NY)
    assert (period.first_day, period.last_day) == (date(2026, 3, 1), date(2026, 3, 29))
    assert period.window.start == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)  # EST
    assert period.window.end == datetime(2026, 3, 30, 4, 0, tzinfo=UTC)  # EDT
    assert period.label == "01032026-29032026"
