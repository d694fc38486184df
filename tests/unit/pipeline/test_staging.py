"""The staging store round trip: a local folder (no copies) and an S3 prefix on moto (streamed)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from event_export.pipeline import staging
from event_export.pipeline.staging import (
    COPIES_KEPT_S,
    LocalStaging,
    S3Staging,
    check_key,
    staging_store,
)
from servers.delivery import make_file
from servers.net import set_connection
from servers.s3 import aws_connection, boto_client

BUCKET = "ees-staging"
MiB = 1024 * 1024


def _store(scratch, host_copies: bool) -> S3Staging:
    """A store on the test bucket with S3's smallest part size."""
    return S3Staging(
        "unit_staging",
        BUCKET,
        "runs/",
        scratch,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
        host_copies=host_copies,
    )


@pytest.fixture
def s3_bucket(moto_s3):
    """An empty bucket and a connection to it."""
    moto_s3.reset()
    boto_client(moto_s3.endpoint).create_bucket(Bucket=BUCKET)
    set_connection("unit_staging", aws_connection(moto_s3.endpoint, "AKIASTAGING", "secret"))


@pytest.fixture
def s3_store(s3_bucket, tmp_path):
    """A store without host copies: every fetch downloads (a task on another worker)."""
    return _store(tmp_path / "scratch", host_copies=False)


@pytest.fixture
def s3_copies(s3_bucket, tmp_path):
    """A store keeping host copies, as deployed."""
    return _store(tmp_path / "scratch", host_copies=True)


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


def _copies(store: S3Staging) -> list[str]:
    return sorted(
        p.relative_to(store.copies).as_posix() for p in store.copies.rglob("*") if p.is_file()
    )


def test_a_later_task_on_the_same_worker_links_the_copy_instead_of_downloading(s3_copies):
    with s3_copies.workspace() as ws:
        big = make_file(ws.path("exp/d1/package/acme.zip"), 11 * MiB + 7)  # multipart
        small = make_file(ws.path("exp/d1/extract/extract.arrow"), 1000)  # one PUT
        expected = [_digest(big), _digest(small)]
        ws.publish(big)
        ws.publish(small)
    kept = _copies(s3_copies)
    assert [k.rsplit("/", 1)[0] for k in kept] == [
        "exp/d1/extract/extract.arrow",
        "exp/d1/package/acme.zip",
    ]
    head = s3_copies.client.head_object(Bucket=BUCKET, Key="runs/exp/d1/package/acme.zip")
    assert kept[1].rsplit("/", 1)[1] == head["ETag"].strip('"')  # named by S3's ETag
    with s3_copies.workspace() as ws:
        fetched = ws.fetch_all(["exp/d1/package/acme.zip", "exp/d1/extract/extract.arrow"])
        copies = [s3_copies.copies / k for k in reversed(kept)]
        assert all(os.path.samefile(f, c) for f, c in zip(fetched, copies, strict=True))
        assert [_digest(p) for p in fetched] == expected
        assert ws.fetch("exp/d1/extract/extract.arrow").stat().st_size == 1000  # again: replaced
    assert [p.name for p in s3_copies.scratch.iterdir()] == ["copies"]  # no workspace left


def _requests(store: S3Staging) -> dict[str, int]:
    """Counts of the S3 operations `store`'s client sends from now on, by name."""
    sent: dict[str, int] = {}

    def count(model, **_):
        sent[model.name] = sent.get(model.name, 0) + 1

    store.client.meta.events.register("before-call.s3", count)
    return sent


def test_a_task_checks_its_copies_against_one_listing_per_run(s3_copies):
    """A task's inputs are checked against one LIST of their run (not a HEAD each); a key
    staged after that listing, by the task itself, is checked with a HEAD."""
    keys = [f"exp/d{run}/extract/{i}.arrow" for run in (1, 2) for i in range(6)]
    with s3_copies.workspace() as ws:
        for i, key in enumerate(keys):
            ws.publish(make_file(ws.path(key), 500 + i, seed=i))
    sent = _requests(s3_copies)
    with s3_copies.workspace() as ws:
        fetched = ws.fetch_all(keys)
        assert [p.stat().st_size for p in fetched] == [500 + i for i in range(12)]
        assert all(p.stat().st_nlink == 2 for p in fetched)  # linked, not downloaded
        assert sent == {"ListObjectsV2": 2}
        late = ws.publish(make_file(ws.path("exp/d1/format/late.csv"), 70))
        ws.settle()
        assert ws.fetch(late).stat().st_size == 70
    assert sent == {"ListObjectsV2": 2, "PutObject": 1, "HeadObject": 1}


