"""The gcp_export profile: which files one run writes, in which format, under which names.

Event exports write one file series per event, cut at `chunk_size_mb`; profile exports write one
gzip file of the whole snapshot (its documented name has no file index). The names carry the
export's request id and the run's timestamp, both derived from the config and the data interval,
so a rerun of an interval writes the same names with the same bytes. Each chunk is hashed on the
worker that wrote it (with staging on object storage, `package` may run elsewhere). An event cut
over several shards (pipeline/shards.py) writes one series per row range; `package` numbers the
event's files across its ranges in order, as one series.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from event_export.config.model import ExportConfig
from event_export.formats import (
    EVENTS,
    PROFILES,
    Layout,
    Options,
    Output,
    PropsSchema,
    extension,
    props_schema,
    scan_series,
    write_series,
)
from event_export.formats.csv_plain import column_names
from event_export.pipeline import ipc, naming, schema
from event_export.pipeline.handoffs import Chunk, DeliveryDict, Formatted, Part
from event_export.pipeline.lake import Window
from event_export.pipeline.shards import is_cut, joined_pieces, row_range
from event_export.pipeline.stages.package import DeliveryFile, describe, sha256_of
from event_export.pipeline.staging import Workspace

PROFILES_PART = "user_profiles"  # the one part of a profile export, and its manifest row key
MB = 1_000_000


@dataclass(frozen=True)
class GcpExport:
    """One run's settings for the gcp_export profile."""

    config: ExportConfig
    day: date
    window: Window
    request_id: str  # the run's: see naming.request_id_for
    staged_columns = None  # every column: records fall back on email and phone, JSON names events

    @property
    def payload_kinds(self) -> bool:
        """Parquet types its property columns: extract collects each event's property keys
        with their values' kinds, once, so a cut event's ranges read only their own rows."""
        return self.config.format == "parquet" and not self.config.values_as_strings

    @property
    def payload_keys(self) -> bool:
        """The other formats (and values as strings) need only the keys (found natively)."""
        return not self.payload_kinds

    @property
    def profiles(self) -> bool:
        return self.config.kind == "user_profiles"

    @property
    def run_timestamp(self) -> str:
        return naming.run_timestamp(self.window.end)

    @property
    def options(self) -> Options:
        return Options(
            timezone=self.config.schedule.timezone,
            identity_priority=tuple(self.config.identity_priority),
            values_as_strings=self.config.values_as_strings,
            csv_for_excel=self.config.csv_for_excel,
        )

    def format(
        self,
        ws: Workspace,
        part: Part,
        out_dir: Path,
        keys: list[str] | dict[str, list[str]] | None = None,
        locked: list[str] | None = None,
    ) -> Formatted:
        """Write one part (an event's rows or a range of them, or the snapshot) as its file
        series and publish it; JSON files carry the raw event name, read here from the part's
        staged rows. A range writes under its own folder, so no two ranges share a file. The
        columns recorded are the records' fields as dotted paths (the CSV format's header), in
        the event's folder (a cut event's first range records them, for all its ranges)."""
        event = None if self.profiles else ipc.first_value(part["path"], "event_name")
        layout = PROFILES if self.profiles else EVENTS
        offered = self._offered(part, layout, keys)
        lock = schema.apply_lock(offered.keys, locked)
        props = offered if locked is None else offered.only(lock.keys)
        columns = schema.event_columns(
            column_names(layout, props), column_names(layout, offered), lock
        )
        if is_cut(part):
            if part["piece"] == 0:  # the event's columns, once (its ranges share them)
                out_dir.mkdir(parents=True, exist_ok=True)
                (out_dir / schema.EVENT_FILE).write_text(columns.to_json())
                ws.publish(out_dir / schema.EVENT_FILE)
            out_dir = out_dir / f"piece-{part['piece']:05d}"
        done = self._write(part, out_dir, event, props)
        (out_dir / schema.EVENT_FILE).write_text(columns.to_json())
        ws.publish_folder(out_dir)
        done["chunks"] = [_staged_chunk(ws, c) for c in done["chunks"]]
        return done

    def _offered(
        self, part: Part, layout: Layout, keys: list[str] | dict[str, list[str]] | None
    ) -> PropsSchema:
        """The part's property columns: from what extract collected (`keys`), else scanned
        here over the whole staged file (a profile snapshot, or staging from before)."""
        as_strings = self.options.values_as_strings
        if isinstance(keys, dict):
            return props_schema(keys, as_strings)
        if keys is not None:
            return props_schema(dict.fromkeys(keys, ()), values_as_strings=True)
        return scan_series(part["path"], layout, self.options, self.config.format)

    def _write(self, part: Part, out_dir: Path, event: str | None, props: PropsSchema) -> Formatted:
        if out_dir.exists():
            shutil.rmtree(out_dir)  # an earlier try of this task
        config = self.config
        if self.profiles:
            output = Output(out_dir, limit=None, gzip=True, gzip_name=self.profile_file_name())
            chunks = write_series(
                part["path"], config.format, PROFILES, self.options, output, props=props
            )
        else:
            output = Output(
                out_dir,
                limit=int(config.chunk_size_mb * MB),
                codec=config.codec,
            )
            chunks = write_series(
                part["path"],
                config.format,
                EVENTS,
                self.options,
                output,
                title=event,
                rows=row_range(part),
                props=props,
            )
        done: Formatted = {
            "key": part["key"],
            "label": part["label"],
            "rows": sum(c.rows for c in chunks),
            "chunks": [c.to_dict() for c in chunks],
        }
        if is_cut(part):
            done.update(piece=part["piece"], pieces=part["pieces"])
        return done

    def profile_file_name(self) -> str:
        config = self.config
        return naming.gcp_profile_file_name(
            config.account_id or 0,
            self.request_id,
            self.run_timestamp,
            config.database_id,
            config.format,
        )

    def package(
        self, ws: Workspace, formatted: list[Formatted], names: dict[str, str], out_dir: Path
    ) -> list[DeliveryDict]:
        """Nothing to pack: the chunks are the files, hashed where they were written."""
        return self.name_files(formatted, names)

    def name_files(self, formatted: list[Formatted], names: dict[str, str]) -> list[DeliveryDict]:
        """Name every written file and describe it (size, SHA-256, rows) for upload and manifest.

        `names` maps each part's staging key to its raw event name; file names are unique under
        case folding and NFC among the run's files, and fit 255 bytes under any temporary name.
        """
        config = self.config
        files = []
        if self.profiles:
            name = self._in_folder(self.profile_file_name(), None)
            for part in formatted:
                for chunk in part["chunks"]:
                    files.append(self._describe(chunk, name, part["key"]))
            return files
        ext = extension(config.format, codec=config.codec)
        by_event = {  # a cut event's ranges' files, in order, as one series
            names[key]: {"key": key, "chunks": [c for p in pieces for c in p["chunks"]]}
            for key, pieces in joined_pieces(formatted).items()
        }
        named = naming.gcp_event_file_names(
            {event: len(p["chunks"]) for event, p in by_event.items()},
            self.request_id,
            self.run_timestamp,
            self.day,
            config.database_id,
            ext,
        )
        for event in sorted(by_event):
            part = by_event[event]
            for name, chunk in zip(named[event], part["chunks"], strict=True):
                files.append(self._describe(chunk, self._in_folder(name, event), part["key"]))
        return files

    def _in_folder(self, name: str, event: str | None) -> str:
        """`name` under the folders of the config's path_template (unchanged without one)."""
        template = self.config.path_template
        if not template:
            return name
        start = self.window.start.astimezone(self.config.tz)
        values = naming.template_values(start, self.config.export_id, self.request_id)
        return f"{naming.template_folder(template, values, event)}/{name}"

    @staticmethod
    def _describe(chunk: Chunk, name: str, key: str) -> DeliveryDict:
        """The chunk as a file to deliver, its rows under the part's staging key; a chunk hashed
        where it was written is not read again (with staging on object storage it is not on this
        worker)."""
        if "sha256" in chunk:
            rows = chunk["rows"]
            return DeliveryFile(
                name, chunk["path"], chunk["size"], chunk["sha256"], rows, {key: rows}
            ).to_dict()
        return describe(Path(chunk["path"]), name, chunk["rows"], {key: chunk["rows"]}).to_dict()

    def manifest_name(self, files: list[DeliveryDict] | None = None) -> str:
        prefix = f"{self.request_id}-{self.run_timestamp}"
        if self.profiles:
            prefix = f"{self.config.account_id}-{prefix}"
        return naming.gcp_manifest_name(prefix, self.day, self.config.database_id)


def _staged_chunk(ws: Workspace, chunk: dict) -> Chunk:
    """A staged chunk by key, with its SHA-256: the one taken while writing (text files), else
    read here, where the file is local (Parquet, whose writer seeks)."""
    path = Path(chunk["path"])
    return {**chunk, "path": ws.key(path), "sha256": chunk["sha256"] or sha256_of(path)}
