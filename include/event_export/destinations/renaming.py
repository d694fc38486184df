"""The upload of stores without an atomic put (a local folder, sFTP, FTP): write a hidden
temporary name, check its size, rename it over the final name.

Readers therefore see the old file or the whole new one, never a part, and a file cut short on
the way (a full disk, a dropped data channel the server took for the end) never gets its final
name. An interrupted try leaves its temporary behind; the next try of the same file removes it
first, and a failed try removes its own where the connection still allows. Each store fills in
the few operations below, inside a session it opens on the export's folder.
"""

from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Generic, TypeVar

from event_export.destinations.base import Destination, LocalCopy, is_temp_of, temp_name
from event_export.destinations.errors import DeliveryError

Folder = TypeVar("Folder")  # what a store's session hands its operations: a path, a client, a hook


class RenamingDestination(Destination, Generic[Folder]):
    """A folder that takes a file under a temporary name and renames it into place."""

    @abstractmethod
    def _open_folder(self, action: str, sub: str = "") -> AbstractContextManager[Folder]:
        """A session on the export's folder, or its relative subfolder `sub` (a path_template's
        folders), created with its parents if missing; failures inside are raised as
        `classify` names them (`action` says what was being done)."""

    @abstractmethod
    def _entries(self, at: Folder) -> Iterator[str] | list[str]:
        """The names in the folder (temporaries included)."""

    @abstractmethod
    def _remove(self, at: Folder, entry: str) -> None: ...

    @abstractmethod
    def _write(self, at: Folder, local: Path, entry: str) -> None:
        """Copy `local` to `entry` in the folder."""

    @abstractmethod
    def _size(self, at: Folder, entry: str) -> int | None:
        """The stored size of `entry`; None where the server cannot tell."""

    @abstractmethod
    def _replace(self, at: Folder, temp: str, name: str) -> None:
        """Rename `temp` to `name`, replacing a file already there."""

    def checksum_matches(self, name: str, sha256: str, local: LocalCopy) -> bool | None:
        """None: file servers offer no standard checksum, so sizes are compared (a store that
        can hash its files, as a local folder, says more)."""
        return None

    def _put(self, local: Path, name: str) -> None:
        """`name` may hold folders (`dt=2026-11-01/event=x/file.csv`): the temporary goes beside
        the final name, in the same folder, so the rename stays atomic."""
        expected = local.stat().st_size
        sub, name = posixpath.split(name)
        with self._open_folder(f"upload of {name}", sub) as at:
            for entry in list(self._entries(at)):
                if is_temp_of(entry, name):
                    self._remove(at, entry)
            temp = temp_name(name)
            try:
                self._write(at, local, temp)
                stored = self._size(at, temp)
                if stored is not None and stored != expected:
                    raise DeliveryError(
                        f"upload of {name} to {self.location} stored {stored} of {expected} "
                        "bytes; not renamed into place"
                    )
                self._replace(at, temp, name)
            except BaseException:
                with suppress(Exception):  # the connection may be gone; the next try cleans up
                    self._remove(at, temp)
                raise