def test_a_small_file_comes_down_in_one_get_and_a_large_one_in_parts(s3_store):
    """Without a host copy (a task on another worker): one GET per file the listing shows
    below the multipart threshold, no HEAD; a larger one through the transfer manager."""
    with s3_store.workspace() as ws:
        small = [make_file(ws.path(f"exp/d1/format/{i}.csv"), 3000 + i, seed=i) for i in range(3)]
        big = make_file(ws.path("exp/d1/package/acme.zip"), 6 * MiB + 1, seed=9)  # multipart
        expected = [_digest(p) for p in (*small, big)]
        for path in (*small, big):
            ws.publish(path)
    sent = _requests(s3_store)
    with s3_store.workspace() as ws:
        fetched = ws.fetch_all([f"exp/d1/format/{i}.csv" for i in range(3)])
        assert sent == {"ListObjectsV2": 1, "GetObject": 3}
        fetched.append(ws.fetch("exp/d1/package/acme.zip"))
        assert [_digest(p) for p in fetched] == expected
        assert sent["HeadObject"] == 1 and sent["GetObject"] == 5  # 2 ranged GETs for the big one
        assert sorted(p.name for p in fetched[0].parent.iterdir()) == ["0.csv", "1.csv", "2.csv"]
    # what makes one GET as safe as the transfer manager: S3 holds each staged file's CRC32, so
    # botocore checks the body against it as it ends (and its length, as for any body)
    got = s3_store.client.get_object(Bucket=BUCKET, Key="runs/exp/d1/format/0.csv")
    assert got["ChecksumCRC32"] and type(got["Body"]).__name__ == "StreamingChecksumBody"


def test_a_get_that_fails_leaves_no_file(s3_store):
    with s3_store.workspace() as ws:
        ws.publish(make_file(ws.path("exp/d1/format/a.csv"), 100))
        ws.publish(make_file(ws.path("exp/d1/format/b.csv"), 100))
    with s3_store.workspace() as ws:
        ws.fetch("exp/d1/format/a.csv")  # the workspace's listing holds b.csv from here on
        s3_store.client.delete_object(Bucket=BUCKET, Key="runs/exp/d1/format/b.csv")
        with pytest.raises(Exception) as gone:
            ws.fetch("exp/d1/format/b.csv")
        assert gone.value.response["Error"]["Code"] == "NoSuchKey"
        assert [p.name for p in ws.path("exp/d1/format").iterdir()] == ["a.csv"]


def test_listings_and_clear_read_every_page(s3_copies, monkeypatch):
    """A run staged in more objects than one LIST returns (S3: 1,000; 2 here) is listed whole:
    its copies are checked against it and `clear` removes every object."""
    monkeypatch.setattr(staging, "LIST_PAGE", 2)
    keys = [f"exp/d1/format/{i}.csv" for i in range(7)]
    with s3_copies.workspace() as ws:
        for i, key in enumerate(keys):
            ws.publish(make_file(ws.path(key), 10 + i, seed=i))
    sent = _requests(s3_copies)
    assert s3_copies.keys("exp/d1") == sorted(keys)
    with s3_copies.workspace() as ws:
        assert [p.stat().st_size for p in ws.fetch_all(keys)] == [10 + i for i in range(7)]
    assert sent == {"ListObjectsV2": 8}  # 4 pages each time, no HEAD
    s3_copies.clear("exp/d1")
    assert s3_copies.keys("exp/d1") == []


def test_a_copy_is_not_used_once_another_worker_staged_the_key_again(s3_bucket, tmp_path):
    here, there = _store(tmp_path / "w1", True), _store(tmp_path / "w2", True)
    for size in (1000, 1000, 1200):  # the same size with other bytes, then another size
        with here.workspace() as ws:
            ws.publish(make_file(ws.path("exp/d1/format/a.csv"), 1000))
        with there.workspace() as ws:  # a retry on another worker
            ws.publish(make_file(ws.path("exp/d1/format/a.csv"), size, seed=size + 1))
            staged = _digest(ws.path("exp/d1/format/a.csv"))
        with here.workspace() as ws:
            fetched = ws.fetch("exp/d1/format/a.csv")
            assert _digest(fetched) == staged
            assert not any(os.path.samefile(fetched, here.copies / k) for k in _copies(here))


def test_a_copy_written_to_after_it_was_staged_is_not_used(s3_copies):
    with s3_copies.workspace() as ws:
        staged = make_file(ws.path("exp/d1/format/a.csv"), 1000)
        expected = _digest(staged)
        ws.publish(staged)
    (copy,) = _copies(s3_copies)
    with (s3_copies.copies / copy).open("ab") as appended:  # the inode changed after its upload
        appended.write(b"late bytes")
    with s3_copies.workspace() as ws:
        assert _digest(ws.fetch("exp/d1/format/a.csv")) == expected


