"""What OpenPGP encryption (config `encrypt`) costs per delivery, in time and bytes (not a test).

    .venv/bin/python bench/encrypt.py [--events 200000 1000000] [--work .bench/encrypt]

For each size: generates a day (Asia/Kolkata), runs the daily zip and a gcp_export day (JSON
lines, 100 MB chunks) through extract, split, format and package unencrypted (not timed), then
times `encrypt_deliveries` over the packaged files as the `chunk` task runs it (a throw-away key
of ed25519 + cv25519, no passphrase; key import included, Airflow's connection code already
imported as in a task), and, for comparison, gpg with its default compression (zlib, level 6) on
the same files, one at a time (what `--compress-algo none` saves; gpg itself skips compressing
an input it recognises as compressed, such as a zip). Prints a JSON
line per case; run it under `flock /tmp/ees-heavy.lock` and note `uptime` beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # pgp_keys: the tests' throw-away key maker

TZ = "Asia/Kolkata"
DAY = date(2026, 11, 1)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _plain_files(config, work: Path):
    """The run's files to deliver, packaged without encryption (not timed)."""
    from event_export.pipeline.run import ExportRun

    run = ExportRun(config, DAY)
    files = run.package(run.format_shards(run.split(run.extract())))
    return run, files


def _gpg_zlib(ring, source: Path, target: Path) -> None:
    from event_export.pipeline.encrypt import _gpg

    recipients = [a for f in ring.key.fingerprints for a in ("--recipient", f)]
    subprocess.run(
        [
            *_gpg(ring.home, "--trust-model", "always", "--encrypt", *recipients),
            *("--output", str(target), "--yes", str(source)),
        ],
        check=True,
    )


def measure(events: int, work: Path, profile: str) -> dict:
    from zoneinfo import ZoneInfo

    from event_export.config.model import ExportConfig
    from event_export.generator import write_window
    from event_export.pipeline import encrypt
    from event_export.scheduling.windows import day_window
    from pgp_keys import make_key, set_key_connection

    lake = work / f"lake-{events}"
    if not (lake / "COMPLETE").exists():
        shutil.rmtree(lake, ignore_errors=True)
        write_window(lake, day_window(DAY, ZoneInfo(TZ)), events)
        (lake / "COMPLETE").write_text("ok\n")
    keys = work / "gnupg"
    shutil.rmtree(keys, ignore_errors=True)
    keys.mkdir(parents=True)
    pair = make_key(keys, "client")
    set_key_connection("bench_pgp", pair.public)
    os.environ["AIRFLOW_CONN_BENCH_LOCAL"] = json.dumps(
        {"conn_type": "fs", "extra": {"path": str(work / "delivered")}}
    )
    fields = {"profile": "gcp_export", "format": "json"} if profile == "gcp_export" else {}
    config = ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": f"bench_pgp_{profile}",
            "source": str(lake),
            "schedule": {"timezone": TZ},
            "destination": {"type": "local", "conn_id": "bench_local"},
            **fields,
        }
    )
    run, files = _plain_files(config, work)
    plain_bytes = sum(f["size"] for f in files)
    encrypt.check_key("bench_pgp")  # Airflow's connection code imported, as in a running task
    out = work / "encrypted"
    with run.store.workspace() as ws:
        started = time.perf_counter()
        cpu = os.times()
        sealed = encrypt.encrypt_deliveries(ws, files, "bench_pgp", ws.path(run.prefix) / "pgp")
        seconds = time.perf_counter() - started
        after = os.times()
        child_cpu = (after.children_user + after.children_system) - (
            cpu.children_user + cpu.children_system
        )
        with encrypt.keyring("bench_pgp") as ring:
            started = time.perf_counter()
            zlib_bytes = 0
            for i, f in enumerate(files):
                target = out / f"{i}.pgp"
                target.parent.mkdir(parents=True, exist_ok=True)
                _gpg_zlib(ring, ws.fetch(f["path"]), target)
                zlib_bytes += target.stat().st_size
            zlib_seconds = time.perf_counter() - started
    pair.stop_agent()
    shutil.rmtree(out, ignore_errors=True)
    encrypted_bytes = sum(f["size"] for f in sealed)
    return {
        "profile": profile,
        "events": events,
        "files": len(files),
        "plain_bytes": plain_bytes,
        "encrypted_bytes": encrypted_bytes,
        "overhead_bytes": encrypted_bytes - plain_bytes,
        "encrypt_seconds": round(seconds, 2),
        "gpg_cpu_seconds": round(child_cpu, 2),
        "mb_per_s": round(plain_bytes / 1e6 / seconds, 1),
        "zlib_seconds": round(zlib_seconds, 2),
        "zlib_bytes": zlib_bytes,
        "load": _load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--profiles", nargs="+", default=["daily_zip", "gcp_export"])
    parser.add_argument("--work", type=Path, default=REPO / ".bench" / "encrypt")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("EES_STAGING_DIR", str(args.work / "staging"))
    for events in args.events:
        for profile in args.profiles:
            print(json.dumps(measure(events, args.work, profile)), flush=True)


if __name__ == "__main__":
    main()
