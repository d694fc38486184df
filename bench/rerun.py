"""Issue 19.7: does a rerun of the same daily zip give the same bytes? Run it K times and compare.

The case of the issue: America/New_York, 2026-11-01 (a 25-hour day), three selected events of
about 86,000 rows in all. Each run is `run_export` in a fresh process (as a retried task runs in a
new process), alternating format's thread count setting with nothing (the zip's bytes must not
depend on it); runs go on while the machine is as busy as it is. Prints, per run, the zip's size
and SHA-256 and each member's compressed size; exits 1 when two runs differ. Usage:
    .venv/bin/python bench/rerun.py [--runs 8] [--events 300000] [--workdir .bench/rerun]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
DAY, TIMEZONE, TARGET_ROWS = date(2026, 11, 1), "America/New_York", 86_000

ONE_RUN = """
import json, sys
from datetime import date
from event_export.config.model import ExportConfig
from event_export.pipeline.run import run_export
config = ExportConfig.model_validate(json.loads(sys.argv[1]))
run_export(config, date.fromisoformat(sys.argv[2]))
"""


def pick_events(lake: Path) -> tuple[list[str], int]:
    """Three events whose rows add up closest to the issue's 86,000 (of the day's window)."""
    import duckdb
    from event_export.pipeline.lake import partition_files
    from event_export.scheduling.windows import day_window

    window = day_window(DAY, ZoneInfo(TIMEZONE))
    files = [path for _, path in partition_files(str(lake), window)]
    counts = (
        duckdb.connect()
        .execute(
            "SELECT event_name, count(*) FROM read_parquet($files) "
            "WHERE ts >= $start AND ts < $end GROUP BY event_name ORDER BY 2 DESC, 1",
            {"files": files, "start": window.start, "end": window.end},
        )
        .fetchall()
    )
    best = min(
        ((a, b, c) for i, a in enumerate(counts) for j, b in enumerate(counts[i + 1 :], i + 1)
         for c in counts[j + 1 :]),
        key=lambda trio: abs(sum(n for _, n in trio) - TARGET_ROWS),
    )  # fmt: skip
    return [name for name, _ in best], sum(n for _, n in best)


def main() -> None:
    parser = argparse.ArgumentParser(description="rerun one daily zip and compare the bytes")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--events", type=int, default=300_000, help="events in the generated day")
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench" / "rerun")
    args = parser.parse_args()
    from event_export.generator import write_window
    from event_export.scheduling.windows import day_window

    work = args.workdir.resolve()
    lake = work / f"lake-{args.events}"
    if not (lake / "COMPLETE").exists():
        write_window(lake, day_window(DAY, ZoneInfo(TIMEZONE)), args.events)
        (lake / "COMPLETE").write_text("ok\n")
    events, rows = pick_events(lake)
    print(f"rerun: {events} ({rows:,} rows), {TIMEZONE} {DAY}", flush=True)
    config = {
        "client_id": "rerun",
        "export_id": "rerun_daily",
        "kind": "selected_events",
        "events": events,
        "source": str(lake),
        "schedule": {"timezone": TIMEZONE},
        "destination": {"type": "local", "conn_id": "rerun_local", "path": "out"},
    }
    env = {
        **os.environ,
        "EES_STAGING_DIR": str(work / "staging"),
        "AIRFLOW_CONN_RERUN_LOCAL": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(work / "delivered")}}
        ),
    }
    (work / "delivered").mkdir(parents=True, exist_ok=True)
    seen: dict[str, int] = {}
    for i in range(args.runs):
        subprocess.run(
            [sys.executable, "-c", ONE_RUN, json.dumps(config), DAY.isoformat()],
            env=env, check=True,
        )  # fmt: skip
        target = work / "delivered" / "out" / "rerun_01112026.zip"
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        with zipfile.ZipFile(target) as zf:
            sizes = [(info.filename, info.compress_size, info.CRC) for info in zf.infolist()]
        seen[digest] = seen.get(digest, 0) + 1
        print(f"run {i + 1}: {target.stat().st_size:,} bytes sha256 {digest[:16]} {sizes}")
    print(f"rerun: {len(seen)} distinct zip(s) in {args.runs} runs: {seen}")
    raise SystemExit(0 if len(seen) == 1 else 1)


if __name__ == "__main__":
    main()