def test_uploads_go_on_while_the_task_works_and_the_workspace_waits_for_them(s3_store):
    with s3_store.workspace() as ws:
        keys = [
            ws.publish(make_file(ws.path(f"exp/d1/format/{i}.csv"), 2000, seed=i)) for i in range(8)
        ]
        again = make_file(ws.path("exp/d1/format/0.csv"), 3000, seed=99)  # replaced, in order
        ws.publish(again)
        assert ws.fetch("exp/d1/format/0.csv").stat().st_size == 3000  # waits for its upload
    assert s3_store.keys("exp/d1") == sorted(keys)  # every queued upload done at the exit
    sizes = {
        o["Key"]: o["Size"]
        for o in s3_store.client.list_objects_v2(Bucket=BUCKET, Prefix="runs/exp/")["Contents"]
    }
    assert sizes["runs/exp/d1/format/0.csv"] == 3000


def test_a_failed_upload_fails_the_task_at_the_workspace_exit(s3_store, monkeypatch):
    def refused(local, key):
        raise PermissionError(f"AccessDenied: {key}")

    monkeypatch.setattr(s3_store, "publish", refused)
    with pytest.raises(PermissionError, match="AccessDenied"), s3_store.workspace() as ws:
        ws.publish(make_file(ws.path("exp/d1/format/a.csv"), 10))
    assert list(s3_store.scratch.iterdir()) == []


def test_copies_go_with_their_staging_and_after_hours_elsewhere(s3_copies):
    with s3_copies.workspace() as ws:
        for run in ("d1", "d2", "d3"):
            ws.publish(make_file(ws.path(f"exp/{run}/extract/x.arrow"), 100))
    s3_copies.clear("exp/d1")  # this worker released the run
    assert {k.split("/")[1] for k in _copies(s3_copies)} == {"d2", "d3"}
    with s3_copies.workspace() as ws, pytest.raises(Exception) as missing:
        ws.fetch("exp/d1/extract/x.arrow")
    assert missing.value.response["Error"]["Code"] == "404"  # as without copies: not staged

    s3_copies.forget("exp/d2")  # staging kept after validate: the objects stay, the copies go
    assert s3_copies.keys("exp/d2") == ["exp/d2/extract/x.arrow"]
    assert {k.split("/")[1] for k in _copies(s3_copies)} == {"d3"}

    with s3_copies.workspace() as ws:  # d4 staged now; d3 released on another worker long ago
        ws.publish(make_file(ws.path("exp/d4/extract/x.arrow"), 100))
    old = time.time() - COPIES_KEPT_S - 60
    os.utime(s3_copies.copies / "exp" / "d3", (old, old))
    with s3_copies.workspace():
        assert {k.split("/")[1] for k in _copies(s3_copies)} == {"d4"}


def test_host_copies_can_be_turned_off(monkeypatch, tmp_path):
    monkeypatch.setenv("EES_STAGING_URI", "s3://bucket/staging")
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path))
    assert staging_store().copies == tmp_path / "copies"
    monkeypatch.setenv("EES_STAGING_HOST_COPIES", "off")
    assert staging_store().copies is None


@pytest.mark.parametrize(
    "etag", ['"../../escape"', '"a/b"', '""', '"' + "f" * 101 + '"', '"x\x00y"']
)
def test_an_etag_that_is_no_file_name_keeps_no_copy(s3_copies, etag):
    """The ETag names the copy's file: one an S3-compatible store spells otherwise (a path, empty,
    too long, a control character) keeps nothing, and the file is still staged and fetched."""
    with s3_copies.workspace() as ws:
        staged = make_file(ws.path("exp/d1/format/a.csv"), 100)
        expected = _digest(staged)
        s3_copies._keep_copy(staged, "exp/d1/format/a.csv", etag)
        assert not (s3_copies.copies / "exp").exists()
        ws.publish(staged)
    assert not any(p.name in ("escape", "b") for p in s3_copies.scratch.rglob("*"))
    with s3_copies.workspace() as ws:
        assert _digest(ws.fetch("exp/d1/format/a.csv")) == expected


