"""Staging does not grow forever: a validated run's files go at once, a failed run's after a week.

A run's staging (`<export_id>/<period>/`: the extract, the per-event parts, the formatted files,
the zip) is about 20 times the delivered zip, so it must not outlive its use:

- When a run validates, its prefix is removed (`release`), unless `EES_STAGING_KEEP_DAYS` > 0
  keeps it for debugging: then a `_validated` marker is written and the sweep removes it once the
  marker is that many days old.
- A run that failed keeps its staging, so clearing the failed task (upload, validate) retries from
  the staged files without re-reading the lake. The sweep removes it once nothing in it has changed
  for `EES_STAGING_MAX_AGE_DAYS` (default 7) days; a successful rerun of the period replaces it
  first (the extract clears the prefix).
- The sweep runs at the start of an export run (its extract task), over the whole staging area,
  so an export that no longer runs (stopped) is swept by the others; a host sweeps at most every
  `SWEEP_EVERY_S` (its stamp `.swept`): retention counts in days, and each sweep lists every
  run staged (in flight, failed, or kept by EES_STAGING_KEEP_DAYS): 1.1 CPU-s for 1,000 runs of
  124 files on local staging, 124 LIST pages on S3, which every extract paid (docs/capacity.md).

Neither step may fail a run: what they could not remove is logged and swept again later.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from event_export.pipeline.staging import VALIDATED_MARKER, StagedRun, Staging
from event_export.settings import staging_keep_days, staging_max_age_days

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 600  # a host's sweeps at least this far apart
SWEPT = ".swept"  # in the store's host folder: its mtime is this host's last sweep


@dataclass(frozen=True)
class Retention:
    keep_days: float
    max_age_days: float

    @classmethod
    def from_settings(cls) -> Retention:
        return cls(staging_keep_days(), staging_max_age_days())

    def expired(self, run: StagedRun, now: datetime) -> bool:
        """A validated run after `keep_days` from its marker; any other after `max_age_days`
        without a change (a run still in progress writes files, so it is never that old)."""
        if run.validated_at is not None:
            return now - run.validated_at > timedelta(days=self.keep_days)
        return now - run.changed > timedelta(days=self.max_age_days)


def release(store: Staging, prefix: str, retention: Retention | None = None) -> str:
    """After a run validated: remove its staging, or mark it kept. Returns what was done."""
    retention = retention or Retention.from_settings()
    try:
        if retention.keep_days > 0:
            store.put_text(f"{prefix}/{VALIDATED_MARKER}", datetime.now(UTC).isoformat())
            store.forget(prefix)
            log.info(
                "Staging of %s kept %g days (EES_STAGING_KEEP_DAYS)", prefix, retention.keep_days
            )
            return "kept"
        store.clear(prefix)
    except Exception:  # delivered and validated: a staging hiccup must not fail the run
        log.warning(
            "Could not release staging %s/%s; the sweep removes it later",
            store.location,
            prefix,
            exc_info=True,
        )
        return "left"
    log.info("Removed the staging of validated run %s/%s", store.location, prefix)
    return "removed"


def sweep(
    store: Staging, now: datetime | None = None, retention: Retention | None = None
) -> list[str]:
    """Remove every run's staging past its retention; the prefixes removed."""
    now = now or datetime.now(UTC)
    retention = retention or Retention.from_settings()
    removed = []
    try:
        runs = store.runs()
    except Exception:
        log.warning("Could not list staging %s to sweep it", store.location, exc_info=True)
        return removed
    for run in runs:
        if not retention.expired(run, now):
            continue
        try:
            store.clear(run.prefix)
        except Exception:
            log.warning(
                "Could not remove aged staging %s/%s", store.location, run.prefix, exc_info=True
            )
            continue
        kind = "validated" if run.validated_at else "unvalidated"
        log.info(
            "Removed aged %s staging %s/%s (%d bytes)", kind, store.location, run.prefix, run.size
        )
        removed.append(run.prefix)
    return removed


def sweep_if_due(store: Staging, every_s: float = SWEEP_EVERY_S) -> list[str] | None:
    """`sweep` when this host last swept `every_s` ago or longer (or never); else None. Two
    tasks that start together may both sweep: harmless, as each removal is."""
    stamp = store.host_dir / SWEPT
    try:
        if time.time() - stamp.stat().st_mtime < every_s:
            return None
    except FileNotFoundError:
        pass
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
    except OSError:
        log.warning("Could not stamp %s; sweeping anyway", stamp, exc_info=True)
    return sweep(store)


def describe_left(store: Staging) -> list[str]:
    """What staging holds now, one line per run and a total in bytes (`make demo` prints it)."""
    runs = store.runs()
    total = sum(r.size for r in runs)
    lines = [f"staging left: {total:,} bytes in {store.location} ({len(runs)} runs)"]
    for run in runs:
        state = "validated, kept" if run.validated_at else "not validated (failed or running)"
        lines.append(f"  {run.prefix}: {run.size:,} bytes, {state}")
    return lines
