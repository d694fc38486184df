"""A folder on an FTP or FTPS server through the ftp provider's FTPHook / FTPSHook.

A file is stored under a hidden temporary name and then renamed (RNFR/RNTO) to its final name, so
no reader sees a part of it; a server that refuses to rename over an existing file gets the old one
deleted first. The next try of a file removes the temporaries an interrupted try left.

Connection (`ftp`): host, port, login, password; extra `passive` (default true), `encoding`, and
`path`, the root folder (default: the login's home); the config's `path` is created under it.
With `ftps: true` in the config the session is FTP over explicit TLS (control and data), and the
server's certificate is verified against the system's CA store (`SSL_CERT_FILE` to add one).
"""

from __future__ import annotations

import ftplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from event_export.config.model import FTPDestinationConfig
from event_export.destinations import explanations
from event_export.destinations.base import (
    RemoteFile,
    describe_error,
    error_chain,
    is_ours,
    is_probe,
)
from event_export.destinations.errors import DeliveryError
from event_export.destinations.renaming import RenamingDestination

if TYPE_CHECKING:
    from airflow.providers.ftp.hooks.ftp import FTPHook

TIMEOUT = 60
BLOCK = 1024 * 1024
AUTH_REPLIES = ("530", "532")
DENIED_REPLIES = ("550", "553", "552")


