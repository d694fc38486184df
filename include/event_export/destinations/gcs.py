"""A Google Cloud Storage bucket through the google provider's GCSHook.

GCS publishes an object only when its upload is finalised, so no temporary name is needed. Files
over 8 MiB go up as a resumable upload in `chunk_size` pieces; a dropped connection resumes within
the same session (`retry_seconds`), and a failed upload leaves nothing under the object's name.

Connection (`google_cloud_platform`): extra `keyfile_dict` (the service account's JSON key) or
`key_path`, and `project`. The hook builds the storage client from it; the upload itself is the
client's blob API, as GCSHook.upload does, so the chunk size, checksum and retry deadline are ours.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from event_export.config.model import GCSDestinationConfig
from event_export.destinations import explanations
from event_export.destinations.base import (
    PROBE_PREFIX,
    BucketDestination,
    LocalCopy,
    RemoteFile,
    describe_error,
    is_ours,
)
from event_export.destinations.errors import DeliveryError

if TYPE_CHECKING:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook


CHUNK_SIZE = 32 * 1024 * 1024  # a multiple of 256 KiB, as GCS requires
RETRY_SECONDS = 120.0
REQUEST_TIMEOUT = 120


class GCSDestination(BucketDestination):
    scheme = "gs"
    kind = "gcs"

    def __init__(
        self,
        conn_id: str,
        bucket: str,
        prefix: str = "",
        *,
        chunk_size: int = CHUNK_SIZE,
        retry_seconds: float = RETRY_SECONDS,
    ):
        super().__init__(conn_id, bucket, prefix)
        self.chunk_size = chunk_size
        self.retry_seconds = retry_seconds

    @classmethod
    def from_config(cls, config: GCSDestinationConfig) -> GCSDestination:
        return cls(config.conn_id, config.bucket, config.path)

    @cached_property
    def hook(self) -> GCSHook:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        return GCSHook(gcp_conn_id=self.conn_id)

    def _storage(self):
        """The storage client; the hook reads the key here, so a missing or unreadable key in
        the connection is told apart from what the bucket answers."""
        from airflow.sdk.exceptions import AirflowNotFoundException
        from google.auth.exceptions import DefaultCredentialsError

        try:
            return self.hook.get_conn()
        except AirflowNotFoundException:
            raise explanations.connection_missing(self.conn_id) from None
        except DefaultCredentialsError:  # no key: the hook fell back to the machine's own
            raise explanations.credentials_missing("gcs", self.conn_id) from None
        except Exception as exc:
            raise explanations.credentials_unreadable(
                "gcs", self.conn_id, "service account key", describe_error(exc)
            ) from exc

    def _put(self, local: Path, name: str) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        with self._classified(f"upload of {name}"):
            bucket = self._storage().bucket(self.bucket)
            blob = bucket.blob(self.key(name), chunk_size=self.chunk_size)
            blob.upload_from_filename(
                str(local),
                content_type="application/octet-stream",
                checksum="crc32c",
                timeout=REQUEST_TIMEOUT,
                retry=DEFAULT_RETRY.with_timeout(self.retry_seconds),
            )

    def list(self, folder: str = "") -> dict[str, RemoteFile]:
        prefix = self.folder_prefix(folder)
        with self._classified("listing"):
            blobs = list(self._storage().list_blobs(self.bucket, prefix=prefix, delimiter="/"))
        found = {}
        for b in blobs:
            name = b.name[len(prefix) :]
            if b.name != prefix and not is_ours(name):
                name = f"{folder}/{name}" if folder else name
                found[name] = RemoteFile(name, b.size)
        return found

    def reach(self) -> None:
        """One listing call: objectAdmin may list objects, not read the bucket's metadata."""
        with self._classified("destination check"):
            blobs = self._storage().list_blobs(self.bucket, prefix=self.key(""), max_results=1)
            list(blobs)

    def delete(self, name: str) -> None:
        with self._classified(f"deletion of {name}"):
            self._storage().bucket(self.bucket).blob(self.key(name)).delete()

    def probes(self) -> list[str]:
        with self._classified("listing of probes"):
            blobs = self._storage().list_blobs(self.bucket, prefix=self.key(PROBE_PREFIX))
            return [b.name[len(self.key("")) :] for b in blobs]

    def checksum_matches(self, name: str, sha256: str, local: LocalCopy) -> bool | None:
        """Compare the stored MD5 (CRC32C for composite objects, which have no MD5)."""
        with self._classified(f"checksum of {name}"):
            blob = self._storage().bucket(self.bucket).get_blob(self.key(name))
        if blob is None:
            return False
        with local().open("rb") as handle:
            if blob.md5_hash:
                md5 = hashlib.file_digest(handle, "md5").digest()
                return blob.md5_hash == base64.b64encode(md5).decode()
            if blob.crc32c:
                import google_crc32c

                crc = google_crc32c.Checksum()
                while block := handle.read(1024 * 1024):
                    crc.update(block)
                return blob.crc32c == base64.b64encode(crc.digest()).decode()
        return None

    def classify(self, exc: BaseException, action: str) -> DeliveryError:
        """The client-side error a GCS failure means, or an internal one."""
        from google.api_core import exceptions as api
        from google.auth.exceptions import RefreshError

        if isinstance(exc, RefreshError | api.Unauthorized):
            return explanations.auth_failed("gcs")
        if isinstance(exc, api.Forbidden):
            reasons = {e.get("reason") for e in exc.errors if isinstance(e, dict)}
            if "retentionPolicyNotMet" in reasons or "retentionPolicyNotMet" in str(exc):
                return explanations.retention_policy(self.location)
            return explanations.permission_denied("gcs", self.location)
        if isinstance(exc, api.NotFound):
            return explanations.bucket_missing("gcs", self.bucket)
        return DeliveryError(f"GCS {action} at {self.location} failed: {describe_error(exc)}")
