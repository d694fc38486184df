"""A folder on this machine, for development and the demo: same contract as the remote stores.

The root comes from an Airflow `fs` connection (extra `{"path": "/srv/exports"}`), the same way
the standard provider's FSHook reads it, so a config never names a machine path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from event_export.destinations.base import Destination, RemoteFile, is_temp, temp_name
from event_export.destinations.errors import ClientSideError
from event_export.stages.package import sha256_of


class LocalDestination(Destination):
    def __init__(self, root: Path, folder: str = ""):
        self.root = root
        self.folder = root / folder if folder else root

    @classmethod
    def from_connection(cls, conn_id: str, folder: str) -> LocalDestination:
        from airflow.providers.standard.hooks.filesystem import FSHook

        return cls(Path(FSHook(fs_conn_id=conn_id).get_path()), folder)

    def _ensure_folder(self) -> None:
        if not self.root.is_dir():
            raise ClientSideError(
                f"The destination folder {self.root} does not exist.",
                "Create it, or correct the path in the connection.",
                code="path_missing",
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except PermissionError as exc:
            raise ClientSideError(
                f"Permission denied writing to {self.folder}.",
                "Grant write access to the export folder.",
                code="permission_denied",
            ) from exc

    def upload(self, local: Path, name: str) -> None:
        self._ensure_folder()
        temp = self.folder / temp_name(name)
        try:
            shutil.copyfile(local, temp)
            os.replace(temp, self.folder / name)
        except PermissionError as exc:
            raise ClientSideError(
                f"Permission denied writing to {self.folder}.",
                "Grant write access to the export folder.",
                code="permission_denied",
            ) from exc
        finally:
            temp.unlink(missing_ok=True)

    def list(self) -> dict[str, RemoteFile]:
        if not self.folder.is_dir():
            return {}
        return {
            p.name: RemoteFile(p.name, p.stat().st_size)
            for p in self.folder.iterdir()
            if p.is_file() and not is_temp(p.name)
        }

    def checksum_matches(self, name: str, sha256: str, local: Path) -> bool | None:
        return sha256_of(self.folder / name) == sha256
