"""An S3 bucket (or an S3-compatible store) through the amazon provider's S3Hook.

S3 publishes an object only when its PUT, or the CompleteMultipartUpload of a multipart upload,
succeeds, so no temporary name is needed: a half-sent file is never visible. A failed multipart
upload is aborted by boto3's transfer manager; one left behind by a killed worker is aborted by the
next try of the same file, before it starts.

Connection (`aws`): login = access key id, password = secret; extra `region_name`, and
`endpoint_url` for an S3-compatible store. Every object is sent with a SHA-256 checksum, which the
store checks on arrival and `checksum_matches` compares with the manifest.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from event_export.config.model import S3DestinationConfig
from event_export.destinations import explanations
from event_export.destinations.base import (
    PROBE_PREFIX,
    BucketDestination,
    LocalCopy,
    RemoteFile,
    describe_error,
    error_chain,
    is_ours,
)
from event_export.destinations.errors import DeliveryError

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024  # S3 allows 10,000 parts: boto3 grows it for files over 640 GB
READ_BLOCK = 1024 * 1024
AUTH_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
}
PERMISSION_CODES = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "403"}
SSE_ARGS = {
    "none": {},
    "s3": {"ServerSideEncryption": "AES256"},
    "kms": {"ServerSideEncryption": "aws:kms"},
}


class S3Destination(BucketDestination):
    scheme = "s3"
    kind = "s3"

    def __init__(
        self,
        conn_id: str,
        bucket: str,
        prefix: str = "",
        *,
        sse: str = "none",
        kms_key_id: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
    ):
        super().__init__(conn_id, bucket, prefix)
        self.extra_args = {"ChecksumAlgorithm": "SHA256", **SSE_ARGS[sse]}
        if kms_key_id:
            self.extra_args["SSEKMSKeyId"] = kms_key_id
        self.transfer = {
            "multipart_threshold": multipart_threshold,
            "multipart_chunksize": part_size,
        }

    @classmethod
    def from_config(cls, config: S3DestinationConfig) -> S3Destination:
        return cls(
            config.conn_id, config.bucket, config.path, sse=config.sse, kms_key_id=config.kms_key_id
        )

    @cached_property
    def hook(self) -> S3Hook:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(
            aws_conn_id=self.conn_id,
            transfer_config_args=dict(self.transfer),
            extra_args=dict(self.extra_args),
        )

    def _put(self, local: Path, name: str) -> None:
        key = self.key(name)
        with self._classified(f"upload of {name}"):
            self._abort_stale_uploads(key)
            self.hook.load_file(local, key, bucket_name=self.bucket, replace=True)

    def _abort_stale_uploads(self, key: str) -> None:
        """Abort multipart uploads of `key` left by a killed try: they are invisible but billed."""
        from botocore.exceptions import ClientError

        client = self.hook.get_conn()
        try:
            pending = client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        except ClientError as exc:  # a client policy may not allow listing uploads: not fatal
            if _code(exc) in PERMISSION_CODES:
                log.warning("Cannot list pending multipart uploads in %s", self.location)
                return
            raise
        for upload in pending.get("Uploads", []):
            if upload["Key"] == key:
                log.info("Aborting multipart upload %s left by an earlier try", upload["UploadId"])
                client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                )

    def list(self, folder: str = "") -> dict[str, RemoteFile]:
        prefix = self.folder_prefix(folder)
        found = {}
        with self._classified("listing"):
            for obj in self.hook.iter_file_metadata(prefix=prefix, bucket_name=self.bucket):
                name = obj["Key"][len(prefix) :]
                if name and "/" not in name and not is_ours(name):
                    name = f"{folder}/{name}" if folder else name
                    found[name] = RemoteFile(name, obj["Size"])
        return found

    def reach(self) -> None:
        """One listing call: it proves the key, the bucket and the right to list the prefix."""
        with self._classified("destination check"):
            client = self.hook.get_conn()
            client.list_objects_v2(Bucket=self.bucket, Prefix=self.key(""), MaxKeys=1)

    def delete(self, name: str) -> None:
        """Remove `name` for good. Only our uniquely named probes are deleted, and on a versioned
        bucket a plain delete would keep the probe as an old version under a delete marker, one
        pair per run: so every version and marker of that one key goes. Without the right to list
        or delete versions (or on a store without versions), a plain delete."""
        from botocore.exceptions import ClientError

        key = self.key(name)
        with self._classified(f"deletion of {name}"):
            client = self.hook.get_conn()
            try:
                listed = client.list_object_versions(Bucket=self.bucket, Prefix=key)
                for entry in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]:
                    if entry["Key"] == key:
                        client.delete_object(
                            Bucket=self.bucket, Key=key, VersionId=entry["VersionId"]
                        )
                return
            except ClientError as exc:
                if _code(exc) not in PERMISSION_CODES | {"NotImplemented"}:
                    raise
                log.warning("Cannot delete versions in %s (%s)", self.location, _code(exc))
            client.delete_object(Bucket=self.bucket, Key=key)

    def probes(self) -> list[str]:
        start = self.key(PROBE_PREFIX)
        with self._classified("listing of probes"):
            listed = self.hook.iter_file_metadata(prefix=start, bucket_name=self.bucket)
            return [o["Key"][len(self.key("")) :] for o in listed]

    def checksum_matches(self, name: str, sha256: str, local: LocalCopy) -> bool | None:
        """Compare the store's SHA-256 checksum, else its ETag where that is an MD5."""
        with self._classified(f"checksum of {name}"):
            client, key = self.hook.get_conn(), self.key(name)
            head = client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            etag = head["ETag"].strip('"')
            parts = int(etag.rsplit("-", 1)[1]) if "-" in etag else 0
            part_size = 0
            if parts:  # the first part's size, as the parts' digests need it
                first = client.head_object(Bucket=self.bucket, Key=key, PartNumber=1)
                part_size = first["ContentLength"]
                if first.get("PartsCount") != parts:  # a store without part-number reads
                    from s3transfer.utils import ChunksizeAdjuster

                    part_size = ChunksizeAdjuster().adjust_chunksize(
                        self.transfer["multipart_chunksize"], head["ContentLength"]
                    )
        stored = head.get("ChecksumSHA256")
        if stored and not parts:
            return stored == base64.b64encode(bytes.fromhex(sha256)).decode()
        if stored:  # composite: SHA-256 of the parts' SHA-256 digests
            digests = [d for d, _ in _part_digests(local(), part_size)]
            composite = hashlib.sha256(b"".join(digests)).digest()
            return stored.split("-")[0] == base64.b64encode(composite).decode()
        if head.get("ServerSideEncryption") == "aws:kms" or head.get("SSECustomerAlgorithm"):
            return None  # the ETag of an encrypted-with-a-key object is not an MD5
        if not parts:
            with local().open("rb") as handle:
                return etag == hashlib.file_digest(handle, "md5").hexdigest()
        md5s = [m for _, m in _part_digests(local(), part_size)]
        return etag == f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{parts}"

    def classify(self, exc: BaseException, action: str) -> DeliveryError:
        """The client-side error an S3 failure means, or an internal one."""
        from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

        chain = list(error_chain(exc))
        if any(isinstance(e, NoCredentialsError | PartialCredentialsError) for e in chain):
            return explanations.credentials_missing("s3", self.conn_id)
        cause = next((e for e in chain if isinstance(e, ClientError)), None)
        code = _code(cause) if cause else ""
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if cause else None
        if code in AUTH_CODES or status == 401:
            return explanations.auth_failed("s3", str(code or status))
        if code == "NoSuchBucket":
            return explanations.bucket_missing("s3", self.bucket)
        if code.startswith("KMS."):
            return explanations.kms_key_unusable(self.location, code)
        if code in PERMISSION_CODES or status == 403:
            return explanations.permission_denied("s3", self.location, str(code or status))
        return DeliveryError(f"S3 {action} at {self.location} failed: {describe_error(exc)}")


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _part_digests(local: Path, part_size: int) -> Iterator[tuple[bytes, bytes]]:
    """(SHA-256, MD5) of each multipart part, read in blocks so memory stays flat."""
    with local.open("rb") as handle:
        while True:
            sha, md5, left = hashlib.sha256(), hashlib.md5(), part_size
            while left and (block := handle.read(min(READ_BLOCK, left))):
                sha.update(block)
                md5.update(block)
                left -= len(block)
            if left == part_size:
                return
            yield sha.digest(), md5.digest()
