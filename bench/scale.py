"""`make bench-scale`: `make bench` at several sizes, to show that the cost per event is flat.

Runs bench/bench.py once per size (default 1 M, 3 M, 10 M events, each in its own work folder
under `--workdir`) and prints, per size, the daily zip's CPU and wall microseconds per event, its
ratios to DuckDB, the staged bytes per event, the highest peak memory of a stage and the load
average from its first measure to its end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="make bench at several sizes")
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench")
    parser.add_argument("--distinct", type=float, default=0.95)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        out = args.workdir / f"scale-{n}.json"
        command = [sys.executable, str(REPO / "bench" / "bench.py"), "--events", str(n)]
        command += ["--workdir", str(args.workdir), "--out", str(out)]
        subprocess.run([*command, "--distinct", str(args.distinct)], check=True)
        rows.append(json.loads(out.read_text()))
    print(f"\n{'events':>12} {'CPU µs/ev':>10} {'wall µs/ev':>11} {'vs DuckDB':>10} "
          f"{'CPU vs':>7} {'staged B/ev':>12} {'peak MB':>8} {'load':>10}")  # fmt: skip
    for r in rows:
        s, n = r["summary"], r["summary"]["rows"]
        cpu, wall = s["core_cpu_seconds"] / n * 1e6, s["core_seconds"] / n * 1e6
        # the 1-minute load average as extract started and as the size's run ended
        load = f"{r['stages']['extract']['load_at_start']:.1f}-{r['machine']['load_at_end']:.1f}"
        print(
            f"{n:>12,} {cpu:>10.2f} {wall:>11.2f}"
            f" {s['core_ratio'] or 0:>10.2f} {s['core_cpu_ratio'] or 0:>7.2f}"
            f" {s['staged_mb_per_million']:>12,.0f} {s['peak_mb']:>8.0f} {load:>10}"
        )


if __name__ == "__main__":
    main()
