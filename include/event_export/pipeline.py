"""The export of one client-day, stage by stage, over a staging folder keyed by export and day.

Each function here is what one Airflow task does; they exchange only small dicts (paths, names,
counts) so XCom stays small. Keying staging by day (not by run) makes a rerun overwrite its own
files and nothing else.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from event_export import naming
from event_export.config import ExportConfig
from event_export.destinations import VerificationError, destination_for
from event_export.lake import Window, count_window
from event_export.manifest import Manifest
from event_export.settings import lake_uri, staging_root
from event_export.stages.csv_format import format_csv
from event_export.stages.extract import extract
from event_export.stages.package import build_zip, describe
from event_export.stages.split import split_by_event
from event_export.windows import day_covered_by_run, day_window

FORMAT_WORKERS = min(2, os.cpu_count() or 1)  # more threads than cores only add memory


@dataclass(frozen=True)
class ExportRun:
    """One export of one client-day: its window and its staging folder."""

    config: ExportConfig
    day: date

    @classmethod
    def for_logical_date(cls, config: ExportConfig, logical_date: datetime) -> ExportRun:
        return cls(config, day_covered_by_run(logical_date, config.tz))

    @property
    def window(self) -> Window:
        return day_window(self.day, self.config.tz)

    @property
    def staging(self) -> Path:
        return staging_root() / self.config.export_id / self.day.isoformat()

    @property
    def events(self) -> list[str] | None:
        return list(self.config.events) if self.config.kind == "selected_events" else None

    def extract(self) -> dict:
        if self.staging.exists():
            shutil.rmtree(self.staging)  # our own stale staging from an earlier try of this day
        source = lake_uri(self.config.source)
        result = extract(source, self.window, self.events, self.staging / "extract")
        return {"day": self.day.isoformat(), "rows": result.rows, "path": result.path}

    def split(self, extract_path: str) -> list[dict]:
        parts = split_by_event(extract_path, self.staging / "split")
        return [p.to_dict() for p in parts]

    def format(self, part: dict) -> dict:
        name = naming.daily_csv_name(part["event"], self.day)
        target = self.staging / "format" / naming.staging_key(part["event"]) / name
        done = format_csv(part["path"], part["event"], self.config.schedule.timezone, target)
        return done.to_dict()

    def format_all(self, parts: list[dict], workers: int = FORMAT_WORKERS) -> list[dict]:
        """Every event's CSV, as the mapped `format` tasks make them, on `workers` threads.

        Arrow's reader, compute kernels and CSV writer release the GIL, so events format side by
        side; the largest go first so the threads finish together. Results keep `parts`' order.
        """
        largest_first = sorted(parts, key=lambda p: -p["rows"])
        with ThreadPoolExecutor(max(1, workers)) as pool:
            done = list(pool.map(self.format, largest_first))
        by_event = {part["event"]: f for part, f in zip(largest_first, done, strict=True)}
        return [by_event[p["event"]] for p in parts]

    def package(self, formatted: list[dict]) -> list[dict]:
        """Zip the day's CSVs into `<client>_<DDMMYYYY>.zip` and describe it."""
        entries = naming.unique_names(
            {f["event"]: naming.daily_csv_name(f["event"], self.day) for f in formatted}
        )
        members = [(entries[f["event"]], Path(f["path"])) for f in formatted]
        name = naming.daily_zip_name(self.config.client_id, self.day)
        target = self.staging / "package" / name
        build_zip(members, target)
        events = {f["event"]: f["rows"] for f in sorted(formatted, key=lambda f: f["event"])}
        return [describe(target, name, sum(events.values()), events).to_dict()]

    def upload(self, file: dict) -> str:
        destination_for(self.config.destination).upload(Path(file["path"]), file["name"])
        return file["name"]

    def manifest(self, files: list[dict]) -> Manifest:
        public = [{k: v for k, v in f.items() if k != "path"} for f in files]
        window = self.window
        return Manifest(
            self.config.client_id,
            self.config.export_id,
            self.day,
            window.start.isoformat(),
            window.end.isoformat(),
            public,
        )

    def validate(self, files: list[dict]) -> dict:
        """Check every file against the destination and the lake, then publish the manifest."""
        destination = destination_for(self.config.destination)
        problems = []
        for f in files:
            problems += destination.verify(f["name"], f["size"], f["sha256"], Path(f["path"]))
        manifest = self.manifest(files)
        expected = count_window(lake_uri(self.config.source), self.window, self.events)
        if manifest.rows_per_event != expected:
            problems.append(
                f"row counts differ from the lake: delivered {manifest.rows_per_event}, "
                f"lake holds {expected}"
            )
        if problems:
            raise VerificationError("; ".join(problems))
        name = naming.manifest_name(files[0]["name"]) if files else "empty.manifest.json"
        local = self.staging / name
        local.write_bytes(manifest.to_json())
        destination.upload(local, name)
        return {
            "manifest": name,
            "files": [f["name"] for f in files],
            "rows_per_event": manifest.rows_per_event,
        }


def run_export(config: ExportConfig, day: date) -> dict:
    """All stages in this process, in order: for the benchmark and tests without a scheduler."""
    run = ExportRun(config, day)
    extracted = run.extract()
    parts = run.split(extracted["path"])
    pa.default_memory_pool().release_unused()  # as if each stage had its own process
    formatted = run.format_all(parts)
    pa.default_memory_pool().release_unused()
    files = run.package(formatted)
    for f in files:
        run.upload(f)
    return run.validate(files)
