"""What gcp_export's `compression` costs per delivery, in time and bytes (not a test).

    flock /tmp/ees-heavy.lock .venv/bin/python bench/compression.py [--events 200000]

Generates one Asia/Kolkata day of events (`--distinct 0.95`: that share of rows with its own
payload, as real payloads are nearly all distinct; the generator's pooled payloads would flatter
every codec), then delivers it with `run_export` (extract .. validate into a local folder, the
production path in one process) once per format and codec, `--repeat` times each, in one process
after a warm-up run (so imports are not timed). Reports the median wall and CPU seconds per
delivery, the delivered bytes (data files, manifest excluded) and files, and both against the
same format uncompressed; then the writers alone (`write_series` over every event's staged
rows, the `format` stage's work, where the codec's whole cost is) the same way. The machine is
shared: `uptime` load averages are printed before and after; compare figures of one run only.
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
    parser.add_argument("--distinct", type=float, default=0.95)
    parser.add_argument("--work", type=Path, default=REPO / ".bench" / "compression")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (optional)")
    args = parser.parse_args()

    from event_export.generator import write_window
    from event_export.pipeline.run import run_export
    from event_export.scheduling.windows import day_window

    lake, out = args.work / "lake", args.work / "delivered"
    marker, wanted = args.work / "events.txt", f"{args.events} {args.distinct:g}"
    window = day_window(DAY, ZoneInfo(TZ))
    if not marker.exists() or marker.read_text() != wanted:
        shutil.rmtree(args.work, ignore_errors=True)
        write_window(lake, window, args.events, distinct=args.distinct)
        marker.write_text(wanted)
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
    writers = _writers(lake, window, args.work, args.repeat)
    print(f"load after: {_load()}")
    print()
    print(f"{args.events:,} events (--distinct {args.distinct:g}), median of {args.repeat} each")
    print(
        "| format | compression | files | MB delivered | bytes vs none | wall s | CPU s "
        "| wall vs none |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        base = next(r for r in results if r["format"] == row["format"] and r["codec"] == "none")
        print(
            f"| {row['format']} | {row['codec']} (`.{row['extension']}`) | {row['files']} "
            f"| {row['bytes'] / 1e6:.1f} | {row['bytes'] / base['bytes']:.2f}x "
            f"| {row['wall_s']:.2f} | {row['cpu_s']:.2f} "
            f"| {row['wall_s'] / base['wall_s']:.2f}x |"
        )
    print()
    print("| writers alone | compression | MB written | wall s | CPU s | vs none (CPU) |")
    print("|---|---|---|---|---|---|")
    for row in writers:
        base = next(r for r in writers if r["format"] == row["format"] and r["codec"] == "none")
        print(
            f"| {row['format']} | {row['codec']} | {row['bytes'] / 1e6:.1f} | {row['wall_s']:.2f} "
            f"| {row['cpu_s']:.2f} | {row['cpu_s'] / base['cpu_s']:.2f}x |"
        )
    if args.out:
        args.out.write_text(json.dumps({"deliveries": results, "writers": writers}, indent=2))


def _writers(lake: Path, window, work: Path, repeat: int) -> list[dict]:
    """`write_series` over every event's staged rows per format and codec: the format stage's
    work at the default 100 MB limit, in the export's timezone."""
    from event_export.formats import EVENTS, Options, Output, write_series
    from event_export.pipeline.stages.extract import extract

    parts = extract(str(lake), window, None, work / "extract")
    options = Options(timezone=TZ)
    rows = []
    for fmt, codecs in CASES.items():
        for codec in codecs:
            walls, cpus = [], []
            for _ in range(repeat):
                shutil.rmtree(work / "written", ignore_errors=True)
                size = 0
                wall, cpu = time.perf_counter(), time.process_time()
                for index, part in enumerate(parts):
                    output = Output(work / "written" / str(index), 100_000_000, codec=codec)
                    chunks = write_series(str(part.path), fmt, EVENTS, options, output, "e")
                    size += sum(c.size for c in chunks)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            rows.append(
                {
                    "format": fmt,
                    "codec": codec,
                    "bytes": size,
                    "wall_s": statistics.median(walls),
                    "cpu_s": statistics.median(cpus),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    main()
