"""An Azure Blob Storage container through the Microsoft Azure provider's WasbHook.

A block blob shows nothing until its block list is committed: each file goes up as staged blocks
(each with its own MD5, checked by the service on arrival) and appears, whole, at the single
`commit_block_list` at the end, which also replaces an older blob of that name at once. Blocks of
a try that died before its commit stay uncommitted and invisible; the next commit drops them (and
Azure itself discards them after a week). The commit stores the whole file's MD5 as the blob's
Content-MD5, which `checksum_matches` compares with the delivered bytes.

Connection (`wasb`): the storage account in host (account URL) or login (account name) and its
key in password; or extra `connection_string`, `sas_token` or `shared_access_key`; or a service
principal (login = client id, password = secret, extra `tenant_id`). The hook builds the storage
client from it; staging and committing blocks is the SDK's blob API, as the hook's own `upload`
leaves the block size to the SDK and checks no whole-file MD5.
"""

from __future__ import annotations

import base64
import hashlib
import math
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from event_export.config.model import AzureDestinationConfig
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
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook
    from azure.storage.blob import ContainerClient


BLOCK_SIZE = 8 * 1024 * 1024
THREADS = 4  # blocks staged at once
MAX_BLOCKS = 50_000  # Azure's limit per block blob: the block size grows for files over 390 GiB
REQUEST_TIMEOUT = 120
# Error codes (x-ms-error-code) and what they mean for the client.
AUTH_CODES = {"AuthenticationFailed", "InvalidAuthenticationInfo", "NoAuthenticationInformation"}
PERMISSION_CODES = {
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "AuthorizationResourceTypeMismatch",
    "AuthorizationServiceMismatch",
    "AuthorizationSourceIPMismatch",
    "AuthorizationProtocolMismatch",
    "InsufficientAccountPermissions",
    "AccountIsDisabled",
}
IMMUTABLE_CODES = {"BlobImmutableDueToPolicy", "BlobImmutableDueToLegalHold"}
# Azure answers a bad signature with 403 AuthenticationFailed; Azurite with AuthorizationFailure
# and the same sentence. The sentence is what tells a rejected key from a refused permission.
NOT_AUTHENTICATED = "failed to authenticate the request"


def block_id(try_id: str, index: int) -> str:
    """A block's id: every id of one blob has the same length, and a try's blocks never
    collide with those an interrupted earlier try left uncommitted."""
    return base64.b64encode(f"{try_id}-{index:06d}".encode()).decode()


def block_size_for(size: int, preferred: int = BLOCK_SIZE) -> int:
    """The preferred block size, or the size that keeps a huge file within MAX_BLOCKS."""
    return max(preferred, math.ceil(size / MAX_BLOCKS))


class AzureBlobDestination(BucketDestination):
    scheme = "az"
    kind = "azure"

    def __init__(
        self,
        conn_id: str,
        container: str,
        prefix: str = "",
        *,
        block_size: int = BLOCK_SIZE,
        threads: int = THREADS,
    ):
        super().__init__(conn_id, container, prefix)
        self.block_size = block_size
        self.threads = threads

    @classmethod
    def from_config(cls, config: AzureDestinationConfig) -> AzureBlobDestination:
        return cls(config.conn_id, config.container, config.path)

    @cached_property
    def hook(self) -> WasbHook:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        return WasbHook(wasb_conn_id=self.conn_id)

    @cached_property
    def container(self) -> ContainerClient:
        return self.hook.get_conn().get_container_client(self.bucket)

    def _put(self, local: Path, name: str) -> None:
        from azure.storage.blob import ContentSettings

        size = local.stat().st_size
        block_size = block_size_for(size, self.block_size)
        try_id = uuid.uuid4().hex[:16]
        with self._classified(f"upload of {name}"):
            blob = self.container.get_blob_client(self.key(name))
            md5, blocks = hashlib.md5(), []
            # up to `threads` blocks in flight: memory stays at threads x block size
            with ThreadPoolExecutor(self.threads) as pool, local.open("rb") as handle:
                pending: deque[Future] = deque()
                while block := handle.read(block_size):
                    md5.update(block)
                    blocks.append(block_id(try_id, len(blocks)))
                    pending.append(
                        pool.submit(
                            blob.stage_block,
                            blocks[-1],
                            block,
                            validate_content=True,
                            timeout=REQUEST_TIMEOUT,
                        )
                    )
                    if len(pending) >= self.threads:
                        pending.popleft().result()
                for staged in pending:
                    staged.result()
            settings = ContentSettings(
                content_type="application/octet-stream", content_md5=bytearray(md5.digest())
            )
            blob.commit_block_list(blocks, content_settings=settings, timeout=REQUEST_TIMEOUT)

    def list(self, folder: str = "") -> dict[str, RemoteFile]:
        from azure.storage.blob import BlobProperties

        prefix = self.folder_prefix(folder)
        found = {}
        with self._classified("listing"):
            for item in self.container.walk_blobs(name_starts_with=prefix, delimiter="/"):
                name = item.name[len(prefix) :]
                if isinstance(item, BlobProperties) and name and not is_ours(name):
                    name = f"{folder}/{name}" if folder else name
                    found[name] = RemoteFile(name, item.size)
        return found

    def reach(self) -> None:
        """One listing call (one page of one name): it proves the credential, the container and
        the right to list, which a SAS token scoped to the container has."""
        with self._classified("destination check"):
            pages = self.container.list_blobs(name_starts_with=self.key(""), results_per_page=1)
            next(iter(pages.by_page()), None)

    def delete(self, name: str) -> None:
        with self._classified(f"deletion of {name}"):
            self.container.delete_blob(self.key(name), delete_snapshots="include")

    def probes(self) -> list[str]:
        with self._classified("listing of probes"):
            listed = self.container.list_blobs(name_starts_with=self.key(PROBE_PREFIX))
            return [b.name[len(self.key("")) :] for b in listed]

    def checksum_matches(self, name: str, sha256: str, local: LocalCopy) -> bool | None:
        """Compare the blob's Content-MD5 (set at the commit) with the MD5 of the delivered file;
        None for a blob without one (not written by us)."""
        with self._classified(f"checksum of {name}"):
            properties = self.container.get_blob_client(self.key(name)).get_blob_properties()
        stored = properties.content_settings.content_md5
        if not stored:
            return None
        with local().open("rb") as handle:
            return bytes(stored) == hashlib.file_digest(handle, "md5").digest()

    def classify(self, exc: BaseException, action: str) -> DeliveryError:
        """The client-side error an Azure failure means, or an internal one."""
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

        cause = next((e for e in error_chain(exc) if isinstance(e, HttpResponseError)), None)
        code = _code(cause)
        status = getattr(cause, "status_code", None)
        message = str(getattr(cause, "message", "") or "").lower()
        if isinstance(cause, ClientAuthenticationError) or code in AUTH_CODES:
            return explanations.auth_failed("azure", code)
        if status == 403 and NOT_AUTHENTICATED in message:
            return explanations.auth_failed("azure", code or "403")
        if code == "ContainerNotFound":
            return explanations.bucket_missing("azure", self.bucket)
        if code in IMMUTABLE_CODES:
            return explanations.immutability_policy(self.location)
        if code in PERMISSION_CODES or status == 403:
            return explanations.permission_denied("azure", self.location, code or "403")
        return DeliveryError(f"Azure {action} at {self.location} failed: {describe_error(exc)}")


def _code(cause: BaseException | None) -> str:
    """The x-ms-error-code of a storage error (the SDK gives an enum member or the text)."""
    raw = getattr(cause, "error_code", None)
    return str(getattr(raw, "value", raw) or "")
