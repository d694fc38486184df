"""Where a run's files wait between tasks: a local folder, or an S3 prefix any worker can reach.

Stages work on local paths (fast Arrow IPC, streamed). Each task gets a `Workspace`, a local
folder that staging keys map into: it fetches its inputs by key, runs its stage, and publishes
its outputs; XCom carries the keys (relative to the staging root), never a worker's paths.

- `LocalStaging` (the default, `EES_STAGING_DIR`): the workspace IS the staging folder, so fetch
  and publish copy nothing. Every worker must see that folder (one host, or a shared volume).
- `S3Staging` (`EES_STAGING_URI=s3://bucket/prefix`, connection `EES_STAGING_CONN_ID`): each
  workspace is a fresh temporary folder under `EES_STAGING_DIR`, removed when the task ends, so
  tasks of one run may execute on different workers. Files go up in one PUT (multipart above
  64 MB) and come down in one streamed GET when the workspace's listing shows them below that,
  else through boto3's transfer manager; never a whole file in memory.

Host copies (S3 only, `EES_STAGING_HOST_COPIES`, on by default). A run's next task often runs on
the worker that staged its input (one host, or a Celery worker with several slots): downloading
what this host has just uploaded costs a transfer and, for a 1 M-event day, about as much time as
the stages' own work (docs/performance.md, "S3 staging"). So each publish also hard-links the file
under `<scratch>/copies/<key>/<ETag>` (no bytes written again), and a fetch that finds a copy checks
it against the object's ETag and size in S3 and links the copy if both match; otherwise, or when
the link fails, it downloads. A workspace lists each run's prefix once, at its first fetch there,
and checks every copy against that listing (`Listing`): one LIST for a task's inputs instead of a
HEAD each (126 for a 40-event daily zip), which on S3 are round trips of their own. A key the
listing does not hold (staged after it) gets a HEAD. S3 stays the truth: a retry on
another worker that re-staged a key changes its ETag, and a copy whose size changed was written
to after it was staged. `clear` removes the prefix's copies; copies of runs released on other
workers go `COPIES_KEPT_S` after their last publish (each new workspace looks: one folder a run).

Assembled files (S3 only): a daily zip is its members, staged already by `format`, between a few
kilobytes of headers, so `package` stages its recipe (`<key>.assembly.json`) instead of the bytes
again (`S3Staging.publish_assembled`); a fetch rebuilds it, or links the host copy.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from event_export.settings import (
    staging_conn_id,
    staging_host_copies,
    staging_root,
    staging_uri,
)

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024
TRANSFER_THREADS = 4  # files moved at once (many small split parts); each multipart also threads
ABANDONED_AFTER_S = 24 * 3600  # a scratch folder this old was left by a killed task
COPIES = "copies"  # under the scratch folder: host copies of what this worker staged
COPIES_KEPT_S = 6 * 3600  # a run's copies this long after its last publish (released elsewhere)
COPY_BLOCK = 1024 * 1024  # bytes read from a GET's body at a time
LIST_PAGE = 1000  # keys per LIST request (S3's most)
ASSEMBLY = ".assembly.json"  # beside an assembled file's key on S3: its pieces (publish_assembled)
ETAG = re.compile(r"[0-9A-Za-z-]{1,100}")  # as a file name: S3's hex digest, "-N" for multipart


def check_key(key: str) -> str:
    """A staging key: relative, forward slashes, no `..` (it names a file under the root)."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or ".." in parts or "\\" in key:
        raise ValueError(f"not a staging key: {key!r}")
    return key


VALIDATED_MARKER = "_validated"  # written into a run's prefix when its staging is kept on success
# A run's period key (schedules.Period.key): a day, a date range, or a recurring block. Only
# folders named like one are runs: the sweep never touches anything else under the root.
PERIOD_KEY = re.compile(r"\d{4}-\d{2}-\d{2}(_\d{4}-\d{2}-\d{2}|T\d{4}[+-]\d{4}_\d{1,2}h)?")


def run_of(key: str) -> str | None:
    """The run a staged key lies under, `<export_id>/<period>`, or None for a shorter key."""
    parts = PurePosixPath(key).parts
    return "/".join(parts[:2]) if len(parts) > 2 else None


def is_run_prefix(export_id: str, period: str) -> bool:
    return bool(export_id) and not export_id.startswith(".") and bool(PERIOD_KEY.fullmatch(period))


