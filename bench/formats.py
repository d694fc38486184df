"""Throughput of each GCP export format writer on a generated day (not a test).

    .venv/bin/python bench/formats.py [--events 1000000] [--distinct 0.95] [--work .bench/formats]

Generates a day of events (the UTC day, so exactly --events rows; timestamps written in
Asia/Kolkata), extracts and splits it as the pipeline does (not timed), then times each format
writer over every event's staged file at the default 100 MB chunk size, one format per child
process so each peak memory figure is its own. A warm-up on the smallest event runs first (this
machine sets PYTHONDONTWRITEBYTECODE, so lazy imports such as pandas would cost seconds).
Rows/s counts input events; MB/s counts the bytes written (10^6 bytes per MB); CPU s is the
child's user + system time over the timed part (all its threads). `--distinct 0.95` (the default)
gives realistic payloads, nearly all distinct; `--distinct 0` the generator's pooled ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from event_export.formats import EVENTS, Options, Output, write_series
from event_export.generator import write_window
from event_export.pipeline.stages.extract import extract
from event_export.scheduling.windows import day_window

TZ = "Asia/Kolkata"
DAY = date(2026, 11, 1)
CASES = {  # name -> (format, parquet gzip, values as strings)
    "json": ("json", True, False),
    "xml": ("xml", True, False),
    "csv": ("csv", True, False),
    "parquet.gzip": ("parquet", True, False),
    "parquet": ("parquet", False, False),
    "json (as strings)": ("json", True, True),
}


def prepare(work: Path, events: int, distinct: float) -> list[dict]:
    """The day's per-event staged files, built once and reused by later runs."""
    parts_file = work / "parts.json"
    wanted = {"events": events, "distinct": distinct}
    if parts_file.exists():
        known = json.loads(parts_file.read_text())
        if {"events": known["events"], "distinct": known.get("distinct", 0.0)} == wanted:
            return known["parts"]
    shutil.rmtree(work, ignore_errors=True)
    window = day_window(DAY, ZoneInfo("UTC"))
    started = time.perf_counter()
    write_window(work / "lake", window, events, distinct=distinct)
    parts = [p.to_dict() for p in extract(str(work / "lake"), window, None, work / "extract")]
    rows = sum(p["rows"] for p in parts)
    print(f"prepared {rows:,} events in {time.perf_counter() - started:.1f} s")
    parts_file.write_text(json.dumps({**wanted, "parts": parts}))
    return parts


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_case(name: str, parts: list[dict], work: Path) -> dict:
    file_format, parquet_gzip, as_strings = CASES[name]
    out = work / "out" / name.replace(" ", "_")
    shutil.rmtree(out, ignore_errors=True)
    options = Options(timezone=TZ, values_as_strings=as_strings)
    smallest = min(parts, key=lambda p: p["rows"])
    write_series(smallest["path"], file_format, EVENTS, options, Output(out / "warm-up"), "w")
    rows = size = files = 0
    started, cpu = time.perf_counter(), time.process_time()
    for part in parts:
        output = Output(out / Path(part["path"]).stem, 100_000_000, False, parquet_gzip)
        chunks = write_series(part["path"], file_format, EVENTS, options, output, part["event"])
        for chunk in chunks:
            rows, size, files = rows + chunk.rows, size + chunk.size, files + 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = peak_rss_mb()
    digest = _digest(out)
    shutil.rmtree(out, ignore_errors=True)
    return {"case": name, "rows": rows, "bytes": size, "files": files, "seconds": seconds,
            "cpu": cpu, "peak_mb": peak_mb, "sha256": digest}  # fmt: skip


def _digest(out: Path) -> str:
    """One SHA-256 over every file written (names and bytes, in name order; not the warm-up),
    so two runs can be compared byte for byte (say, EES_PAYLOAD_SCANNER off and on)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file() and "warm-up" not in p.parts):
        digest.update(str(path.relative_to(out)).encode() + b"\0")
        with path.open("rb") as source:
            while block := source.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=float, default=0.95)
    parser.add_argument("--work", type=Path, default=Path(".bench/formats"))
    parser.add_argument("--cases", help="comma-separated cases to run (default: all)")
    parser.add_argument("--case", choices=sorted(CASES), help="run one case (in this process)")
    args = parser.parse_args()
    parts = prepare(args.work, args.events, args.distinct)
    if args.case:
        print(json.dumps(run_case(args.case, parts, args.work)))
        return
    names = args.cases.split(",") if args.cases else list(CASES)
    print("| writer | rows | files | output MB | seconds | CPU s | rows/s | MB/s | peak RSS MB "
          "| SHA-256 |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in names:
        done = subprocess.run(
            [sys.executable, __file__, "--events", str(args.events), "--work", str(args.work),
             "--distinct", str(args.distinct), "--case", name],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        r = json.loads(done.stdout.strip().splitlines()[-1])
        mb = r["bytes"] / 1e6
        print(
            f"| {name} | {r['rows']:,} | {r['files']} | {mb:,.1f} | {r['seconds']:.2f} | "
            f"{r['cpu']:.2f} | {r['rows'] / r['seconds']:,.0f} | {mb / r['seconds']:,.1f} | "
            f"{r['peak_mb']:,.0f} | {r['sha256'][:16]}… |"
        )


if __name__ == "__main__":
    main()
