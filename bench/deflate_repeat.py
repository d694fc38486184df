"""Issue 19.7's detector: does a deflate level give the same bytes for the same block every time,
inside a real export run?

Why this shape: outside an export (one process deflating the same blocks in a loop, on threads,
under heap churn or CPU load) ISA-L level 1 always gave the same bytes, yet CI saw a rerun's zip
differ. Inside `run_export`, with the process's allocator replaced by AddressSanitizer's
(LD_PRELOAD, which changes memory reuse and timing), level 1 sometimes deflates the very same
`bytes` object, with the same empty dictionary, one to three bytes longer: the CRC and the CSV are
the same, the dynamic Huffman header differs. This script runs a generated Asia/Kolkata day
(6,000 events, 40 members; `--events` for more, whose members span several 1 MiB blocks)
through `run_export` again and again, and every block `DeflateWriter`
deflates is also deflated `--repeats` times at each `--levels` by fresh compressors on the same
thread; it counts the deflations whose bytes differ from that block's first at that level.

It re-runs itself under libasan (gcc's; `make setup` installs gcc). Usage:
    .venv/bin/python bench/deflate_repeat.py [--runs 60] [--repeats 8] [--levels 1 2 3] [--events N]
        [--out counts.json]
Measured here (docs/performance.md, "Byte-identical reruns"): level 1 differs in none to about 90
deflations per ten thousand from one trial to the next, levels 2 and 3 in none.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]


def child(runs: int, repeats: int, levels: list[int], events: int, out: str | None) -> None:
    import event_export.pipeline.deflate as deflate
    from event_export.config.model import ExportConfig
    from event_export.generator import write_window
    from event_export.pipeline.run import run_export
    from event_export.scheduling.windows import day_window
    from isal import isal_zlib

    first: dict[tuple[int, str, bytes], bytes] = {}
    counts = {level: [0, 0] for level in levels}  # level -> [differing, deflations]
    lock = threading.Lock()
    deflate_block = deflate._Compressors.__call__

    def watched(self, block: bytes, dictionary: memoryview):
        history = bytes(dictionary)
        key = hashlib.sha256(block).hexdigest()
        for level in levels:
            for _ in range(repeats):
                compressor = isal_zlib._ParallelCompress(
                    buffersize=2 * len(block) + 500, level=level
                )
                out = compressor.compress_and_crc(block, history)[0]
                with lock:
                    counts[level][1] += 1
                    if first.setdefault((level, key, history), out) != out:
                        counts[level][0] += 1
        return deflate_block(self, block, dictionary)

    deflate._Compressors.__call__ = watched
    day = date(2026, 11, 1)
    with tempfile.TemporaryDirectory(prefix="deflate-repeat-") as root:
        write_window(Path(root, "lake"), day_window(day, ZoneInfo("Asia/Kolkata")), events)
        client = Path(root, "client")
        client.mkdir()
        connection = {"conn_type": "fs", "extra": {"path": str(client)}}
        os.environ["AIRFLOW_CONN_REPEAT_LOCAL"] = json.dumps(connection)
        config = ExportConfig.model_validate(
            {
                "client_id": "acme",
                "export_id": "repeat_acme",
                "source": str(Path(root, "lake")),
                "schedule": {"timezone": "Asia/Kolkata"},
                "destination": {"type": "local", "conn_id": "repeat_local", "path": "out"},
            }
        )
        zips = set()
        for _ in range(runs):
            run_export(config, day)
            zips.add(hashlib.sha256((client / "out" / "acme_01112026.zip").read_bytes()).digest())
    for level, (differing, total) in counts.items():
        print(f"level {level}: {differing} of {total:,} deflations differ from the block's first")
    print(f"delivered zips over {runs} runs: {len(zips)} distinct")
    if out:
        counts_out = {
            str(level): {"differing": d, "deflations": t} for level, (d, t) in counts.items()
        }
        Path(out).write_text(json.dumps({"levels": counts_out, "distinct_zips": len(zips)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--levels", nargs="*", type=int, default=[1, 2, 3])
    parser.add_argument("--events", type=int, default=6_000, help="the day's events")
    parser.add_argument("--out", help="also write the counts to this JSON file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.runs, args.repeats, args.levels, args.events, args.out)
        return
    found = sorted(glob.glob("/usr/lib/gcc/*/*/libasan.so"))
    if not found:
        raise SystemExit("deflate_repeat: libasan.so not found (gcc's; make setup installs gcc)")
    env = {
        **os.environ,
        "LD_PRELOAD": found[-1],
        "ASAN_OPTIONS": "detect_leaks=0",
        "PYTHONPATH": str(REPO / "include"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    command = [sys.executable, __file__, "--child", "--runs", str(args.runs)]
    command += ["--repeats", str(args.repeats), "--events", str(args.events)]
    command += ["--levels", *map(str, args.levels)]
    if args.out:
        command += ["--out", args.out]
    subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