def _stage_members(store: S3Staging, count: int = 3) -> tuple[list[str], list[bytes | str]]:
    """`count` members staged by one task (as format's are) and pieces that hold them between
    runs of header bytes, as a zip does."""
    with store.workspace() as ws:
        keys = [
            ws.publish(make_file(ws.path(f"exp/d1/format/{i}.deflate"), 2000 + i, seed=i))
            for i in range(count)
        ]
    pieces: list[bytes | str] = [b"head"]
    for key in keys:
        pieces += [key, f"between {key}".encode()]
    return keys, pieces


def _assemble(ws, pieces: list[bytes | str], name: str = "exp/d1/package/acme.zip"):
    """The file made of `pieces` written into `ws` (its keys fetched there), as package does."""
    target = ws.path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for piece in pieces:
            out.write(piece if isinstance(piece, bytes) else ws.fetch(piece).read_bytes())
    return target


def test_an_assembled_file_is_staged_as_its_pieces_and_rebuilt_elsewhere(s3_bucket, tmp_path):
    """A zip's bytes are its members' between headers: S3 keeps the recipe, not the bytes again.
    The worker that made it links its copy; another rebuilds it with one GET per member."""
    here = _store(tmp_path / "here", host_copies=True)
    keys, pieces = _stage_members(here)
    with here.workspace() as ws:
        target = _assemble(ws, pieces)
        expected = target.read_bytes()
        assert ws.publish_assembled(target, pieces) == "exp/d1/package/acme.zip"
    assert here.keys("exp/d1/package") == [f"exp/d1/package/acme.zip{staging.ASSEMBLY}"]
    sent = _requests(here)
    with here.workspace() as ws:  # a later task on the same worker: its copy, no member fetched
        fetched = ws.fetch("exp/d1/package/acme.zip")
        assert fetched.read_bytes() == expected and fetched.stat().st_nlink == 2
    assert sent == {"ListObjectsV2": 1, "GetObject": 1}  # the listing, the recipe

    elsewhere = _store(tmp_path / "elsewhere", host_copies=False)
    sent = _requests(elsewhere)
    with elsewhere.workspace() as ws:
        fetched = ws.fetch("exp/d1/package/acme.zip")
        assert fetched.read_bytes() == expected
        assert sorted(p.name for p in fetched.parent.iterdir()) == ["acme.zip"]
    assert sent == {"ListObjectsV2": 1, "GetObject": 1 + len(keys)}


def test_an_assembled_file_whose_member_was_staged_again_is_not_rebuilt(s3_bucket, tmp_path):
    """Each member's GET holds S3 to the ETag recorded with the recipe: a member staged again
    since (a format task rerun alone) fails the fetch and leaves no file, rather than a zip
    that no longer matches the manifest's checksum."""
    here = _store(tmp_path / "here", host_copies=True)
    keys, pieces = _stage_members(here)
    with here.workspace() as ws:
        ws.publish_assembled(_assemble(ws, pieces), pieces)
    with here.workspace() as ws:
        ws.publish(make_file(ws.path(keys[1]), 2001, seed=99))  # same size, other bytes
    elsewhere = _store(tmp_path / "elsewhere", host_copies=False)
    with elsewhere.workspace() as ws:
        with pytest.raises(Exception) as changed:
            ws.fetch("exp/d1/package/acme.zip")
        assert changed.value.response["Error"]["Code"] in ("PreconditionFailed", "412")
        assert list(ws.path("exp/d1/package").iterdir()) == []


def test_publishing_an_assembled_file_replaces_a_whole_one_and_checks_the_sizes(s3_copies):
    _, pieces = _stage_members(s3_copies)
    with s3_copies.workspace() as ws:
        plain = ws.publish(make_file(ws.path("exp/d1/package/acme.zip"), 10))  # an earlier try
    assert s3_copies.keys("exp/d1/package") == [plain]
    with s3_copies.workspace() as ws:
        target = _assemble(ws, pieces)
        ws.publish_assembled(target, pieces)
        ws.settle()
        assert s3_copies.keys("exp/d1/package") == [f"{plain}{staging.ASSEMBLY}"]
        with target.open("ab") as out:
            out.write(b"one byte more than its pieces")
        with pytest.raises(ValueError, match=r"pieces of exp/d1/package/acme\.zip hold"):
            ws.publish_assembled(target, pieces)
            ws.settle()


def test_local_staging_keeps_an_assembled_file_as_it_is(tmp_path):
    store = LocalStaging(tmp_path / "staging")
    with store.workspace() as ws:
        member = ws.publish(make_file(ws.path("exp/d1/format/0.deflate"), 100))
        target = _assemble(ws, [b"head", member])
        assert ws.publish_assembled(target, [b"head", member]) == "exp/d1/package/acme.zip"
    assert store.keys("exp/d1/package") == ["exp/d1/package/acme.zip"]
