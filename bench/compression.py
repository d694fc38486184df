"""What gcp_export's `compression` costs per delivery, in time and bytes (not a test).

    flock /tmp/ees-heavy.lock .venv/bin/python bench/compression.py [--events 200000]

Generates one Asia/Kolkata day of events, then delivers it with `run_export` (extract .. validate
into a local folder, the production path in one process) once per format and codec, `--repeat`
times each, in one process after a warm-up run (so imports are not timed). Reports the median
wall and CPU seconds per delivery, the delivered bytes (data files, manifest excluded) and files,
and both against the same format uncompressed. The machine is shared: `uptime` load averages are
printed before and after; compare figures of one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
TZ = "Asia/Kolkata"
DAY = date(2026, 11, 1)
CONN_ID = "bench_compress"
CASES = {
    "json": ["none", "gzip", "zstd"],
    "csv": ["none", "gzip", "zstd"],
    "xml": ["none", "gzip", "zstd"],
    "parquet": ["none", "snappy", "zstd", "gzip"],
}


def _config(fmt: str, codec: str, lake: Path, out: Path):
    from event_export.config.model import ExportConfig

    out.mkdir(parents=True, exist_ok=True)  # the connection's root must exist
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "fs", "extra": {"path": str(out)}}
    )
    return ExportConfig.model_validate(
        {
            "client_id": "bench",
            "export_id": "bench_compress",
            "source": str(lake),
            "profile": "gcp_export",
            "format": fmt,
            "compression": codec,
            "schedule": {"timezone": TZ},
            "destination": {"type": "local", "conn_id": CONN_ID, "path": "out"},
        }
    )


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / ".bench" / "compression")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (optional)")
    args = parser.parse_args()

    from event_export.generator import write_window
    from event_export.pipeline.run import run_export
    from event_export.scheduling.windows import day_window

    lake, out = args.work / "lake", args.work / "delivered"
    marker = args.work / "events.txt"
    if not marker.exists() or marker.read_text() != str(args.events):
        shutil.rmtree(args.work, ignore_errors=True)
        write_window(lake, day_window(DAY, ZoneInfo(TZ)), args.events)
        marker.write_text(str(args.events))
    os.environ.setdefault("EES_STAGING_DIR", str(args.work / "staging"))
    print(f"load before: {_load()}", flush=True)
    run_export(_config("csv", "none", lake, out), DAY)  # warm-up: imports, caches
    results = []
    for fmt, codecs in CASES.items():
        for codec in codecs:
            config = _config(fmt, codec, lake, out)
            walls, cpus = [], []
            for _ in range(args.repeat):
                shutil.rmtree(out / "out", ignore_errors=True)
                wall, cpu = time.perf_counter(), time.process_time()
                result = run_export(config, DAY)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            files = result["files"]
            results.append(
                {
                    "format": fmt,
                    "codec": codec,
                    "extension": files[0]["name"].split("-")[-1].split(".", 1)[1],
                    "files": len(files),
                    "bytes": sum(f["size"] for f in files),
                    "wall_s": statistics.median(walls),
                    "cpu_s": statistics.median(cpus),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    print(f"load after: {_load()}")
    print()
    print(f"{args.events:,} events, median of {args.repeat} deliveries each")
    print("| format | compression | files | MB delivered | vs none | wall s | CPU s | vs none |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        base = next(r for r in results if r["format"] == row["format"] and r["codec"] == "none")
        print(
            f"| {row['format']} | {row['codec']} (`.{row['extension']}`) | {row['files']} "
            f"| {row['bytes'] / 1e6:.1f} | {row['bytes'] / base['bytes']:.2f}x "
            f"| {row['wall_s']:.2f} | {row['cpu_s']:.2f} "
            f"| {row['wall_s'] / base['wall_s']:.2f}x |"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
