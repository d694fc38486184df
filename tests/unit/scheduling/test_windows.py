from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from event_export.scheduling.windows import day_covered_by_run, day_window


def test_kolkata_day_is_utc_1830_to_1830():
    window = day_window(date(2026, 11, 1), ZoneInfo("Asia/Kolkata"))
    assert window.start == datetime(2026, 10, 31, 18, 30, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
    assert len(list(window.hours())) == 25  # the 18:00 UTC hour at each edge is shared


def test_new_york_day_of_dst_end_lasts_25_hours():
    window = day_window(date(2026, 11, 1), ZoneInfo("America/New_York"))
    assert window.start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    assert window.end - window.start == timedelta(hours=25)


def test_new_york_day_of_dst_start_lasts_23_hours():
    window = day_window(date(2026, 3, 8), ZoneInfo("America/New_York"))
    assert window.end - window.start == timedelta(hours=23)


def test_run_at_local_midnight_covers_the_day_before():
    tz = ZoneInfo("Asia/Kolkata")
    logical = datetime(2026, 11, 1, 18, 30, tzinfo=UTC)  # 2026-11-02 00:00 IST
    assert day_covered_by_run(logical, tz) == date(2026, 11, 1)
