"""Staging retention: a validated run's staging goes at once (or after EES_STAGING_KEEP_DAYS), a
failed run's stays for a retry until EES_STAGING_MAX_AGE_DAYS; on a local folder and on moto S3."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from event_export.pipeline.lake import Window
from event_export.pipeline.staging import VALIDATED_MARKER, LocalStaging, S3Staging, is_run_prefix
from event_export.pipeline.staging_cleanup import (
    SWEEP_EVERY_S,
    SWEPT,
    Retention,
    describe_left,
    release,
    sweep,
    sweep_if_due,
)
from event_export.scheduling.schedules import day_period, days_period, hours_period
from event_export.settings import staging_keep_days, staging_max_age_days
from servers.net import set_connection
from servers.s3 import aws_connection, boto_client

BUCKET = "ees-retention"
RUN = "acme_daily/2026-11-01"
OTHER = "acme_daily/2026-11-02"
DEFAULT = Retention(keep_days=0, max_age_days=7)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, moto_s3):
    if request.param == "local":
        return LocalStaging(tmp_path / "staging")
    moto_s3.reset()
    boto_client(moto_s3.endpoint).create_bucket(Bucket=BUCKET)
    set_connection("unit_retention", aws_connection(moto_s3.endpoint, "AKIARETAIN", "secret"))
    return S3Staging("unit_retention", BUCKET, "runs", tmp_path / "scratch")


def _stage(store, prefix: str) -> None:
    """A run's staging as the stages leave it: extract, split parts, a formatted file, the zip."""
    for key, size in {
        "extract/extract.arrow": 3000,
        "split/add to cart.arrow": 1000,
        "split/purchase.arrow": 900,
        "format/add to cart/add to cart_01112026.csv": 700,
        "package/acme_01112026.zip": 200,
    }.items():
        with store.workspace() as ws:
            path = ws.path(f"{prefix}/{key}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * size)
            ws.publish(path)


def _everything(store) -> list[str]:
    if isinstance(store, LocalStaging):
        return [p.as_posix() for p in store.root.rglob("*")] if store.root.exists() else []
    listed = boto_client(store.client.meta.endpoint_url).list_objects_v2(Bucket=BUCKET)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_validated_run_leaves_nothing_behind_by_default(store):
    _stage(store, RUN)
    (staged,) = store.runs()
    assert (staged.prefix, staged.size, staged.validated_at) == (RUN, 5800, None)
    assert release(store, RUN, DEFAULT) == "removed"
    assert _everything(store) == []  # not even the export's empty folder
    assert store.runs() == []


def test_release_removes_only_its_own_run(store):
    _stage(store, RUN)
    _stage(store, OTHER)
    release(store, RUN, DEFAULT)
    assert [r.prefix for r in store.runs()] == [OTHER]
    assert store.keys(OTHER)


def test_keep_days_keeps_a_validated_run_until_its_marker_is_that_old(store):
    _stage(store, RUN)
    assert release(store, RUN, Retention(keep_days=1, max_age_days=7)) == "kept"
    (kept,) = store.runs()
    assert kept.validated_at is not None
    assert f"{RUN}/{VALIDATED_MARKER}" in store.keys(RUN)
    keep_one = Retention(keep_days=1, max_age_days=7)
    assert sweep(store, kept.validated_at + timedelta(hours=23), keep_one) == []
    assert sweep(store, kept.validated_at + timedelta(hours=25), keep_one) == [RUN]
    assert store.runs() == []


def test_a_failed_run_keeps_its_staging_until_it_ages_out(store):
    _stage(store, RUN)  # never validated: a failed run (or one still running)
    (failed,) = store.runs()
    now = failed.changed
    assert sweep(store, now + timedelta(days=6, hours=23), DEFAULT) == []
    assert store.keys(RUN)
    assert sweep(store, now + timedelta(days=7, hours=1), DEFAULT) == [RUN]
    assert _everything(store) == []


def test_the_sweep_spares_young_runs_of_every_export_and_removes_aged_ones(store):
    _stage(store, RUN)
    _stage(store, "globex_6h/2026-11-01T0000+0000_6h")
    release(store, "globex_6h/2026-11-01T0000+0000_6h", Retention(1, 7))
    changed = max(r.changed for r in store.runs())
    assert sweep(store, changed + timedelta(days=2), DEFAULT) == [
        "globex_6h/2026-11-01T0000+0000_6h"
    ]
    assert [r.prefix for r in store.runs()] == [RUN]


def test_a_host_sweeps_at_most_every_ten_minutes(store, monkeypatch):
    """Each extract would list every run in flight (0.4 CPU-s for 421 runs on a local folder):
    a host's sweeps are SWEEP_EVERY_S apart, its stamp's mtime telling when it last swept."""
    listed = []
    runs = store.runs
    monkeypatch.setattr(store, "runs", lambda: listed.append(1) or runs())
    _stage(store, RUN)
    assert sweep_if_due(store) == []  # never swept on this host: swept (nothing aged)
    assert sweep_if_due(store) is None  # a moment later: not again
    assert len(listed) == 1
    stamp = store.host_dir / SWEPT
    earlier = time.time() - SWEEP_EVERY_S - 1
    os.utime(stamp, (earlier, earlier))
    assert sweep_if_due(store) == []
    assert len(listed) == 2 and stamp.stat().st_mtime > earlier
    assert [r.prefix for r in runs()] == [RUN]  # the stamp is no run, and no run went


def test_a_store_that_cannot_list_or_remove_never_fails_the_run(tmp_path):
    class Broken(LocalStaging):
        def runs(self):
            raise OSError("staging bucket unreachable")

        def clear(self, prefix):
            raise OSError("staging bucket unreachable")

    broken = Broken(tmp_path / "staging")
    assert sweep(broken, datetime.now(UTC), DEFAULT) == []
    assert release(broken, RUN, DEFAULT) == "left"


@pytest.mark.parametrize("value", ["-1", "abc", "nan", "inf", "1e999", "7 days", "0x10"])
def test_retention_settings_refuse_what_is_not_a_number_of_days(monkeypatch, value):
    monkeypatch.setenv("EES_STAGING_KEEP_DAYS", value)
    monkeypatch.setenv("EES_STAGING_MAX_AGE_DAYS", value)
    with pytest.raises(ValueError, match="EES_STAGING_KEEP_DAYS"):
        staging_keep_days()
    with pytest.raises(ValueError, match="EES_STAGING_MAX_AGE_DAYS"):
        staging_max_age_days()


def test_retention_settings_default_to_nothing_kept_and_a_week_for_failures(monkeypatch):
    monkeypatch.delenv("EES_STAGING_KEEP_DAYS", raising=False)
    monkeypatch.setenv("EES_STAGING_MAX_AGE_DAYS", " ")
    assert (staging_keep_days(), staging_max_age_days()) == (0, 7)
    monkeypatch.setenv("EES_STAGING_KEEP_DAYS", "0.5")
    assert staging_keep_days() == 0.5


def test_describe_left_names_each_run_its_bytes_and_the_total(tmp_path):
    store = LocalStaging(tmp_path / "staging")
    assert describe_left(store) == [f"staging left: 0 bytes in {store.location} (0 runs)"]
    _stage(store, RUN)
    _stage(store, OTHER)
    release(store, OTHER, Retention(keep_days=2, max_age_days=7))
    marker = len(store.root.joinpath(OTHER, VALIDATED_MARKER).read_bytes())
    assert describe_left(store) == [
        f"staging left: {11600 + marker:,} bytes in {store.location} (2 runs)",
        f"  {RUN}: 5,800 bytes, not validated (failed or running)",
        f"  {OTHER}: {5800 + marker:,} bytes, validated, kept",
    ]


def test_every_period_key_is_a_run_and_nothing_else_under_the_root_is_swept(tmp_path):
    ny, kolkata = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
    block = Window(datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 1, 9, tzinfo=UTC))
    keys = [
        day_period(date(2026, 11, 1), kolkata).key,
        days_period(date(2026, 10, 1), date(2026, 10, 31), kolkata).key,
        hours_period(block, 4, ny).key,  # -0400
        hours_period(block, 6, kolkata).key,  # +0530
    ]
    assert all(is_run_prefix("acme_x", key) for key in keys), keys
    store = LocalStaging(tmp_path / "shared")
    for prefix in ["acme_x/" + k for k in keys]:
        _stage(store, prefix)
    foreign = ["bench/duckdb", "acme_x/notes", ".cache/2026-11-01", "acme_x/2026-11-01.bak"]
    for folder in foreign:  # someone else's files under a shared EES_STAGING_DIR
        (store.root / folder).mkdir(parents=True)
        (store.root / folder / "data").write_bytes(b"keep")
    later = datetime.now(UTC) + timedelta(days=30)
    assert sorted(sweep(store, later, DEFAULT)) == sorted("acme_x/" + k for k in keys)
    assert all((store.root / folder / "data").is_file() for folder in foreign)
