"""One interface for every destination: upload atomically, list what is there, verify a file,
and probe it (credentials, bucket or folder, a small file written and deleted)."""

from __future__ import annotations

import logging
import posixpath
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from event_export.destinations.errors import DeliveryError

log = logging.getLogger(__name__)
TEMP_PREFIX = ".uploading-"
_TEMP_ID_LENGTH = 32 + 1  # uuid hex and a dash
PROBE_PREFIX = ".ees-probe-"  # hidden, and no export names a file with a leading dot
PROBE_STEPS = ("credentials", "location", "write", "delete")
PROBE_TEXT = b"Event Export Scheduler destination check. Safe to delete.\n"
# a probe left this long ago is no check's in flight (a check takes seconds): the next check
# deletes it; a younger one may be a concurrent check's (a backfill checks its runs together)
PROBE_STALE = timedelta(hours=1)
_PROBE_TIME = "%Y%m%dT%H%M%SZ"
LocalCopy = Callable[[], Path]  # a delivered file's local copy, fetched from staging when called


def temp_name(name: str) -> str:
    """A hidden, unique name to write `name` under before the rename that publishes it."""
    return f"{TEMP_PREFIX}{uuid.uuid4().hex}-{name}"


def is_temp(entry: str) -> bool:
    return entry.startswith(TEMP_PREFIX)


def probe_name(now: datetime | None = None) -> str:
    """A name for the check's probe object that no client or export file can have, stamped with
    its UTC time so that another check can tell a leftover from a probe in flight."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_PROBE_TIME)
    return f"{PROBE_PREFIX}{stamp}-{uuid.uuid4().hex}"


def is_probe(entry: str) -> bool:
    return entry.startswith(PROBE_PREFIX)


def is_stale_probe(entry: str, now: datetime | None = None) -> bool:
    """Whether `entry` (a name `probes()` listed) is a probe left behind PROBE_STALE or more
    ago, or unstamped (named before probes carried their time): never a concurrent check's."""
    stamp = posixpath.basename(entry)[len(PROBE_PREFIX) :].partition("-")[0]
    try:
        made = datetime.strptime(stamp, _PROBE_TIME).replace(tzinfo=UTC)
    except ValueError:
        return True
    return (now or datetime.now(UTC)) - made >= PROBE_STALE


def is_ours(entry: str) -> bool:
    """A temporary upload or a probe: never a delivered file."""
    return is_temp(entry) or is_probe(entry)


def is_temp_of(entry: str, name: str) -> bool:
    """Whether `entry` is a leftover temporary upload of `name` (from an interrupted try)."""
    return is_temp(entry) and entry[len(TEMP_PREFIX) + _TEMP_ID_LENGTH :] == name


