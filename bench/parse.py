"""Time the dag-processor's parse of the export DAG files at N generated configs.

Why: Airflow parses each DAG file in a process of its own and gives up after
`[core] dagbag_import_timeout` (30 s), marking every DAG of that file as broken. This measures,
per file and in a fresh Python process each (as the dag-processor does; Airflow itself is
imported before the clock starts, the project's modules are not):
  - `one file`: every export built by one DAG file (the layout before sharding);
  - each shard `exports_NN.py` (the slowest one is what meets the timeout);
  - `export_config_errors.py` (loads every config, checks each one's DAG arguments).
`--load K` runs K busy processes meanwhile, to see a loaded machine.

    .venv/bin/python bench/parse.py 1000 5000 [--load 2]    (or: make bench-parse)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DESTINATIONS = (
    "{type: local, conn_id: demo_local, path: c%d}",
    "{type: s3, conn_id: aws_c, bucket: bucket-%d, path: daily}",
    "{type: gcs, conn_id: gcp_c, bucket: bucket-%d}",
    "{type: sftp, conn_id: sftp_c, path: in/%d}",
    "{type: ftp, conn_id: ftp_c, ftps: true, path: up/%d}",
)
SCHEDULES = (
    "{timezone: Asia/Kolkata, deadline: '07:00'}",
    "{frequency: recurring, every_hours: 6, timezone: America/New_York}",
    "{frequency: one_time, timezone: Europe/London}",
)
KINDS = (
    "kind: all_events",
    "kind: selected_events\nevents: [add to cart, product purchase]",
    "profile: gcp_export\nformat: parquet\nchunk_size_mb: 50",
)
ONE_FILE = '"""Airflow DAG file: every export in one file."""\n' + (
    "from event_export.orchestration.factory import build_all\nglobals().update(build_all())\n"
)
PARSE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
start, cpu = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=sys.argv[1])
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
first = next(iter(bag.import_errors.values()), "").splitlines()[:1]
print(json.dumps({"s": elapsed, "cpu_s": cpu, "dags": len(bag.dag_ids),
                  "errors": len(bag.import_errors), "first_error": first[0][:80] if first else ""}))
"""


def write_configs(folder: Path, n: int) -> None:
    """N valid configs of every destination, schedule and kind, deterministic."""
    for i in range(n):
        export_id = f"client{i:05d}_export"
        text = (
            f"client_id: client{i:05d}\nexport_id: {export_id}\n{KINDS[i % len(KINDS)]}\n"
            f"schedule: {SCHEDULES[i % len(SCHEDULES)]}\n"
            f"destination: {DESTINATIONS[i % len(DESTINATIONS)] % i}\n"
            "notify: {failure_emails: [ops@client.example]}\n"
        )
        (folder / f"{export_id}.yaml").write_text(text)


def parse_file(dag_file: Path, exports: Path) -> dict:
    env = os.environ | {"EES_EXPORTS_DIR": str(exports)}
    env.pop("AIRFLOW_CTX_DAG_ID", None)  # a full parse, as the dag-processor's
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(dag_file)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _busy() -> None:  # pragma: no cover - load generator
    while True:
        pass


def measure(n: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        exports, single = Path(tmp) / "exports", Path(tmp) / "one"
        exports.mkdir()
        single.mkdir()
        write_configs(exports, n)
        (single / "exports_all.py").write_text(ONE_FILE)
        files = [single / "exports_all.py"]
        files += sorted((REPO / "dags").glob("exports_[0-9][0-9].py"))
        files.append(REPO / "dags" / "export_config_errors.py")
        for dag_file in files:
            result = parse_file(dag_file, exports)
            name = "one file (all exports)" if dag_file.parent == single else dag_file.name
            rows.append({"configs": n, "file": name, **result})
            print(
                f"{n:>7} {name:<24} {result['s']:>8.2f} s {result['cpu_s']:>7.2f} CPU-s "
                f"{result['dags']:>6} DAGs "
                f"{1000 * result['s'] / (result['dags'] or n):>7.2f} ms per config read"
                + (f"  IMPORT ERROR ({result['first_error']})" if result["errors"] else ""),
                flush=True,
            )
        shards = [r for r in rows if r["file"].startswith("exports_")]
        slowest = max(shards, key=lambda r: r["s"])
        total, cpu = sum(r["s"] for r in shards), sum(r["cpu_s"] for r in shards)
        print(
            f"{n:>7} shards: slowest {slowest['file']} {slowest['s']:.2f} s, all "
            f"{len(shards)} files {total:.2f} s, {cpu:.2f} CPU-s, "
            f"{sum(r['dags'] for r in shards)} DAGs",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 5000])
    parser.add_argument("--load", type=int, default=0, help="busy processes meanwhile")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for proc in busy:
        proc.start()
    try:
        load = os.getloadavg()[0]
        print(f"load average {load:.1f}, {args.load} busy process(es) added")
        started = time.perf_counter()
        rows = [row for n in args.counts for row in measure(n)]
        print(f"done in {time.perf_counter() - started:.0f} s")
    finally:
        for proc in busy:
            proc.terminate()
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
