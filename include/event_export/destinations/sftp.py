"""A folder on an sFTP server through the sftp provider's SFTPHook.

A file is written under a hidden temporary name and renamed over its final name with the
`posix-rename@openssh.com` extension (an atomic replace), so readers see the old file or the whole
new one, never a part. The next try of a file removes the temporaries an interrupted try left.

Connection (`sftp`): host, port, login, and the password or extra `private_key` (or `key_file`).
The server's host key is always checked against extra `host_key` (`ssh-ed25519 AAAA…`, as
`ssh-keyscan` prints it); skipping the check takes an explicit `"no_host_key_check": true`. Extra
`path` is the root folder (default: the login's home); the config's `path` is created under it.
SSH compression is off unless the extra asks for it: the files are zips already.
"""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from event_export.config.model import SFTPDestinationConfig
from event_export.destinations import explanations
from event_export.destinations.base import (
    RemoteFile,
    describe_error,
    is_ours,
    is_probe,
)
from event_export.destinations.errors import DeliveryError
from event_export.destinations.renaming import RenamingDestination

if TYPE_CHECKING:
    from airflow.providers.sftp.hooks.sftp import SFTPHook
    from paramiko import SFTPClient

CONNECT_TIMEOUT = 30


@dataclass(frozen=True)
class _At:
    """An open session and the folder its operations work in."""

    sftp: SFTPClient
    folder: str

    def path(self, entry: str) -> str:
        return posixpath.join(self.folder, entry)


class SFTPDestination(RenamingDestination[_At]):
    kind = "sftp"

    def __init__(self, conn_id: str, folder: str = ""):
        self.conn_id = conn_id
        self.subfolder = folder.strip("/")

    @classmethod
    def from_config(cls, config: SFTPDestinationConfig) -> SFTPDestination:
        return cls(config.conn_id, config.path)

    @cached_property
    def hook(self) -> SFTPHook:
        from airflow.providers.sftp.hooks.sftp import SFTPHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            # One connection attempt per call: Airflow's task retries back off between tries,
            # and a rejected password must not be tried again and again.
            hook = SFTPHook(ssh_conn_id=self.conn_id, conn_retry_attempts=1)
        except AirflowNotFoundException:
            raise explanations.connection_missing(self.conn_id) from None
        except Exception as exc:  # the hook parses the private key and host key here
            if "private key" in str(exc).lower():
                raise explanations.credentials_unreadable(
                    "sftp", self.conn_id, "private key", describe_error(exc)
                ) from exc
            raise explanations.host_key_unreadable(self.conn_id, describe_error(exc)) from exc
        if hook.conn_timeout is None:
            hook.conn_timeout = CONNECT_TIMEOUT
        extra = hook.get_connection(self.conn_id).extra_dejson
        if "compress" not in extra:  # zips are compressed already: SSH's zlib only costs CPU
            hook.compress = False
        if hook.host_key is None and not hook.no_host_key_check:
            raise explanations.host_key_missing(self.conn_id)
        return hook

    @cached_property
    def root(self) -> str:
        return self.hook.get_connection(self.conn_id).extra_dejson.get("path") or "."

    @property
    def folder(self) -> str:
        return posixpath.join(self.root, self.subfolder) if self.subfolder else self.root

    @property
    def location(self) -> str:
        return f"sftp://{self.hook.remote_host}:{self.hook.port}/{self.folder}"

    @contextmanager
    def _open_folder(self, action: str, sub: str = "") -> Iterator[_At]:
        with self._classified(action), self.hook.get_managed_conn() as sftp:
            folder = posixpath.join(self.folder, sub) if sub else self.folder
            self._check_root()
            self.hook.create_directory(folder)  # with its parents, as `mkdir -p`
            yield _At(sftp, folder)

    def _entries(self, at: _At) -> list[str]:
        return at.sftp.listdir(at.folder)

    def _remove(self, at: _At, entry: str) -> None:
        at.sftp.remove(at.path(entry))

    def _write(self, at: _At, local: Path, entry: str) -> None:
        # the hook's put over the same session; the size is checked once, by _put
        self.hook.store_file(at.path(entry), str(local), confirm=False)

    def _size(self, at: _At, entry: str) -> int | None:
        return at.sftp.stat(at.path(entry)).st_size

    def _replace(self, at: _At, temp: str, name: str) -> None:
        """Atomically with posix-rename; servers without it get remove + rename."""
        try:
            at.sftp.posix_rename(at.path(temp), at.path(name))
        except OSError as exc:
            if "unsupported" not in str(exc).lower():
                raise
            with suppress(FileNotFoundError):
                at.sftp.remove(at.path(name))
            at.sftp.rename(at.path(temp), at.path(name))

    def _check_root(self) -> None:
        if not self.hook.isdir(self.root):
            raise explanations.path_missing("sftp", self.root)

    def probe(self, passed: Callable[[str], None]) -> None:
        """The check over one SSH session: the hook shares an open one with nested uses."""
        with self._classified("destination check"), self.hook.get_managed_conn():
            super().probe(passed)

    def _shared_connection(self) -> AbstractContextManager[object]:
        """One SSH session for a verification's listings (one per path_template folder)."""
        return self.hook.get_managed_conn()

    def reach(self) -> None:
        with self._classified("destination check"), self.hook.get_managed_conn():
            self._check_root()

    def delete(self, name: str) -> None:
        with self._classified(f"deletion of {name}"), self.hook.get_managed_conn() as sftp:
            sftp.remove(posixpath.join(self.folder, name))

    def probes(self) -> list[str]:
        with self._classified("listing of probes"), self.hook.get_managed_conn() as sftp:
            try:
                return [n for n in sftp.listdir(self.folder) if is_probe(n)]
            except FileNotFoundError:
                return []

    def list(self, folder: str = "") -> dict[str, RemoteFile]:
        at = posixpath.join(self.folder, folder) if folder else self.folder
        with self._classified("listing"), self.hook.get_managed_conn() as sftp:
            try:
                entries = sftp.listdir_attr(at)
            except FileNotFoundError:
                return {}
        found = {}
        for e in entries:
            if stat.S_ISREG(e.st_mode or 0) and not is_ours(e.filename):
                name = f"{folder}/{e.filename}" if folder else e.filename
                found[name] = RemoteFile(name, e.st_size or 0)
        return found

    def classify(self, exc: BaseException, action: str) -> DeliveryError:
        """The client-side error an sFTP failure means, or an internal one."""
        import paramiko

        if isinstance(exc, paramiko.AuthenticationException):
            return explanations.auth_failed("sftp")
        if isinstance(exc, PermissionError):
            return explanations.permission_denied("sftp", f"{self.folder} on the sFTP server")
        if isinstance(exc, paramiko.BadHostKeyException):  # never the client's to waive
            return explanations.host_key_mismatch(self.conn_id)
        if isinstance(exc, paramiko.SSHException) and "No authentication methods" in str(exc):
            return explanations.credentials_missing(
                "sftp", self.conn_id, "no password and no private key"
            )
        return DeliveryError(f"sFTP {action} failed: {describe_error(exc)}")
