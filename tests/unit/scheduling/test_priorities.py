"""Deadline first (issue 18): weights rank exports by their deadline in UTC, across zones, DST
and the date line; upload pools are one per destination connection (and bucket)."""

from datetime import date, time
from zoneinfo import ZoneInfo

from configs import schedule_config
from event_export.config.model import ExportConfig
from event_export.scheduling.priorities import (
    NO_DEADLINE_WEIGHT,
    POOL_PREFIX,
    deadline_minutes_utc,
    priority_weight,
    upload_pool,
    upload_pools,
)

WINTER, SUMMER = date(2026, 1, 15), date(2026, 7, 15)


def test_deadline_minutes_count_from_the_exported_days_utc_midnight():
    # 07:00 in Kolkata (UTC+5:30) the next morning is 01:30 UTC on the next day
    assert deadline_minutes_utc(WINTER, time(7), ZoneInfo("Asia/Kolkata")) == 25 * 60 + 30
    # New York: 12:00 UTC in winter, 11:00 UTC in summer (DST)
    assert deadline_minutes_utc(WINTER, time(7), ZoneInfo("America/New_York")) == 36 * 60
    assert deadline_minutes_utc(SUMMER, time(7), ZoneInfo("America/New_York")) == 35 * 60


def test_earlier_deadline_in_utc_weighs_more_whatever_the_zone():
    zones = [  # 07:00 local, in UTC order of the deadline on a January night
        "Pacific/Kiritimati",  # UTC+14: 17:00 UTC the same day
        "Pacific/Auckland",  # UTC+13 (summer there): 18:00
        "Asia/Tokyo",  # 22:00
        "Asia/Kolkata",  # 01:30 the next day
        "Europe/London",  # 07:00
        "America/New_York",  # 12:00
        "America/Los_Angeles",  # 15:00
        "Pacific/Honolulu",  # 17:00
    ]
    weights = [priority_weight(schedule_config(timezone=z), WINTER) for z in zones]
    assert weights == sorted(weights, reverse=True)
    assert len(set(weights)) == len(weights)
    assert min(weights) > NO_DEADLINE_WEIGHT


def test_a_later_local_deadline_in_the_same_zone_weighs_less():
    early = priority_weight(schedule_config(timezone="Asia/Kolkata", deadline="05:00"), WINTER)
    late = priority_weight(schedule_config(timezone="Asia/Kolkata", deadline="09:30"), WINTER)
    assert early - late == 4 * 60 + 30


def test_a_dst_zone_moves_by_its_clock_change():
    berlin = schedule_config(timezone="Europe/Berlin")
    assert priority_weight(berlin, SUMMER) - priority_weight(berlin, WINTER) == 60


def test_exports_without_a_deadline_weigh_least():
    once = schedule_config(frequency="one_time")
    recurring = schedule_config(frequency="recurring", every_hours=6)
    assert priority_weight(once, WINTER) == priority_weight(recurring, WINTER) == 1
    latest = schedule_config(timezone="Etc/GMT+12", deadline="23:59")  # UTC-12, last of all
    assert priority_weight(latest, WINTER) > NO_DEADLINE_WEIGHT


def _export(export_id: str, destination: dict) -> ExportConfig:
    return ExportConfig.model_validate(
        {"client_id": "acme", "export_id": export_id, "destination": destination}
    )


def test_one_pool_per_connection_and_bucket():
    a = _export("a", {"type": "sftp", "conn_id": "acme_sftp"})
    b = _export("b", {"type": "sftp", "conn_id": "acme_sftp", "path": "other"})
    c = _export("c", {"type": "s3", "conn_id": "aws_acme", "bucket": "acme-one"})
    d = _export("d", {"type": "s3", "conn_id": "aws_acme", "bucket": "acme-two"})
    assert upload_pool(a) == upload_pool(b) == "ees_upload_sftp_acme_sftp"
    assert upload_pool(c) == "ees_upload_s3_aws_acme_acme-one"
    assert upload_pools([d, c, b, a]) == {
        "ees_upload_sftp_acme_sftp": ["a", "b"],
        "ees_upload_s3_aws_acme_acme-one": ["c"],
        "ees_upload_s3_aws_acme_acme-two": ["d"],
    }


def test_connection_ids_that_sanitise_alike_stay_apart():
    one = upload_pool(_export("a", {"type": "ftp", "conn_id": "acme ftp"}))
    other = upload_pool(_export("b", {"type": "ftp", "conn_id": "acme/ftp"}))
    assert one != other
    for name in (one, other):
        assert name.startswith(POOL_PREFIX + "ftp_acme_ftp_")
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