def describe_error(exc: BaseException) -> str:
    """The error's type and first line, short: for internal errors, never for secrets' sake."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def error_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, in turn: client libraries wrap the error that tells
    what happened (boto3 wraps a ClientError in S3UploadFailedError)."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int


class Destination(ABC):
    """A client's storage. Implementations wrap one provider hook and one Airflow connection."""

    kind: str  # the key of its sentences in explanations.STORES

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the export's files go, for logs and messages (never a secret)."""

    def upload(self, local: Path, name: str) -> None:
        """Make `name` appear with the content of `local`, all at once or not at all; every
        store's upload is timed and logged here, the same way."""
        started = time.monotonic()
        self._put(local, name)
        log.info(
            "Uploaded %s (%d bytes) to %s in %.1f s",
            name,
            local.stat().st_size,
            self.location,
            time.monotonic() - started,
        )

    @abstractmethod
    def _put(self, local: Path, name: str) -> None:
        """The store's own way of making `name` appear whole (see `upload`)."""

    @abstractmethod
    def list(self, folder: str = "") -> dict[str, RemoteFile]:
        """Files directly in `folder` (a relative subfolder of the export's folder, from a
        path_template; "": the export's folder itself), by name relative to the export's folder
        (`folder/name`), temporary upload names excluded. Never a recursive walk: an export's
        folder may hold years of dated subfolders."""

    @abstractmethod
    def checksum_matches(self, name: str, sha256: str, local: LocalCopy) -> bool | None:
        """Whether the stored file's checksum matches; None where the store offers none.
        `local()` gives the file's local copy, for checksums computed over the content: with
        staging on object storage that call downloads it, so only stores that need it call it."""

    @abstractmethod
    def reach(self) -> None:
        """Log in and look at the bucket or root folder, writing nothing."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove `name` from the export's folder."""

    @abstractmethod
    def probes(self) -> list[str]:
        """Probe objects earlier checks left in the export's folder (a deletion the store
        refused, as under a retention policy, or a killed check)."""

    def probe(self, passed: Callable[[str], None]) -> None:
        """Check the destination as an upload would use it, calling `passed` with each of
        PROBE_STEPS that succeeds; raise as `upload` does at the first that fails.

        The probe goes up through `upload` itself (same temporary name, rename and checks) and
        is always deleted, also when its upload failed part way.
        """
        self.reach()
        passed("credentials")
        passed("location")
        for left in filter(is_stale_probe, self.probes()):  # best effort: a retention policy
            with suppress(Exception):  # may still hold them
                self.delete(left)
        name = probe_name()
        with tempfile.TemporaryDirectory(prefix="ees-probe-") as folder:
            local = Path(folder) / name
            local.write_bytes(PROBE_TEXT)
            try:
                self.upload(local, name)
            except BaseException:
                with suppress(Exception):
                    self.delete(name)
                raise
        passed("write")
        self.delete(name)
        passed("delete")

    def _shared_connection(self) -> AbstractContextManager[object]:
        """One connection shared by the calls made inside (a store that logs in per call, as
        sFTP, opens it here once); by default nothing."""
        return nullcontext()

    def classify(self, exc: BaseException, action: str) -> DeliveryError:
        """What a store's failure means: a ClientSideError for the client's side, else ours."""
        return DeliveryError(f"{action} failed: {describe_error(exc)}")

    @contextmanager
    def _classified(self, action: str) -> Iterator[None]:
        """Re-raise any failure inside as `classify` names it (errors already ours pass)."""
        try:
            yield
        except DeliveryError:
            raise
        except Exception as exc:
            raise self.classify(exc, action) from exc

    def verify(self, name: str, size: int, sha256: str, local: Path) -> list[str]:
        """Problems with one delivered file, empty when it matches the manifest."""
        listing = self.list(posixpath.dirname(name))
        return self._check(listing, name, size, sha256, lambda: local)

    def verify_all(
        self, files: Iterable[dict], local: Callable[[dict], Path] = lambda f: Path(f["path"])
    ) -> list[str]:
        """Problems with delivered files (dicts with name, size, sha256, path): one listing.
        `local(file)` gives a file's local copy, asked for only where a checksum needs it."""
        files = list(files)
        listing: dict[str, RemoteFile] = {}
        with self._classified("listing"), self._shared_connection():
            for folder in sorted({posixpath.dirname(f["name"]) for f in files}):
                listing.update(self.list(folder))  # one listing per folder the files are in
        problems = []
        for f in files:
            copy = partial(local, f)
            problems += self._check(listing, f["name"], f["size"], f["sha256"], copy)
        return problems

    def _check(
        self, listing: dict[str, RemoteFile], name: str, size: int, sha256: str, local: LocalCopy
    ) -> list[str]:
        found = listing.get(name)
        if found is None:
            return [f"{name}: missing at the destination"]
        if found.size != size:
            return [f"{name}: size {found.size} at the destination, {size} expected"]
        if self.checksum_matches(name, sha256, local) is False:
            return [f"{name}: checksum differs from the manifest"]
        return []


class BucketDestination(Destination):
    """An object store addressed as `<scheme>://<bucket>/<prefix>`: S3 and GCS."""

    scheme: str

    def __init__(self, conn_id: str, bucket: str, prefix: str = ""):
        self.conn_id = conn_id
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @property
    def location(self) -> str:
        base = f"{self.scheme}://{self.bucket}"
        return f"{base}/{self.prefix}" if self.prefix else base

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def folder_prefix(self, folder: str = "") -> str:
        """The key prefix of the objects directly in `folder` under the export's prefix."""
        parts = [p for p in (self.prefix, folder.strip("/")) if p]
        return "/".join(parts) + "/" if parts else ""