@dataclass(frozen=True)
class StagedRun:
    """One run's staging, `<export_id>/<period>`: when it last changed, its size, and whether
    the run validated (its marker's time) or not (failed, or still running)."""

    prefix: str
    changed: datetime
    size: int
    validated_at: datetime | None


class Staging:
    """The store behind the workspaces: what `fetch`, `publish` and `clear` mean."""

    location: str

    @property
    def host_dir(self) -> Path:
        """This host's folder for the store (the local staging, or S3's scratch)."""
        raise NotImplementedError

    @contextmanager
    def workspace(self) -> Iterator[Workspace]:
        raise NotImplementedError

    def fetch(self, key: str, target: Path, listing: Listing | None = None) -> None:
        """Make the staged file `key` available at `target` (`listing`: what the workspace has
        seen staged, where the store checks against it)."""
        raise NotImplementedError

    def listing(self) -> Listing | None:
        """A new workspace's listing of what is staged (None: the store checks nothing)."""
        return None

    def publish(self, local: Path, key: str) -> None:
        """Stage the file `local` as `key`, replacing it."""
        raise NotImplementedError

    def publish_assembled(
        self, local: Path, key: str, pieces: list[bytes | str], listing: Listing | None = None
    ) -> None:
        """Stage the file `local` as `key`, knowing its bytes are `pieces` in order: runs of
        bytes, and staged keys whose files it holds whole (a zip's members). A store may keep
        the pieces instead of the bytes; here, as any file."""
        self.publish(local, key)

    def publish_folder(self, local: Path, prefix: str) -> None:
        """Stage every file under the folder `local` as `prefix/...`, replacing what was there."""
        raise NotImplementedError

    def clear(self, prefix: str) -> None:
        """Remove everything staged under `prefix` (a folder-like key)."""
        raise NotImplementedError

    def keys(self, prefix: str) -> list[str]:
        """Staged keys under `prefix`, sorted (for checks and tests)."""
        raise NotImplementedError

    def forget(self, prefix: str) -> None:
        """Drop what this host keeps of `prefix` besides the staging itself (S3's host copies),
        for a run whose staging is kept after it validated."""

    def put_text(self, key: str, text: str) -> None:
        """Stage a small text object (the validated marker)."""
        raise NotImplementedError

    def runs(self) -> list[StagedRun]:
        """Every run's staging (`<export_id>/<period>` prefixes), for the sweep and the demo."""
        raise NotImplementedError


class Version(NamedTuple):
    """What S3 says of an object's bytes: its ETag (unquoted) and size."""

    etag: str
    size: int


class Listing:
    """What one workspace has seen staged: each run's keys with their `Version`, listed once, at
    the workspace's first fetch under that run.

    The inputs a task fetches were staged by tasks that finished before it started, and S3 lists
    strongly (read-after-write) consistently, so the listing holds their current versions. Keys
    the listing lacks (staged after it, by this task) are None: the store asks S3 for those. A
    version's size also chooses how a file without a host copy comes down (`S3Staging.fetch`).
    """

    def __init__(self, store: S3Staging):
        self._store = store
        self._runs: dict[str, dict[str, Version]] = {}
        self._lock = threading.Lock()  # a task's parallel fetches wait for the one listing

    def version(self, key: str) -> Version | None:
        run = run_of(key)
        if run is None:
            return None
        with self._lock:
            if run not in self._runs:
                self._runs[run] = self._store.versions(run)
            return self._runs[run].get(key)


