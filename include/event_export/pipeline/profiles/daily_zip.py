"""The daily_zip profile: one `<client>_<DDMMYYYY>.zip` per client-day, one CSV per event.

Each mapped `format` task writes its event's CSV straight into a deflate stream and stages it as
a ready zip member; `package` assembles the zip from the members (see zipwriter). Entry names are
`<event>_<DDMMYYYY>.csv`, unique under case folding and NFC (naming.member_names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from event_export.config.model import ExportConfig
from event_export.pipeline import naming, schema
from event_export.pipeline.deflate import Deflated
from event_export.pipeline.handoffs import DeliveryDict, Formatted, Part
from event_export.pipeline.stages.csv_format import READ_COLUMNS, format_csv, header, payload_keys
from event_export.pipeline.stages.package import build_zip, describe
from event_export.pipeline.staging import Workspace
from event_export.pipeline.zipwriter import Member
from event_export.scheduling.schedules import Period


@dataclass(frozen=True)
class DailyZip:
    config: ExportConfig
    day: date
    covered: Period
    staged_columns = tuple(READ_COLUMNS)  # not the event name, email or phone

    @property
    def label(self) -> str:
        """The period in names: DDMMYYYY for one day, else the period's label."""
        return naming.ddmmyyyy(self.day) if self.covered.single_day else self.covered.label

    def zip_name(self) -> str:
        if self.covered.single_day:
            return naming.daily_zip_name(self.config.client_id, self.day)
        return f"{naming.safe_component(self.config.client_id)}_{self.covered.label}.zip"

    def format(
        self, ws: Workspace, part: Part, out_dir: Path, locked: list[str] | None = None
    ) -> Formatted:
        target = out_dir / f"{part['key']}.csv.deflate"  # named for the client in `package`
        timezone, excel = self.config.schedule.timezone, self.config.csv_for_excel
        offered = payload_keys(part["path"])
        lock = schema.apply_lock(offered, locked)
        done = format_csv(
            part["path"], part["key"], timezone, target, excel, deflate=True, keys=lock.keys
        )
        columns = schema.event_columns(header(lock.keys), header(offered), lock)
        (out_dir / schema.EVENT_FILE).write_text(columns.to_json())
        ws.publish(out_dir / schema.EVENT_FILE)
        facts = done.deflated
        return {
            "key": part["key"],
            "label": part["label"],
            "rows": done.rows,
            "size": done.size,
            "deflated": {"crc": facts.crc, "size": facts.size, "compressed": facts.compressed},
            "path": ws.publish(target),
        }

    def package(
        self, ws: Workspace, formatted: list[Formatted], names: dict[str, str], out_dir: Path
    ) -> list[DeliveryDict]:
        entries = naming.member_names([names[f["key"]] for f in formatted], self.label)
        local = ws.fetch_all([f["path"] for f in formatted])
        members = [
            Member(entries[names[f["key"]]], p, Deflated(**f["deflated"]))
            for f, p in zip(formatted, local, strict=True)
        ]
        name = self.zip_name()
        target = out_dir / name
        sha256 = build_zip(members, target)
        events = {f["key"]: f["rows"] for f in sorted(formatted, key=lambda f: f["key"])}
        keys = {entries[names[f["key"]]]: f["key"] for f in formatted}
        rows = sum(events.values())
        described = describe(target, name, rows, events, keys, sha256).to_dict()
        return [{**described, "path": ws.publish(target)}]

    def manifest_name(self, files: list[DeliveryDict]) -> str:
        if files:
            return naming.manifest_name(files[0]["name"])
        return f"empty{naming.MANIFEST_SUFFIX}"