class FTPDestination(RenamingDestination["FTPHook"]):
    def __init__(self, conn_id: str, folder: str = "", *, ftps: bool = False):
        self.conn_id = conn_id
        self.subfolder = folder.strip("/")
        self.ftps = ftps

    @classmethod
    def from_config(cls, config: FTPDestinationConfig) -> FTPDestination:
        return cls(config.conn_id, config.path, ftps=config.ftps)

    @property
    def scheme(self) -> str:
        return "ftps" if self.ftps else "ftp"

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.scheme

    @cached_property
    def location(self) -> str:
        from airflow.providers.ftp.hooks.ftp import FTPHook

        conn = FTPHook.get_connection(self.conn_id)
        root = (conn.extra_dejson.get("path") or "").strip("/")
        folder = "/".join(part for part in (root, self.subfolder) if part)
        return f"{self.scheme}://{conn.host}:{conn.port or 21}/{folder}"

    @contextmanager
    def _session(
        self, action: str, *, create: bool = False, sub: str = ""
    ) -> Iterator[FTPHook | None]:
        """A logged-in hook working in the export's folder (None if absent and not created)."""
        from airflow.providers.ftp.hooks.ftp import FTPHook, FTPSHook

        hook = (FTPSHook if self.ftps else FTPHook)(ftp_conn_id=self.conn_id)
        try:
            conn = hook.get_conn()
            conn.timeout = TIMEOUT  # for data connections
            if conn.sock is not None:
                conn.sock.settimeout(TIMEOUT)
            yield hook if self._enter_folder(hook, create, sub) else None
            with suppress(Exception):
                hook.close_conn()
        except DeliveryError:
            raise
        except Exception as exc:
            raise self.classify(exc, action) from exc
        finally:
            if hook.conn is not None:
                with suppress(Exception):
                    hook.conn.close()

    def _enter_folder(self, hook: FTPHook, create: bool, sub: str = "") -> bool:
        conn = hook.get_conn()
        root = hook.get_connection(self.conn_id).extra_dejson.get("path")
        if root:
            try:
                conn.cwd(root)
            except ftplib.error_perm as exc:
                raise explanations.path_missing(self.scheme, root) from exc
        for part in filter(None, f"{self.subfolder}/{sub}".split("/")):
            try:
                conn.cwd(part)
            except ftplib.error_perm:
                if not create:
                    return False
                conn.mkd(part)
                conn.cwd(part)
        return True

    @contextmanager
    def _open_folder(self, action: str, sub: str = "") -> Iterator[FTPHook]:
        with self._session(action, create=True, sub=sub) as hook:
            assert hook is not None  # created when missing
            yield hook

    def _entries(self, at: FTPHook) -> list[str]:
        return self._names(at)

    def _remove(self, at: FTPHook, entry: str) -> None:
        at.delete_file(entry)

    def _write(self, at: FTPHook, local: Path, entry: str) -> None:
        at.store_file(entry, str(local), block_size=BLOCK)

    def _size(self, at: FTPHook, entry: str) -> int | None:
        """SIZE, in binary mode; None from a server without the command."""
        conn = at.get_conn()
        try:
            conn.voidcmd("TYPE I")
            return conn.size(entry)
        except ftplib.error_perm as exc:
            if str(exc).startswith(("500", "501", "502")):
                return None
            raise

    def _replace(self, at: FTPHook, temp: str, name: str) -> None:
        try:
            at.rename(temp, name)
        except ftplib.error_perm:
            if name not in self._names(at):
                raise
            at.delete_file(name)  # the server will not rename over a file
            at.rename(temp, name)

    @staticmethod
    def _names(hook: FTPHook) -> list[str]:
        try:
            return [n.rsplit("/", 1)[-1] for n in _lines(hook.get_conn(), "NLST")]
        except ftplib.error_perm as exc:  # some servers answer an empty folder with 550
            if str(exc).startswith("550"):
                return []
            raise

    def reach(self) -> None:
        with self._session("destination check"):
            pass

    def delete(self, name: str) -> None:
        with self._session(f"deletion of {name}") as hook:
            if hook is not None:
                hook.delete_file(name)

    def probes(self) -> list[str]:
        with self._session("listing of probes") as hook:
            return [n for n in self._names(hook) if is_probe(n)] if hook else []

    def list(self, folder: str = "") -> dict[str, RemoteFile]:
        with self._session("listing", sub=folder) as hook:
            found = self._sizes(hook) if hook else {}
        if not folder:
            return found
        return {f"{folder}/{n}": RemoteFile(f"{folder}/{n}", f.size) for n, f in found.items()}

    def _sizes(self, hook: FTPHook) -> dict[str, RemoteFile]:
        """Names and sizes from MLSD; SIZE per file where the server has no MLSD."""
        conn = hook.get_conn()
        try:
            files = {}
            for line in _lines(conn, "MLSD"):
                facts, _, name = line.partition(" ")
                fact = dict(f.lower().split("=", 1) for f in facts.split(";") if "=" in f)
                if fact.get("type") == "file":
                    files[name] = int(fact["size"])
        except ftplib.error_perm as exc:
            if not str(exc).startswith(("500", "501", "502")):
                raise
            conn.voidcmd("TYPE I")  # SIZE answers in binary mode
            files = {n: hook.get_size(n) or 0 for n in self._names(hook)}
        return {n: RemoteFile(n, s) for n, s in files.items() if not is_ours(n)}

    def classify(self, exc: BaseException, action: str) -> DeliveryError:
        """The client-side error an FTP failure means, or an internal one."""
        reply = str(exc)[:3] if isinstance(exc, ftplib.error_perm) else ""
        if self.ftps and reply in ("500", "502", "504", "534") and "AUTH" in str(exc).upper():
            return explanations.tls_refused(self.conn_id, describe_error(exc))
        untrusted = next(
            (e for e in error_chain(exc) if isinstance(e, ssl.SSLCertVerificationError)), None
        )
        if untrusted is not None:
            return explanations.certificate_untrusted(
                self.conn_id, untrusted.verify_message or str(untrusted)
            )
        if reply in AUTH_REPLIES:
            return explanations.auth_failed(self.scheme, reply)
        if reply in DENIED_REPLIES:
            return explanations.permission_denied(
                self.scheme,
                f"the export folder on {explanations.STORES[self.scheme].name}",
                describe_error(exc),
            )
        return DeliveryError(f"{self.scheme.upper()} {action} failed: {describe_error(exc)}")


def _lines(conn: ftplib.FTP, command: str) -> list[str]:
    """A listing's lines. Over TLS 1.3, ftplib fails to close an empty listing's data channel
    (SHUTDOWN_WHILE_IN_INIT) after the server sent it all: the listing is then empty."""
    lines: list[str] = []
    try:
        conn.retrlines(command, lines.append)
    except ssl.SSLError as exc:
        if exc.reason != "SHUTDOWN_WHILE_IN_INIT" or lines:
            raise
        conn.voidresp()  # the transfer's 226, which ftplib did not get to read
    return lines
