"""The export of one client-day, stage by stage, over a staging area keyed by export and day.

Each function here is what one Airflow task does; they exchange only small dicts (staging keys,
names, counts) so XCom stays small. Each works in a `staging.Workspace`: it fetches its inputs by
key and publishes its outputs, so with staging on S3 the tasks of a run may run on any workers.
Keying staging by day (not by run) makes a rerun overwrite its own files and nothing else. The
naming profile (profiles/: daily_zip, gcp_export) decides the files, their packaging and names;
what tasks hand each other is declared in handoffs.py. `format` runs per shard (several small
events, or a row range of a large one: shards.py) and `upload` per batch of files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import pyarrow as pa

from event_export.config.model import ExportConfig
from event_export.destinations import VerificationError, destination_for
from event_export.pipeline import encrypt, naming, schema, staging_cleanup
from event_export.pipeline.handoffs import (
    DeliveryDict,
    Extracted,
    Formatted,
    Part,
    Shard,
    UploadBatch,
)
from event_export.pipeline.lake import Window, count_profiles, count_window
from event_export.pipeline.manifest import Manifest
from event_export.pipeline.memory import use_jemalloc
from event_export.pipeline.profiles import PROFILES_PART, NamingProfile, profile_for
from event_export.pipeline.shards import batch_uploads, plan_shards
from event_export.pipeline.stages.extract import extract, extract_profiles
from event_export.pipeline.staging import TRANSFER_THREADS, Staging, Workspace, staging_store
from event_export.scheduling.schedules import Period, daily_run_period, day_period
from event_export.settings import lake_uri, staging_root

EVENT_NAMES = "event-names.json"  # in the run's extract folder: raw event name by staging key
PARTS = "parts.json"  # in the run's extract folder: the parts `split_by_event` hands out
PAYLOAD_KEYS = "payload-keys.json"  # in the run's extract folder: each event's payload keys
PAYLOAD_KINDS = "payload-kinds.json"  # ... or each event's payload keys with their value kinds
use_jemalloc()  # every task of a run allocates through it (memory.py)

FORMAT_WORKERS = min(2, os.cpu_count() or 1)  # more threads than cores only add memory


@dataclass(frozen=True)
class ExportRun:
    """One export of one period (a client-day by default): its window and its staging folder.

    `day` is the first local day covered; `period` widens the run to a date range or a few hours
    (recurring and one-time exports). A single day keeps the daily zip's DDMMYYYY names.
    """

    config: ExportConfig
    day: date
    period: Period | None = None

    @classmethod
    def for_logical_date(cls, config: ExportConfig, logical_date: datetime) -> ExportRun:
        return cls.for_period(config, daily_run_period(logical_date, config.tz))

    @classmethod
    def for_period(cls, config: ExportConfig, period: Period) -> ExportRun:
        return cls(config, period.first_day, period)

    @property
    def covered(self) -> Period:
        return self.period or day_period(self.day, self.config.tz)

    @property
    def window(self) -> Window:
        return self.covered.window

    @property
    def prefix(self) -> str:
        """The run's staging key: `<export_id>/<period>`."""
        return f"{self.config.export_id}/{self.covered.key}"

    @property
    def staging(self) -> Path:
        """The run's local staging folder (with S3 staging: unused, see `store`)."""
        return staging_root() / self.prefix

    @cached_property
    def store(self) -> Staging:
        return staging_store()

    @property
    def request_id(self) -> str:
        """This run's request id: in every gcp_export file name and in every manifest."""
        return naming.request_id_for(self.config.client_id, self.config.export_id, self.covered.key)

    @property
    def events(self) -> list[str] | None:
        return list(self.config.events) if self.config.kind == "selected_events" else None

    @property
    def profiles(self) -> bool:
        return self.config.kind == "user_profiles"

    @cached_property
    def naming_profile(self) -> NamingProfile:
        """What this run writes and how it names it (daily_zip or gcp_export)."""
        return profile_for(self.config, self.day, self.covered, self.request_id)

    def extract(self, base: schema.Base | None = None) -> Extracted:
        """Stage the run's rows once: a profile snapshot as one file; events grouped per event
        name, only the columns the naming profile's format reads, with an index of the parts
        (`path` is the index's staging key) and the raw event names beside them; and `base`,
        the previous delivery's schema, for the run's format and validate (pipeline/schema.py)."""
        staging_cleanup.sweep_if_due(self.store)  # runs' staging past its retention
        self.store.clear(self.prefix)  # our own stale staging from an earlier try of this day
        source = lake_uri(self.config.source)
        day = self.day.isoformat()
        with self.store.workspace() as ws:
            out_dir = ws.path(self.prefix) / "extract"
            if self.profiles:
                result = extract_profiles(source, self.day, out_dir)
                ws.publish(self._stage_base(out_dir, base))
                return {"day": day, "rows": result.rows, "path": ws.publish(result.path)}
            columns = self.naming_profile.staged_columns
            with_keys = self.naming_profile.payload_keys
            with_kinds = self.naming_profile.payload_kinds
            parts = extract(
                source, self.window, self.events, out_dir, columns, with_keys, with_kinds
            )
            self._stage_base(out_dir, base)
            names = {p.key: p.event for p in parts}  # JSON escapes NUL and the like: any name
            (out_dir / EVENT_NAMES).write_text(json.dumps(names, ensure_ascii=True))
            if with_keys:
                keys = {p.key: p.payload_keys for p in parts}
                (out_dir / PAYLOAD_KEYS).write_text(json.dumps(keys, ensure_ascii=True))
            if with_kinds:
                kinds = {p.key: p.payload_kinds for p in parts}
                (out_dir / PAYLOAD_KINDS).write_text(json.dumps(kinds, ensure_ascii=True))
            index = [{**p.to_xcom(), "path": ws.key(p.path)} for p in parts]
            (out_dir / PARTS).write_text(json.dumps(index, ensure_ascii=True))
            ws.publish_folder(out_dir)
            rows = sum(p.rows for p in parts)
            return {"day": day, "rows": rows, "path": ws.key(out_dir / PARTS)}

    @staticmethod
    def _stage_base(out_dir: Path, base: schema.Base | None) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / schema.BASE_FILE
        path.write_text(schema.base_to_json(base))
        return path

    @cached_property
    def schema_base(self) -> schema.Base | None:
        """The previous delivery's schema as `extract` staged it (None: the first delivery)."""
        with self.store.workspace() as ws:  # none staged: extracted before this version
            path = _fetch_if_staged(ws, f"{self.prefix}/extract/{schema.BASE_FILE}")
            return None if path is None else schema.base_from_json(path.read_text())

    def lock_for(self, key: str) -> list[str] | None:
        """`schema: locked`: the locked payload keys of the event with this staging key (None:
        evolve, or the event's first delivery, which locks them)."""
        if self.config.schema_ != "locked" or self.schema_base is None:
            return None
        return self._locks.get(key)

    @cached_property
    def _locks(self) -> dict[str, list[str]]:
        base = self.schema_base
        names = self.event_names().items()
        return {key: keys for key, name in names if (keys := base.lock_for(name)) is not None}

    def split(self, extracted: Extracted) -> list[Shard]:
        """The run's shards (shards.plan_shards) over the events `extract` staged: only its
        index is read, no rows are copied. A profile snapshot is one part as it is (extract
        counted its rows), in one shard."""
        if self.profiles:
            part: Part = {
                "key": PROFILES_PART,
                "label": PROFILES_PART,
                "rows": extracted["rows"],
                "path": extracted["path"],
            }
            return [{"label": PROFILES_PART, "rows": part["rows"], "parts": [part]}]
        with self.store.workspace() as ws:
            return plan_shards(json.loads(ws.fetch(extracted["path"]).read_text()))

    def event_names(self) -> dict[str, str]:
        """Raw event name by staging key, as `extract` found them (a profile export: its part)."""
        if self.profiles:
            return {PROFILES_PART: PROFILES_PART}
        with self.store.workspace() as ws:
            return json.loads(ws.fetch(f"{self.prefix}/extract/{EVENT_NAMES}").read_text())

    def payload_keys(self) -> dict[str, list[str]] | dict[str, dict[str, list[str]]]:
        """Each event's payload keys as `extract` collected them (profiles that ask for them),
        or its keys with their values' kinds (`payload_kinds`). A run extracted before the
        profile asked has none: format finds them itself."""
        profile = self.naming_profile
        if self.profiles or not (profile.payload_keys or profile.payload_kinds):
            return {}
        name = PAYLOAD_KINDS if profile.payload_kinds else PAYLOAD_KEYS
        with self.store.workspace() as ws:
            path = _fetch_if_staged(ws, f"{self.prefix}/extract/{name}")
            return {} if path is None else json.loads(path.read_text())

    def format(
        self, part: Part, keys: dict[str, list[str]] | None = None, ws: Workspace | None = None
    ) -> Formatted:
        """One part (an event, or a cut event's row range) formatted; `keys`: payload keys by
        event staging key (read from staging when not given); `ws`: a workspace shared with the
        other parts of the task (format_all), else one of its own."""
        keys = self.payload_keys() if keys is None else keys
        if ws is None:
            with self.store.workspace() as ws:
                return self.format(part, keys, ws)
        local: Part = {**part, "path": str(ws.fetch(part["path"]))}
        out_dir = ws.path(self.prefix) / "format" / part["key"]
        key = part["key"]
        return self.naming_profile.format(ws, local, out_dir, keys.get(key), self.lock_for(key))

    def format_shard(self, shard: Shard) -> list[Formatted]:
        """What one mapped `format` task does: every part of the shard, in order."""
        return self.format_all(shard["parts"])

    def format_all(self, parts: list[Part], workers: int = FORMAT_WORKERS) -> list[Formatted]:
        """The parts formatted (all of a run's in `run_export`, a shard's in a task), on
        `workers` threads.

        Arrow's reader, compute kernels and CSV writer release the GIL, so events format side by
        side; the largest go first so the threads finish together. Results keep `parts`' order.
        """
        keys = self.payload_keys() if parts else {}
        order = sorted(range(len(parts)), key=lambda i: -_part_rows(parts[i]))
        # one workspace: with staging on S3 a part's uploads go on while the next is formatted
        with self.store.workspace() as ws, ThreadPoolExecutor(max(1, workers)) as pool:
            done = list(pool.map(lambda i: self.format(parts[i], keys, ws), order))
        by_index = dict(zip(order, done, strict=True))
        return [by_index[i] for i in range(len(parts))]

    def format_shards(self, shards: list[Shard]) -> list[Formatted]:
        """Every shard formatted in this process (benchmarks and tests without a scheduler)."""
        return self.format_all([p for shard in shards for p in shard["parts"]])

    def package(self, formatted: list[Formatted]) -> list[DeliveryDict]:
        """The files to deliver (daily_zip: the period's zip; gcp_export: each chunk file, named),
        described for upload and the manifest; with `encrypt`, each encrypted to the client's
        key (`.pgp` added), so upload, validate and the manifest see the delivered bytes."""
        names = self.event_names() if formatted else {}
        with self.store.workspace() as ws:
            out_dir = ws.path(self.prefix) / "package"
            files = self.naming_profile.package(ws, formatted, names, out_dir)
            if self.config.encrypt:  # each delivery encrypted as it is (encrypt.py)
                key = self.config.encrypt.pgp_public_key_conn_id
                files = encrypt.encrypt_deliveries(ws, files, key, out_dir / "encrypted")
            return files

    def upload(self, file: DeliveryDict) -> str:
        with self.store.workspace() as ws:
            destination_for(self.config.destination).upload(ws.fetch(file["path"]), file["name"])
        return file["name"]

    @staticmethod
    def upload_batches(files: list[DeliveryDict]) -> list[UploadBatch]:
        """The files grouped for the mapped `upload` tasks (shards.batch_uploads)."""
        return batch_uploads(files)

    def upload_batch(self, batch: UploadBatch) -> list[str]:
        """What one mapped `upload` task does: its files one after the other, each atomically
        and checked as `upload` does."""
        destination = destination_for(self.config.destination)
        with self.store.workspace() as ws:
            for file in batch["files"]:
                destination.upload(ws.fetch(file["path"]), file["name"])
        return [f["name"] for f in batch["files"]]

    def manifest(self, files: list[DeliveryDict]) -> Manifest:
        """The delivery's manifest: each file with its rows per raw event name (the files' XCom
        rows carry staging keys; the names come back from staging here)."""
        names = self.event_names() if files else {}
        keys = sorted({key for f in files for key in f["events"]})
        with self.store.workspace() as ws:  # what each event's format recorded, fetched at once

            def recorded(key: str) -> Path | None:  # None: formatted before this version
                return _fetch_if_staged(ws, f"{self.prefix}/format/{key}/{schema.EVENT_FILE}")

            with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
                staged = list(pool.map(recorded, keys))
            events = {
                names[k]: schema.EventColumns.from_json(p.read_text())
                for k, p in zip(keys, staged, strict=True)
                if p is not None
            }
        public = []
        for f in files:
            entry = {k: v for k, v in f.items() if k not in ("path", "events", "members")}
            entry["events"] = {names[key]: rows for key, rows in f["events"].items()}
            if f.get("members"):  # a zip: which raw event each member holds
                entry["members"] = {m: names[key] for m, key in sorted(f["members"].items())}
            public.append(entry)
        window = self.window
        return Manifest(
            self.config.client_id,
            self.config.export_id,
            self.request_id,
            self.config.destination.location,
            self.day,
            window.start.isoformat(),
            window.end.isoformat(),
            public,
            schema.Delivery(self.config.schema_, events, self.schema_base),
        )

    def validate(self, files: list[DeliveryDict]) -> dict:
        """Check every file against the destination and the lake, then publish the manifest.

        Only checksums computed over the content need the files back from staging (a download
        with staging on object storage): GCS's MD5 or CRC32C and Azure's MD5 always, so they are
        fetched ahead in parallel; S3's only for a file sent in parts or to a store without
        SHA-256 checksums, so each is fetched if asked for; the other destinations compare sizes
        or read their own.
        """
        with self.store.workspace() as ws:
            if self.config.destination.type in ("gcs", "azure"):  # MD5 over the content
                ws.fetch_all([f["path"] for f in files])
                return self._validate(ws, files, lambda f: ws.path(f["path"]))
            return self._validate(ws, files, lambda f: ws.fetch(f["path"]))

    def _validate(
        self, ws: Workspace, files: list[DeliveryDict], local: Callable[[DeliveryDict], Path]
    ) -> dict:
        destination = destination_for(self.config.destination)
        problems = destination.verify_all(files, local)
        manifest = self.manifest(files)
        source = lake_uri(self.config.source)
        if self.profiles:
            expected = {PROFILES_PART: count_profiles(source, self.day)}
        else:
            expected = count_window(source, self.window, self.events)
        if manifest.rows_per_event != expected:
            delivered = {naming.event_label(e): n for e, n in manifest.rows_per_event.items()}
            held = {naming.event_label(e): n for e, n in expected.items()}
            problems.append(
                f"row counts differ from the lake: delivered {delivered}, lake holds {held}"
            )
        if problems:
            raise VerificationError("; ".join(problems))
        name = self.naming_profile.manifest_name(files)
        local = ws.path(self.prefix) / name
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(manifest.to_json())
        destination.upload(local, name)
        record = manifest.schema.record(self.covered.key, self.request_id)
        return {**manifest.summary(name), "schema_record": record}

    def release_staging(self) -> str:
        """After `validate` passed: remove the run's staging, or keep it (EES_STAGING_KEEP_DAYS)."""
        return staging_cleanup.release(self.store, self.prefix)


