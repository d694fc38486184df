"""The interface every naming profile implements: which files a run writes and their names.

Why: a profile decides the formatted files (a deflated CSV member per event for the daily zip,
cut file series for gcp_export), how they are packaged and named for the client, and the
manifest's name. `ExportRun` calls these three methods and never asks which profile it has, so a
new profile is one module here and one line in `profile_for`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from event_export.pipeline.handoffs import DeliveryDict, Formatted, Part
from event_export.pipeline.staging import Workspace


class NamingProfile(Protocol):
    @property
    def staged_columns(self) -> Sequence[str] | None:
        """The event columns `format` reads, the only ones `extract` stages (None: all)."""
        ...

    @property
    def payload_keys(self) -> bool:
        """Whether `format` wants each event's payload keys, collected once by `extract`."""
        ...

    @property
    def payload_kinds(self) -> bool:
        """Whether `format` wants each event's payload keys with their values' kinds instead
        (typed columns), collected once by `extract`."""
        ...

    def format(
        self,
        ws: Workspace,
        part: Part,
        out_dir: Path,
        keys: list[str] | dict[str, list[str]] | None = None,
        locked: list[str] | None = None,
    ) -> Formatted:
        """Write one part (its staged rows local at `part["path"]`; a cut event's row range,
        pipeline/shards.py) under `out_dir` and publish what `package` needs, and the event's
        columns (schema.EVENT_FILE) for the manifest, once (a cut event's first range); `keys`:
        the event's payload keys when `payload_keys` asked for them (a dict of key to kinds when
        `payload_kinds` did); `locked`: the only payload keys to write (schema: locked,
        pipeline/schema.py)."""
        ...

    def package(
        self, ws: Workspace, formatted: list[Formatted], names: dict[str, str], out_dir: Path
    ) -> list[DeliveryDict]:
        """The files to deliver, named for the client; `names` maps staging keys to raw event
        names."""
        ...

    def manifest_name(self, files: list[DeliveryDict]) -> str:
        """The name of the run's manifest at the destination."""
        ...
