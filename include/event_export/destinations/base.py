"""One interface for every destination: upload atomically, list what is there, verify a file."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int


class Destination(ABC):
    """A client's storage. Implementations wrap one provider hook and one Airflow connection."""

    @abstractmethod
    def upload(self, local: Path, name: str) -> None:
        """Make `name` appear with the content of `local`, all at once or not at all."""

    @abstractmethod
    def list(self) -> dict[str, RemoteFile]:
        """Files under the export's folder, by name (temporary upload names excluded)."""

    @abstractmethod
    def checksum_matches(self, name: str, sha256: str, local: Path) -> bool | None:
        """Whether the stored file's checksum matches; None where the store offers none."""

    def verify(self, name: str, size: int, sha256: str, local: Path) -> list[str]:
        """Problems with one delivered file, empty when it matches the manifest."""
        found = self.list().get(name)
        if found is None:
            return [f"{name}: missing at the destination"]
        if found.size != size:
            return [f"{name}: size {found.size} at the destination, {size} expected"]
        if self.checksum_matches(name, sha256, local) is False:
            return [f"{name}: checksum differs from the manifest"]
        return []