def _fetch_if_staged(ws: Workspace, key: str) -> Path | None:
    """The staged file fetched, or None when it was never staged (a run staged by an earlier
    version); any other failure is raised."""
    try:
        return ws.fetch(key)
    except Exception as exc:
        if _not_staged(exc):
            return None
        raise


def _not_staged(exc: Exception) -> bool:
    """A staged file that is not there: local staging's FileNotFoundError, S3's 404."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return isinstance(exc, FileNotFoundError) or code in ("404", "NoSuchKey")


def run_export(config: ExportConfig, day: date, base: schema.Base | None = None) -> dict:
    """All stages in this process, in order: for the benchmark and tests without a scheduler.
    The staging stays for the caller to measure (a DAG run releases it after `validate`);
    `base`: the previous delivery's schema (schema.base_of its `schema_record`)."""
    run = ExportRun(config, day)
    extracted = run.extract(base)
    shards = run.split(extracted)
    pa.default_memory_pool().release_unused()  # as if each stage had its own process
    formatted = run.format_shards(shards)
    pa.default_memory_pool().release_unused()
    files = run.package(formatted)
    for batch in run.upload_batches(files):
        run.upload_batch(batch)
    return run.validate(files)


def _part_rows(part: Part) -> int:
    return part["stop"] - part["start"] if "start" in part else part["rows"]
