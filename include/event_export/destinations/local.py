"""A folder on this machine, for development and the demo: same contract as the remote stores.

The root comes from an Airflow `fs` connection (extra `{"path": "/srv/exports"}`), the same way
the standard provider's FSHook reads it, so a config never names a machine path.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from event_export.destinations import explanations
from event_export.destinations.base import LocalCopy, RemoteFile, is_ours, is_probe
from event_export.destinations.renaming import RenamingDestination
from event_export.pipeline.stages.package import sha256_of

# A folder we may not write: no permission, or a read-only mount.
DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


class LocalDestination(RenamingDestination[Path]):
    kind = "local"

    def __init__(self, root: Path, folder: str = ""):
        self.root = root
        self.folder = root / folder if folder else root

    @classmethod
    def from_connection(cls, conn_id: str, folder: str) -> LocalDestination:
        from airflow.providers.standard.hooks.filesystem import FSHook

        return cls(Path(FSHook(fs_conn_id=conn_id).get_path()), folder)

    @property
    def location(self) -> str:
        return str(self.folder)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.errno in DENIED:
                raise explanations.permission_denied("local", str(self.folder)) from exc
            raise

    def reach(self) -> None:
        if not self.root.is_dir():
            raise explanations.path_missing("local", str(self.root))

    def _ensure_folder(self, sub: str = "") -> Path:
        self.reach()
        folder = self.folder / sub if sub else self.folder
        with self._writing():
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextmanager
    def _open_folder(self, action: str, sub: str = "") -> Iterator[Path]:
        folder = self._ensure_folder(sub)
        with self._writing():
            yield folder

    def _entries(self, at: Path) -> list[str]:
        return [p.name for p in at.iterdir()]

    def _remove(self, at: Path, entry: str) -> None:
        (at / entry).unlink(missing_ok=True)

    def _write(self, at: Path, local: Path, entry: str) -> None:
        shutil.copyfile(local, at / entry)

    def _size(self, at: Path, entry: str) -> int:
        return (at / entry).stat().st_size

    def _replace(self, at: Path, temp: str, name: str) -> None:
        os.replace(at / temp, at / name)

    def delete(self, name: str) -> None:
        with self._writing():
            (self.folder / name).unlink()

    def probes(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return [p.name for p in self.folder.iterdir() if is_probe(p.name)]

    def list(self, folder: str = "") -> dict[str, RemoteFile]:
        at = self.folder / folder if folder else self.folder
        if not at.is_dir():
            return {}
        found = {}
        for p in at.iterdir():
            if p.is_file() and not is_ours(p.name):
                name = f"{folder}/{p.name}" if folder else p.name
                found[name] = RemoteFile(name, p.stat().st_size)
        return found

    def checksum_matches(self, name: str, sha256: str, local: LocalCopy) -> bool | None:
        return sha256_of(self.folder / name) == sha256
