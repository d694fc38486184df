"""`make demo`: generate a day of events, run one export through Airflow for real, show the result.

Everything stays inside the repository's `.demo/` and `.airflow/` folders: SQLite as Airflow's
database, a generated event lake, and a local-folder destination behind an `fs` connection.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from event_export.config.model import load_config
from event_export.settings import PACKAGE_DIR

REPO = PACKAGE_DIR.parents[1]
DEMO = REPO / ".demo"
DEMO_CONFIG = REPO / "include" / "exports" / "acme_daily.yaml"


def demo_environment() -> dict[str, str]:
    """The environment of the embedded default: no server, no credentials, all under the repo."""
    delivered = DEMO / "delivered"
    delivered.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(REPO / ".airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "EES_LAKE_URI": str(DEMO / "lake"),
        "EES_STAGING_DIR": str(DEMO / "staging"),
        "EES_DEADLINE_ALERTS": "off",  # `airflow dags test` fails on deadline alerts in 3.3.2
        "AIRFLOW_CONN_DEMO_LOCAL": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(delivered)}}
        ),
    }


def _airflow(env: dict[str, str], *args: str, log: Path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("w") as out:
        done = subprocess.run([airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        sys.exit(f"`airflow {' '.join(args)}` failed (log: {log}):\n" + "\n".join(tail))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--events", type=int, default=200_000, help="events in the client-day")
    args = parser.parse_args()

    from event_export.generator import write_window
    from event_export.scheduling.windows import day_window

    config = load_config(DEMO_CONFIG)
    env = demo_environment()
    logs = DEMO / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    lake = Path(env["EES_LAKE_URI"])
    written = write_window(lake, day_window(args.day, config.tz), args.events)
    print(f"lake: {written:,} events generated around {args.day} ({config.schedule.timezone})")
    generated = time.perf_counter()

    _airflow(env, "db", "migrate", log=logs / "db-migrate.log")
    run_at = datetime.combine(args.day + timedelta(days=1), datetime.min.time(), config.tz)
    print(f"airflow dags test {config.dag_id} {run_at.isoformat()} ...")
    _airflow(env, "dags", "test", config.dag_id, run_at.isoformat(), log=logs / "dags-test.log")
    finished = time.perf_counter()

    _report(Path(json.loads(env["AIRFLOW_CONN_DEMO_LOCAL"])["extra"]["path"]), config, args.day)
    _report_staging(Path(env["EES_STAGING_DIR"]))
    print(
        f"timing: generate {generated - started:.1f} s, "
        f"airflow (migrate + run) {finished - generated:.1f} s, total {finished - started:.1f} s"
    )


def _report_staging(root: Path) -> None:
    """What the run left in staging (nothing, unless EES_STAGING_KEEP_DAYS keeps it), and where."""
    from event_export.pipeline.staging import LocalStaging
    from event_export.pipeline.staging_cleanup import describe_left

    print()
    for line in describe_left(LocalStaging(root)):
        print(line)
    stray = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    print(f"all files under {root}: {stray:,} bytes")


def _report(root: Path, config, day: date) -> None:
    from event_export.pipeline import naming

    folder = root / config.destination.path
    name = naming.daily_zip_name(config.client_id, day)
    manifest = json.loads((folder / naming.manifest_name(name)).read_text())
    archive = folder / name
    with zipfile.ZipFile(archive) as zf:
        entries = {i.filename: i.file_size for i in zf.infolist()}
    print(f"\ndelivered: {archive} ({archive.stat().st_size / 1e6:.1f} MB, {len(entries)} CSVs)")
    print(f"manifest:  {folder / naming.manifest_name(name)} (validated against the lake)")
    print(f"{'event':<28} {'rows':>10}  {'CSV MB':>7}")
    member_of = {event: member for member, event in manifest["files"][0]["members"].items()}
    for event, rows in manifest["rows_per_event"].items():
        size = entries.get(member_of.get(event, ""), 0)
        print(f"{naming.event_label(event):<28} {rows:>10,}  {size / 1e6:>7.2f}")
    print(f"{'total':<28} {manifest['total_rows']:>10,}")


if __name__ == "__main__":
    main()
