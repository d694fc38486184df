"""The staging store round trip: a local folder (no copies) and an S3 prefix on moto (streamed)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from event_export.pipeline.staging import LocalStaging, S3Staging, check_key, staging_store
from servers.delivery import make_file
from servers.net import set_connection
from servers.s3 import aws_connection, boto_client

BUCKET = "ees-staging"
MiB = 1024 * 1024


@pytest.fixture
def s3_store(moto_s3, tmp_path):
    """An empty bucket, a connection to it, and a store with S3's smallest part size."""
    moto_s3.reset()
    boto_client(moto_s3.endpoint).create_bucket(Bucket=BUCKET)
    set_connection("unit_staging", aws_connection(moto_s3.endpoint, "AKIASTAGING", "secret"))
    return S3Staging(
        "unit_staging",
        BUCKET,
        "runs/",
        tmp_path / "scratch",
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
    )


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_local_staging_hands_over_the_same_file_without_a_copy(tmp_path):
    store = LocalStaging(tmp_path / "staging")
    with store.workspace() as ws:
        assert ws.root == tmp_path / "staging"
        written = make_file(ws.path("exp/2026-11-01/extract/extract.arrow"), 4096)
        assert ws.publish(written) == "exp/2026-11-01/extract/extract.arrow"
    with store.workspace() as ws:
        fetched = ws.fetch("exp/2026-11-01/extract/extract.arrow")
        assert os.path.samefile(fetched, written)
        with pytest.raises(FileNotFoundError):
            ws.fetch("exp/2026-11-01/extract/missing.arrow")
    assert store.keys("exp") == ["exp/2026-11-01/extract/extract.arrow"]
    store.clear("exp/2026-11-01")
    assert store.keys("exp") == []
    assert not written.parent.parent.parent.exists()  # the export's folder, left empty, went too
    assert store.root.is_dir()  # never the root (other runs' staging: test_staging_cleanup.py)


def test_s3_staging_round_trip_streams_multipart_and_leaves_no_scratch(s3_store, tmp_path):
    with s3_store.workspace() as ws:
        first_root = ws.root
        big = make_file(ws.path("exp/d1/package/acme.zip"), 11 * MiB + 7)  # 3 parts
        small = make_file(ws.path("exp/d1/extract/extract.arrow"), 1000)
        expected = {"big": _digest(big), "small": _digest(small)}
        assert ws.publish(big) == "exp/d1/package/acme.zip"
        ws.publish(small)
    assert not first_root.exists()
    head = s3_store.client.head_object(Bucket=BUCKET, Key="runs/exp/d1/package/acme.zip")
    assert head["ETag"].strip('"').endswith("-3")  # went up as a multipart upload

    with s3_store.workspace() as ws:
        assert ws.root != first_root and list(ws.root.iterdir()) == []
        fetched = ws.fetch_all(["exp/d1/package/acme.zip", "exp/d1/extract/extract.arrow"])
        assert [_digest(p) for p in fetched] == [expected["big"], expected["small"]]
        assert all(p.is_relative_to(ws.root) for p in fetched)
    assert list((tmp_path / "scratch").iterdir()) == []
    assert s3_store.keys("exp") == ["exp/d1/extract/extract.arrow", "exp/d1/package/acme.zip"]


def test_s3_publish_folder_replaces_an_earlier_try_and_clear_stays_in_its_prefix(s3_store):
    with s3_store.workspace() as ws:
        for name in ("a.arrow", "b.arrow", "sub/c.arrow"):
            make_file(ws.path(f"exp/d1/split/{name}"), 100)
        make_file(ws.path("exp/d2/split/x.arrow"), 100)
        make_file(ws.path("exp/d10/split/y.arrow"), 100)  # shares "exp/d1" as a string prefix
        ws.publish_folder(ws.path("exp/d1/split"))
        ws.publish_folder(ws.path("exp/d2/split"))
        ws.publish_folder(ws.path("exp/d10/split"))
    with s3_store.workspace() as ws:  # a retry that writes fewer files
        make_file(ws.path("exp/d1/split/a.arrow"), 200)
        ws.publish_folder(ws.path("exp/d1/split"))
        assert ws.fetch("exp/d1/split/a.arrow").stat().st_size == 200
    assert s3_store.keys("exp/d1") == ["exp/d1/split/a.arrow"]
    s3_store.clear("exp/d1")
    assert s3_store.keys("exp") == ["exp/d10/split/y.arrow", "exp/d2/split/x.arrow"]


def test_a_failed_task_still_removes_its_scratch(s3_store, tmp_path):
    with pytest.raises(RuntimeError), s3_store.workspace() as ws:
        make_file(ws.path("exp/d1/format/x.csv"), 10)
        raise RuntimeError("stage failed")
    assert list((tmp_path / "scratch").iterdir()) == []
    assert s3_store.keys("exp") == []


@pytest.mark.parametrize("key", ["", "/etc/passwd", "exp/../../x", "exp\\x"])
def test_keys_stay_under_the_staging_root(key):
    with pytest.raises(ValueError):
        check_key(key)


def test_settings_choose_the_store(monkeypatch, tmp_path):
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "local"))
    monkeypatch.delenv("EES_STAGING_URI", raising=False)
    monkeypatch.delenv("EES_STAGING_CONN_ID", raising=False)
    local = staging_store()
    assert isinstance(local, LocalStaging) and local.root == tmp_path / "local"

    monkeypatch.setenv("EES_STAGING_URI", "s3://bucket/ees/staging/")
    remote = staging_store()
    assert isinstance(remote, S3Staging)
    assert (remote.bucket, remote.prefix, remote.conn_id) == (
        "bucket",
        "ees/staging",
        "aws_default",
    )
    assert remote.scratch == tmp_path / "local"
    assert remote.object_key("a/b.arrow") == "ees/staging/a/b.arrow"
    monkeypatch.setenv("EES_STAGING_CONN_ID", "staging_s3")
    assert staging_store().conn_id == "staging_s3"

    monkeypatch.setenv("EES_STAGING_URI", "gs://bucket/x")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        staging_store()


def test_scratch_of_killed_tasks_goes_after_a_day(s3_store, tmp_path):
    scratch = tmp_path / "scratch"
    old, recent = scratch / "task-killed", scratch / "task-running"
    for folder in (old, recent):
        make_file(folder / "exp/d1/extract/extract.arrow", 10)
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    with s3_store.workspace():
        assert not old.exists() and recent.exists()