class Workspace:
    """One task's local view of staging: keys map to files under `root`.

    With `uploads` (S3), `publish` only queues the upload and returns the key: the stage goes on
    (the next part's format) while the file goes up, and the workspace's owner calls `settle()`
    before the task returns, which waits for every upload and raises the first that failed. A
    fetch or folder publish that touches a queued key waits for it first.
    """

    def __init__(self, store: Staging, root: Path, uploads: ThreadPoolExecutor | None = None):
        self.store = store
        self.root = root
        self._uploads = uploads
        self._queued: dict[str, Future] = {}
        self._lock = threading.Lock()
        self.listing = store.listing()

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def key(self, path: str | Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def fetch(self, key: str) -> Path:
        """The staged file `key` as a local file (downloaded unless staging is local)."""
        self._wait(lambda queued: queued == key)
        target = self.path(key)
        self.store.fetch(key, target, self.listing)
        return target

    def fetch_all(self, keys: list[str]) -> list[Path]:
        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            return list(pool.map(self.fetch, keys))

    def publish(self, path: str | Path) -> str:
        """Stage a file written under `root` (queued, with `uploads`); returns its key. The file
        must not change afterwards."""
        key = self.key(path)
        return self._stage(key, partial(self.store.publish, Path(path), key))

    def publish_assembled(self, path: str | Path, pieces: list[bytes | str]) -> str:
        """As `publish`, for a file made of `pieces` (Staging.publish_assembled); the keys among
        them must have been fetched or published by this workspace."""
        key = self.key(path)
        job = partial(self.store.publish_assembled, Path(path), key, pieces, self.listing)
        return self._stage(key, job)

    def _stage(self, key: str, job) -> str:
        """Run `job` (staging `key`) now, or queue it with `uploads`; returns `key`."""
        if self._uploads is None:
            job()
            return key
        self._wait(lambda queued: queued == key)  # the same key again: in order
        with self._lock:
            self._queued[key] = self._uploads.submit(job)
        return key

    def publish_folder(self, folder: Path) -> None:
        """Stage every file under `folder`, replacing whatever was staged there before."""
        prefix = self.key(folder)
        self._wait(lambda queued: queued == prefix or queued.startswith(f"{prefix}/"))
        self.store.publish_folder(folder, prefix)

    def settle(self) -> None:
        """Wait for every queued upload; the first failure is raised."""
        self._wait(lambda queued: True)

    def _wait(self, matches) -> None:
        with self._lock:
            waiting = [(k, f) for k, f in self._queued.items() if matches(k)]
        for key, future in waiting:
            try:
                future.result()
            finally:
                with self._lock:
                    if self._queued.get(key) is future:
                        del self._queued[key]


class LocalStaging(Staging):
    """A folder every task sees: the workspace is the folder itself, nothing is copied."""

    def __init__(self, root: Path):
        self.root = root
        self.location = str(root)

    @property
    def host_dir(self) -> Path:
        return self.root

    @contextmanager
    def workspace(self) -> Iterator[Workspace]:
        self.root.mkdir(parents=True, exist_ok=True)
        yield Workspace(self, self.root)

    def fetch(self, key: str, target: Path, listing: Listing | None = None) -> None:
        if target != self.root / key or not target.is_file():
            raise FileNotFoundError(f"not staged: {self.root / key}")

    def publish(self, local: Path, key: str) -> None:
        if local != self.root / key:
            raise ValueError(f"{local} is not staged as {key} under {self.root}")

    def publish_folder(self, local: Path, prefix: str) -> None:
        self.publish(local, prefix)  # the stage wrote (and replaced) the folder in place

    def clear(self, prefix: str) -> None:
        """Remove the prefix's folder, then its parents left empty (up to the root)."""
        folder = self.root / check_key(prefix)
        if folder.exists():
            shutil.rmtree(folder)
        for parent in folder.parents:
            if parent == self.root or self.root not in parent.parents:
                break
            try:
                parent.rmdir()  # only if empty: another run of the export may be staged there
            except OSError:
                break

    def keys(self, prefix: str) -> list[str]:
        folder = self.root / check_key(prefix)
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())

    def put_text(self, key: str, text: str) -> None:
        target = self.root / check_key(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def runs(self) -> list[StagedRun]:
        if not self.root.is_dir():
            return []
        found = []
        for run in sorted(
            p for export in self.root.iterdir() if export.is_dir() for p in export.iterdir()
        ):
            if not run.is_dir() or not is_run_prefix(run.parent.name, run.name):
                continue
            stats = [f.stat() for f in run.rglob("*") if f.is_file()]
            changed = max((st.st_mtime for st in stats), default=run.stat().st_mtime)
            marker = run / VALIDATED_MARKER
            validated = _utc(marker.stat().st_mtime) if marker.is_file() else None
            prefix = run.relative_to(self.root).as_posix()
            found.append(
                StagedRun(prefix, _utc(changed), sum(st.st_size for st in stats), validated)
            )
        return found


class S3Staging(Staging):
    """An S3 prefix (or an S3-compatible store's) through the amazon provider's S3Hook.

    Connection (`aws`): as for an S3 destination; the key needs s3:GetObject, s3:PutObject,
    s3:DeleteObject and s3:ListBucket on the prefix. `scratch` holds the tasks' workspaces.
    """

    def __init__(
        self,
        conn_id: str,
        bucket: str,
        prefix: str,
        scratch: Path,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        host_copies: bool = True,
    ):
        self.conn_id = conn_id
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.scratch = scratch
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.transfer = {
            "multipart_threshold": multipart_threshold,
            "multipart_chunksize": part_size,
        }
        self._client_lock = threading.Lock()  # boto3 builds clients unsafely across threads
        self.copies = scratch / COPIES if host_copies else None

    @property
    def host_dir(self) -> Path:
        return self.scratch

    @cached_property
    def hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.conn_id, transfer_config_args=dict(self.transfer))

    @cached_property
    def client(self):
        with self._client_lock:
            return self.hook.get_conn()

    def object_key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def workspace(self) -> Iterator[Workspace]:
        """A fresh folder for one task, removed afterwards: nothing is handed over through it
        (host copies live beside it, under `copies`)."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        # scratch folders of tasks killed before their cleanup ran (a day old, so none in use)
        _remove_aged(self.scratch.glob("task-*"), ABANDONED_AFTER_S, "abandoned scratch folder")
        if self.copies is not None:  # copies of runs released on another worker (this one's
            # `clear` removed its own) or failed and waiting for the staging sweep
            _remove_aged(self.copies.glob("*/*"), COPIES_KEPT_S, "host copies of run")
        root = Path(tempfile.mkdtemp(prefix="task-", dir=self.scratch))
        uploads = ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="staging-upload")
        try:
            ws = Workspace(self, root, uploads)
            yield ws
            ws.settle()
        finally:
            uploads.shutdown(wait=True, cancel_futures=True)  # nothing reads the folder after
            shutil.rmtree(root, ignore_errors=True)

    def listing(self) -> Listing:
        return Listing(self)

    def fetch(self, key: str, target: Path, listing: Listing | None = None) -> None:
        """Link this host's copy of `key` when S3 still holds those bytes, else stream the object
        to `target`: one GET when the listing shows it below the multipart threshold, else
        boto3's transfer manager (a HEAD, then ranged GETs in parallel)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        version = listing.version(key) if listing is not None else None
        if version is None:  # staged as a recipe, or after the listing: S3 is asked
            assembled = listing is not None and listing.version(key + ASSEMBLY) is not None
            if not assembled:
                version = self._head(key)
                assembled = version is None
            if assembled and (recipe := self._recipe(key)) is not None:
                self._assemble(key, target, *recipe)
                return
        if self._link_copy(key, target, version):
            return
        if version is not None and version.size < self.transfer["multipart_threshold"]:
            self._get(key, target)
            return
        config = self.hook.transfer_config
        self.client.download_file(self.bucket, self.object_key(key), str(target), Config=config)

    def _get(self, key: str, target: Path) -> None:
        """One GET streamed into a temporary name beside `target`, renamed once complete.

        boto3's transfer manager sends a HEAD before each GET and moves the body through its
        own threads; for the many small files a run stages that doubled the requests and the
        CPU (docs/performance.md). botocore still checks the body's length, and its CRC32
        where S3 holds one, as the body ends: a short or corrupt body raises, and no file is
        left."""
        with _replacing(target) as out:
            self._download_into(out, key)

    def _download_into(self, out, key: str, etag: str | None = None) -> None:
        """One GET of `key` streamed into `out`; with `etag`, answered only while the object
        has it (S3 refuses with 412 otherwise)."""
        condition = {"IfMatch": f'"{etag}"'} if etag is not None else {}
        got = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), **condition)
        shutil.copyfileobj(got["Body"], out, COPY_BLOCK)

    def publish(self, local: Path, key: str) -> None:
        """Upload `local` as `key` (one PUT below the multipart threshold, whose answer carries
        the ETag), then keep it as this host's copy."""
        object_key = self.object_key(key)
        if self.copies is not None and local.stat().st_size < self.transfer["multipart_threshold"]:
            with local.open("rb") as body:
                sent = self.client.put_object(Bucket=self.bucket, Key=object_key, Body=body)
            self._keep_copy(local, key, sent["ETag"])
            return
        config = self.hook.transfer_config
        self.client.upload_file(str(local), self.bucket, object_key, Config=config)
        if self.copies is not None:
            head = self.client.head_object(Bucket=self.bucket, Key=object_key)
            self._keep_copy(local, key, head["ETag"])

    def publish_assembled(
        self, local: Path, key: str, pieces: list[bytes | str], listing: Listing | None = None
    ) -> None:
        """Stage `key` as its recipe (`<key>.assembly.json`): the runs of bytes, and each staged
        key with the ETag and size it had, in order; this host keeps `local` as its copy.

        Why: a daily zip is its members, already staged by `format`, between a few kilobytes of
        headers. Uploading it again cost a second staged copy of the day's bytes and, for a 1 M
        day, about a second of `package` waiting on its 60-100 MB upload (docs/performance.md).
        A fetch on this host links the copy; elsewhere it rebuilds the file from the pieces,
        each GET conditional on the ETag recorded here, so a member staged again since fails
        the fetch instead of changing the file."""
        listed, made = [], 0
        for piece in pieces:
            if isinstance(piece, bytes):
                listed.append({"bytes": base64.b64encode(piece).decode("ascii")})
                made += len(piece)
                continue
            version = listing.version(piece) if listing is not None else None
            if version is None and (version := self._head(piece)) is None:
                raise FileNotFoundError(f"{key}'s piece {piece} is not staged")
            listed.append({"key": piece, "etag": version.etag, "size": version.size})
            made += version.size
        size = local.stat().st_size
        if made != size:
            raise ValueError(f"the pieces of {key} hold {made} bytes, {local} holds {size}")
        recipe = json.dumps({"size": size, "pieces": listed}).encode()
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))  # an old try's
        sent = self.client.put_object(
            Bucket=self.bucket, Key=self.object_key(key + ASSEMBLY), Body=recipe
        )
        self._keep_copy(local, key, sent["ETag"])

    def _head(self, key: str) -> Version | None:
        """What S3 holds as `key` (one HEAD), None when it holds nothing."""
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return None
            raise
        return Version(head["ETag"].strip('"'), head["ContentLength"])

    def _recipe(self, key: str) -> tuple[str, dict] | None:
        """The recipe `key` is staged as, with its ETag (None: it is not staged as one)."""
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key + ASSEMBLY))
        except self.client.exceptions.NoSuchKey:
            return None
        return got["ETag"].strip('"'), json.loads(got["Body"].read())

    def _assemble(self, key: str, target: Path, etag: str, recipe: dict) -> None:
        """`key` from its recipe: this host's copy when it has the recipe's ETag and the file's
        size, else the pieces written in order into a temporary name, renamed once whole."""
        if self._link_copy(key, target, Version(etag, recipe["size"])):
            return
        with _replacing(target) as out:
            for piece in recipe["pieces"]:
                if "bytes" in piece:
                    out.write(base64.b64decode(piece["bytes"]))
                    continue
                self._write_piece(out, piece["key"], Version(piece["etag"], piece["size"]))
            if (written := out.tell()) != recipe["size"]:
                raise OSError(f"{key} came to {written} bytes, {recipe['size']} expected")
        pieces = len(recipe["pieces"])
        log.info("Rebuilt %s (%d bytes) from its %d staged pieces", key, written, pieces)

    def _write_piece(self, out, key: str, version: Version) -> None:
        """The staged file `key` appended to `out`: this host's copy if it has `version`, else
        one GET that S3 answers only while the object has that ETag (412 otherwise)."""
        kept = self._copy_of(key, version)
        if kept is not None:
            try:
                source = kept.open("rb")
            except FileNotFoundError:  # swept meanwhile: download instead
                pass
            else:
                with source:
                    shutil.copyfileobj(source, out, COPY_BLOCK)
                return
        self._download_into(out, key, version.etag)

    def _keep_copy(self, local: Path, key: str, etag: str) -> None:
        """Hard-link the staged file as `<copies>/<key>/<ETag>`, replacing an earlier copy."""
        tag = etag.strip('"')
        if self.copies is None or not ETAG.fullmatch(tag):
            return
        folder = self.copies / check_key(key)
        try:
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            os.link(local, folder / tag)
            if run := run_of(key):  # the run's copies are fresh (the sweep)
                os.utime(self.copies / run)
        except OSError as exc:  # another file system, or a concurrent sweep: no copy, no harm
            log.debug("No host copy of %s: %s", key, exc)

    def _copy_of(self, key: str, version: Version | None) -> Path | None:
        """This host's copy of `key` if S3's object has its ETag and size (as a listing saw
        them, else as a HEAD tells)."""
        if self.copies is None:
            return None
        try:
            kept = next((self.copies / check_key(key)).iterdir())
        except (OSError, StopIteration):
            return None
        if version is None and (version := self._head(key)) is None:
            return None
        try:
            return kept if version == Version(kept.name, kept.stat().st_size) else None
        except OSError:  # swept meanwhile
            return None

    def _link_copy(self, key: str, target: Path, version: Version | None) -> bool:
        """Link this host's copy of `key` as `target` if it has the object's `version`."""
        kept = self._copy_of(key, version)
        if kept is None:
            return False
        try:
            linked = target.with_name(f".{target.name}.link")
            linked.unlink(missing_ok=True)
            os.link(kept, linked)
            os.replace(linked, target)
        except OSError:  # swept meanwhile: download instead
            return False
        return True

    def publish_folder(self, local: Path, prefix: str) -> None:
        self.clear(prefix)  # files of an earlier try that this one did not write again
        files = sorted(p for p in local.rglob("*") if p.is_file())
        keys = [f"{prefix}/{p.relative_to(local).as_posix()}" for p in files]
        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            list(pool.map(self.publish, files, keys))
        log.info("Staged %d files under %s/%s", len(files), self.location, prefix)

    def clear(self, prefix: str) -> None:
        stale = [self.object_key(k) for k in self.keys(prefix)]
        if stale:
            self.hook.delete_objects(self.bucket, stale)
        self.forget(prefix)

    def forget(self, prefix: str) -> None:
        if self.copies is not None:
            shutil.rmtree(self.copies / check_key(prefix), ignore_errors=True)

    def keys(self, prefix: str) -> list[str]:
        return sorted(self.versions(prefix))

    def versions(self, prefix: str) -> dict[str, Version]:
        """Each staged key under `prefix` with its object's ETag and size (one listing)."""
        strip = len(self.prefix) + 1 if self.prefix else 0
        found = self._objects(f"{self.object_key(prefix)}/")
        return {o["Key"][strip:]: Version(o["ETag"].strip('"'), int(o["Size"])) for o in found}

    def _objects(self, below: str) -> Iterator[dict]:
        """Every object whose key starts with `below`, as S3 lists them, page after page."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=below, PaginationConfig={"PageSize": LIST_PAGE}
        )
        for page in pages:
            yield from page.get("Contents", ())

    def put_text(self, key: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=text.encode())

    def runs(self) -> list[StagedRun]:
        """One listing of the whole staging prefix, grouped by `<export_id>/<period>`."""
        below = f"{self.prefix}/" if self.prefix else ""
        grouped: dict[str, list[dict]] = {}
        for obj in self._objects(below):
            parts = obj["Key"][len(below) :].split("/")
            if len(parts) >= 3 and is_run_prefix(parts[0], parts[1]):  # <export>/<period>/...
                grouped.setdefault("/".join(parts[:2]), []).append(obj)
        found = []
        for prefix, objects in sorted(grouped.items()):
            marker = [o for o in objects if o["Key"].endswith(f"/{prefix}/{VALIDATED_MARKER}")]
            found.append(
                StagedRun(
                    prefix,
                    max(o["LastModified"] for o in objects).astimezone(UTC),
                    sum(int(o["Size"]) for o in objects),
                    marker[0]["LastModified"].astimezone(UTC) if marker else None,
                )
            )
        return found


@contextmanager
def _replacing(target: Path) -> Iterator:
    """A file open for writing under a temporary name beside `target`, renamed to `target` when
    the block ends without an error; removed otherwise, so `target` is whole or as it was."""
    fd, partial_path = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(partial_path, target)
    finally:
        Path(partial_path).unlink(missing_ok=True)


def _remove_aged(folders: Iterable[Path], age_s: float, what: str) -> None:
    """Remove each folder last changed `age_s` ago or earlier (another task may be first)."""
    cutoff = time.time() - age_s
    for folder in folders:
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                log.info("Removing %s %s", what, folder)
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix)."""
    scheme, _, rest = uri.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not bucket:
        raise ValueError(f"EES_STAGING_URI must look like s3://bucket/prefix, not {uri!r}")
    return bucket, prefix.strip("/")


def staging_store() -> Staging:
    """The deployment's staging: S3 when EES_STAGING_URI is set, else the local folder."""
    uri = staging_uri()
    if not uri:
        return LocalStaging(staging_root())
    bucket, prefix = parse_s3_uri(uri)
    return S3Staging(
        staging_conn_id(), bucket, prefix, staging_root(), host_copies=staging_host_copies()
    )
