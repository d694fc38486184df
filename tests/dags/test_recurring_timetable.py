"""Recurring exports run on local wall-clock blocks whatever the moment of deployment or unpause.

Every check goes through the timetable as the scheduler sees it (the DAG serialised and read
back) and compares its data intervals with `recurring_blocks`, the local-calendar reference, and
with hand-written expectations around clock changes, pauses and N that does not divide 24.
"""

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pendulum
import pytest
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables import interval
from airflow.timetables.base import DataInterval, TimeRestriction
from event_export.config import ExportConfig
from event_export.dag_builder import build_dag
from event_export.lake import Window
from event_export.schedules import (
    hours_period,
    last_block_before,
    recurring_blocks,
    recurring_cron,
)

LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def _timetable(every_hours: int, timezone: str, start: str = "2026-01-01"):
    config = ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "acme_rec",
            "schedule": {
                "frequency": "recurring",
                "every_hours": every_hours,
                "timezone": timezone,
                "start_date": start,
            },
            "destination": {"type": "local", "conn_id": "c"},
        }
    )
    dag = build_dag(config, Path("acme_rec.yaml"))
    scheduled = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    return scheduled.timetable, pendulum.instance(dag.start_date)


def _utc(*args) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz="UTC")


def _next(timetable, start, last: Window | None, now: datetime, catchup: bool = False):
    """What the scheduler asks after `last` at wall time `now` (`utcnow` of the timetable)."""
    restriction = TimeRestriction(earliest=start, latest=None, catchup=catchup)
    previous = (
        DataInterval(pendulum.instance(last.start), pendulum.instance(last.end)) if last else None
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(interval, "utcnow", lambda: pendulum.instance(now))
        info = timetable.next_dagrun_info(
            last_automated_data_interval=previous, restriction=restriction
        )
    return Window(info.data_interval.start, info.data_interval.end), info.run_after


def _day_blocks(first: date, days: int, every: int, tz: str) -> list[Window]:
    return [
        block
        for offset in range(days)
        for block in recurring_blocks(first + timedelta(days=offset), every, ZoneInfo(tz))
    ]


def test_cron_hours_are_multiples_of_n_from_local_midnight():
    assert recurring_cron(4) == "0 */4 * * *"
    assert recurring_cron(6) == "0 */6 * * *"
    assert recurring_cron(24) == "0 0 * * *"
    assert recurring_cron(5) == "0 0,5,10,15,20 * * *"
    assert recurring_cron(7) == "0 0,7,14,21 * * *"
    assert recurring_cron(13) == "0 0,13 * * *"


@pytest.mark.parametrize("every", [4, 5, 6, 7, 8, 12, 24])
@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", LONDON, NEW_YORK])
def test_first_run_at_any_moment_is_the_latest_complete_local_block(every, tz):
    timetable, start = _timetable(every, tz)
    rng = random.Random(f"{every}{tz}")
    for _ in range(40):  # deployments at arbitrary seconds of 2026, both DST changes included
        now = _utc(2026, 1, 2) + timedelta(seconds=rng.randrange(360 * 86400))
        window, run_after = _next(timetable, start, None, now)
        assert window == last_block_before(now, every, ZoneInfo(tz)), now
        assert window.end <= now < window.end + timedelta(hours=every + 1)
        assert run_after == window.end  # due at once, never a window reaching past "now"
        local = window.start.astimezone(ZoneInfo(tz))
        assert (local.hour % every, local.minute, local.second) == (0, 0, 0)


def test_the_issue_s_deployment_at_13_14_40_gets_the_12_to_16_block_next():
    timetable, start = _timetable(4, "UTC")
    deployed = _utc(2026, 11, 20, 13, 14, 40)
    first, _ = _next(timetable, start, None, deployed)
    assert first == Window(_utc(2026, 11, 20, 8), _utc(2026, 11, 20, 12))
    second, run_after = _next(timetable, start, first, deployed + timedelta(minutes=5))
    assert second == Window(_utc(2026, 11, 20, 12), _utc(2026, 11, 20, 16))
    assert run_after == _utc(2026, 11, 20, 16)  # runs when the block has ended


def test_after_a_pause_the_next_block_is_still_on_the_grid():
    timetable, start = _timetable(4, "Asia/Kolkata")  # +05:30: blocks start at hh:30 UTC
    before_pause = Window(_utc(2026, 11, 10, 2, 30), _utc(2026, 11, 10, 6, 30))  # 08:00-12:00 IST
    unpaused = _utc(2026, 11, 13, 8, 7, 19)  # 13:37:19 IST, three days later
    window, _ = _next(timetable, start, before_pause, unpaused)
    assert window == Window(_utc(2026, 11, 13, 2, 30), _utc(2026, 11, 13, 6, 30))  # 08-12 IST
    # a restart right after a run: the next block follows on, no gap and no overlap
    following, run_after = _next(timetable, start, window, unpaused + timedelta(minutes=1))
    assert following == Window(window.end, window.end + timedelta(hours=4))
    assert run_after == following.end


@pytest.mark.parametrize(
    ("tz", "spring", "autumn"),
    [
        (LONDON, date(2026, 3, 29), date(2026, 10, 25)),
        (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1)),
    ],
)
@pytest.mark.parametrize("every", [4, 6])
def test_blocks_follow_the_local_clock_across_both_dst_changes(tz, spring, autumn, every):
    for change in (spring, autumn):
        first = change - timedelta(days=1)
        timetable, start = _timetable(every, tz, start=first.isoformat())
        now = pendulum.instance(start) + timedelta(days=10)
        walked, last = [], None
        for _ in range(3 * 24 // every):
            last, _ = _next(timetable, start, last, now, catchup=True)
            walked.append(last)
        assert walked == _day_blocks(first, 3, every, tz)
        for a, b in itertools.pairwise(walked):
            assert a.end == b.start  # contiguous: no gap, no overlap
        lengths = [b.end - b.start for b in walked]
        shift = timedelta(hours=-1 if change == spring else 1)
        assert sum(lengths, timedelta()) == timedelta(hours=72) + shift
        assert lengths.count(timedelta(hours=every) + shift) == 1  # the block holding the change
        starts = {b.start.astimezone(ZoneInfo(tz)).hour for b in walked}
        assert starts == set(range(0, 24, every))


@pytest.mark.parametrize(("every", "last_hours"), [(5, 4), (7, 3), (9, 6), (13, 11)])
def test_n_not_dividing_24_restarts_at_local_midnight_with_a_shorter_last_block(every, last_hours):
    timetable, start = _timetable(every, NEW_YORK, start="2026-06-01")
    now = _utc(2026, 7, 1)
    walked, last = [], None
    per_day = len(range(0, 24, every))
    for _ in range(2 * per_day):
        last, _ = _next(timetable, start, last, now, catchup=True)
        walked.append(last)
    assert walked == _day_blocks(date(2026, 6, 1), 2, every, NEW_YORK)
    lengths = [(b.end - b.start).total_seconds() / 3600 for b in walked]
    assert lengths == ([every] * (per_day - 1) + [last_hours]) * 2
    midnights = [b.start for b in walked if b.start.astimezone(ZoneInfo(NEW_YORK)).hour == 0]
    assert len(midnights) == 2


def test_recurring_period_is_exactly_the_data_interval_and_names_the_local_start():
    ny = ZoneInfo(NEW_YORK)
    block = Window(_utc(2026, 11, 1, 4), _utc(2026, 11, 1, 9))  # 00:00 EDT -> 04:00 EST: 5 h
    period = hours_period(block, 4, ny)
    assert period.window == block
    assert period.label == "01112026T0000_4h"
    assert (period.first_day, period.last_day) == (date(2026, 11, 1), date(2026, 11, 1))
    assert period.key == "2026-11-01T0000-0400_4h"
    with pytest.raises(ValueError, match="empty recurring window"):
        hours_period(Window(block.end, block.start), 4, ny)


def test_a_manual_run_without_a_data_interval_covers_the_last_block_that_ended():
    tz = ZoneInfo(LONDON)
    now = datetime(2026, 3, 29, 3, 10, tzinfo=UTC)  # 04:10 BST, just after the spring change
    assert last_block_before(now, 4, tz) == Window(_utc(2026, 3, 29, 0), _utc(2026, 3, 29, 3))
    on_the_boundary = datetime(2026, 3, 29, 3, 0, tzinfo=UTC)
    assert last_block_before(on_the_boundary, 4, tz).end == on_the_boundary
    just_after_midnight = datetime(2026, 7, 2, 23, 0, 1, tzinfo=UTC)  # 00:00:01 BST on 3 July
    assert last_block_before(just_after_midnight, 7, tz) == Window(
        _utc(2026, 7, 2, 20), _utc(2026, 7, 2, 23)
    )


@pytest.mark.parametrize(("change", "hours"), [(date(2026, 9, 6), 71), (date(2026, 4, 5), 73)])
def test_a_zone_whose_clocks_change_at_midnight_keeps_contiguous_blocks(change, hours):
    # America/Santiago: 00:00 does not exist in September (-04 -> -03) and repeats in April
    tz = "America/Santiago"
    first = change - timedelta(days=1)
    timetable, start = _timetable(4, tz, start=first.isoformat())
    walked, last = [], None
    for _ in range(18):
        last, _ = _next(timetable, start, last, _utc(2026, 10, 1), catchup=True)
        walked.append(last)
    assert walked == _day_blocks(first, 3, 4, tz)
    assert all(a.end == b.start for a, b in itertools.pairwise(walked))
    assert walked[-1].end - walked[0].start == timedelta(hours=hours)
