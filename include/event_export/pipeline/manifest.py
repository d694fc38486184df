"""The manifest: what a delivery holds. Uploaded last: its presence means the delivery is whole."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from event_export.pipeline.naming import event_label
from event_export.pipeline.schema import Delivery


@dataclass(frozen=True)
class Manifest:
    client_id: str
    export_id: str
    request_id: str
    location: str  # where the files were delivered, e.g. s3://bucket/prefix (no secrets)
    day: date
    interval_start: str
    interval_end: str
    files: list[dict]  # DeliveryFile.to_dict() without the staging path
    # the columns per event, their fingerprint, the changes since the previous delivery
    schema: Delivery = field(default_factory=lambda: Delivery("evolve", {}, None))

    @property
    def rows_per_event(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for f in self.files:
            for event, rows in f["events"].items():
                totals[event] = totals.get(event, 0) + rows
        return dict(sorted(totals.items()))

    def to_json(self) -> bytes:
        """Stable bytes: no run time inside, keys sorted, so the same files give the same
        manifest. A rerun delivers the same files, except with `encrypt`: each run encrypts
        under a new random session key, so the `.pgp` files, and with them the manifest's
        SHA-256s, differ per run (the rows, names and schema stay the same)."""
        body = {
            "client_id": self.client_id,
            "export_id": self.export_id,
            "request_id": self.request_id,
            "location": self.location,
            "day": self.day.isoformat(),
            "interval": {"start": self.interval_start, "end": self.interval_end},
            "files": self.files,
            "rows_per_event": self.rows_per_event,
            "total_rows": sum(self.rows_per_event.values()),
            **self.schema.manifest_fields(),  # schema, schema_changes
        }
        return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def summary(self, manifest_name: str) -> dict:
        """What the `validate` task returns (XCom) and the Exports page shows for a run."""
        return {
            "manifest": manifest_name,
            "request_id": self.request_id,
            "location": self.location,
            "files": [
                {k: f[k] for k in ("name", "size", "sha256", "rows") if k in f} for f in self.files
            ],
            # XCom and the Exports page: printable labels, never a raw name (NUL, bidi controls)
            "rows_per_event": {event_label(e): n for e, n in self.rows_per_event.items()},
            "bytes": sum(f.get("size", 0) for f in self.files),
            **self.schema.summary(),  # schema_fingerprint, schema_changed, schema_changes
        }
