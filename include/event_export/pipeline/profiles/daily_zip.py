"""The daily_zip profile: one `<client>_<DDMMYYYY>.zip` per client-day, one CSV per event.

Each mapped `format` task writes its event's CSV straight into a deflate stream and stages it as
a ready zip member; `package` assembles the zip from the members (see zipwriter). Entry names are
`<event>_<DDMMYYYY>.csv`, unique under case folding and NFC (naming.member_names). An event cut
over several shards is deflated as pieces (deflate.py), joined into its one member here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from event_export.config.model import ExportConfig
from event_export.pipeline import naming, schema
from event_export.pipeline.deflate import Deflated, join
from event_export.pipeline.handoffs import DeliveryDict, Formatted, Part
from event_export.pipeline.shards import is_cut, joined_pieces, row_range
from event_export.pipeline.stages.csv_format import READ_COLUMNS, format_csv, header, payload_keys
from event_export.pipeline.stages.package import build_zip, describe
from event_export.pipeline.staging import Workspace
from event_export.pipeline.zipwriter import Member, Piece
from event_export.scheduling.schedules import Period


@dataclass(frozen=True)
class DailyZip:
    config: ExportConfig
    day: date
    covered: Period
    staged_columns = tuple(READ_COLUMNS)  # not the event name, email or phone
    payload_keys = True  # the CSV header: every payload key of the event, found by extract
    payload_kinds = False

    @property
    def label(self) -> str:
        """The period in names: DDMMYYYY for one day, else the period's label."""
        return naming.ddmmyyyy(self.day) if self.covered.single_day else self.covered.label

    def zip_name(self) -> str:
        if self.covered.single_day:
            return naming.daily_zip_name(self.config.client_id, self.day)
        return f"{naming.safe_component(self.config.client_id)}_{self.covered.label}.zip"

    def format(
        self,
        ws: Workspace,
        part: Part,
        out_dir: Path,
        keys: list[str] | None = None,
        locked: list[str] | None = None,
    ) -> Formatted:
        cut = is_cut(part)
        piece, pieces = part.get("piece", 0), part.get("pieces", 1)
        suffix = f".{piece:05d}" if cut else ""
        target = out_dir / f"{part['key']}{suffix}.csv.deflate"  # named for the client in package
        timezone, excel = self.config.schedule.timezone, self.config.csv_for_excel
        offered = keys if keys is not None else payload_keys(part["path"])
        lock = schema.apply_lock(offered, locked)
        done = format_csv(
            part["path"],
            part["key"],
            timezone,
            target,
            excel,
            deflate=True,
            rows=row_range(part),
            keys=lock.keys,
            first=piece == 0,
            last=piece == pieces - 1,
        )
        if piece == 0:  # the event's columns, recorded once (a cut event's pieces share them)
            columns = schema.event_columns(header(lock.keys), header(offered), lock)
            (out_dir / schema.EVENT_FILE).write_text(columns.to_json())
            ws.publish(out_dir / schema.EVENT_FILE)
        facts = done.deflated
        formatted: Formatted = {
            "key": part["key"],
            "label": part["label"],
            "rows": done.rows,
            "size": done.size,
            "deflated": {"crc": facts.crc, "size": facts.size, "compressed": facts.compressed},
            "path": ws.publish(target),
        }
        if cut:
            formatted.update(piece=piece, pieces=pieces)
        return formatted

    def package(
        self, ws: Workspace, formatted: list[Formatted], names: dict[str, str], out_dir: Path
    ) -> list[DeliveryDict]:
        events = joined_pieces(formatted)
        entries = naming.member_names([names[key] for key in events], self.label)
        local = dict(
            zip(
                [f["path"] for f in formatted],
                ws.fetch_all([f["path"] for f in formatted]),
                strict=True,
            )
        )
        members = [
            Member(
                entries[names[key]],
                tuple(local[p["path"]] for p in pieces),
                join([Deflated(**p["deflated"]) for p in pieces]),
            )
            for key, pieces in events.items()
        ]
        name = self.zip_name()
        target = out_dir / name
        written: list[Piece] = []  # the zip: its headers, and the members' staged files
        sha256 = build_zip(members, target, written)
        rows = {key: sum(p["rows"] for p in pieces) for key, pieces in sorted(events.items())}
        keys = {entries[names[key]]: key for key in events}
        described = describe(target, name, sum(rows.values()), rows, keys, sha256).to_dict()
        staged = {path: key for key, path in local.items()}
        made_of = [p if isinstance(p, bytes) else staged[p] for p in written]
        return [{**described, "path": ws.publish_assembled(target, made_of)}]

    def manifest_name(self, files: list[DeliveryDict]) -> str:
        if files:
            return naming.manifest_name(files[0]["name"])
        return f"empty{naming.MANIFEST_SUFFIX}"
