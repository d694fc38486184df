"""One-off: wall time of one daily-zip export run on one machine's executors, from trigger to
success: LocalExecutor (one local worker) versus CeleryExecutor with two Celery workers.

Both stacks are tests/stack.py's (real scheduler, dag-processor, api-server; Celery on a fresh
PostgreSQL database and Redis db 13), so run it where the tests run. Importing tests/conftest
sets the isolated AIRFLOW_HOME first. Usage:
    .venv/bin/python bench/scale_out.py LAKE   # a lake from `python -m event_export.generator`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import METADATA_DB, drop_database, free_port
from event_export.pipeline.lake import has_events
from stack import start_stack, wait_until

DAY = date(2026, 11, 1)
TZ = ZoneInfo("Asia/Kolkata")


class _Tmp:
    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"ees-scale-{name}-"))


def time_run(lake: Path, celery_workers: int) -> float:
    client = Path(tempfile.mkdtemp(prefix="ees-scale-client-"))
    config = (
        f"client_id: acme\nexport_id: scale\nsource: {lake}\nschedule: {{timezone: {TZ.key}}}\n"
        "destination: {type: local, conn_id: scale_local}\n"
    )
    env = {
        "AIRFLOW_CONN_SCALE_LOCAL": json.dumps({"conn_type": "fs", "extra": {"path": str(client)}}),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "EES_DEADLINE_ALERTS": "off",
    }
    smtp = SimpleNamespace(port=free_port())  # nothing is emailed: alerts off, the run succeeds
    stack_gen = start_stack(_Tmp(), smtp, {"scale": config}, env, celery_workers)
    stack = next(stack_gen)
    try:
        api = stack.api()
        stack.wait_for_dag("export_scale")
        api.set_paused("export_scale", False)
        logical = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), TZ)
        started = time.monotonic()
        run_id = api.trigger("export_scale", logical.isoformat())["dag_run_id"]
        run = wait_until(
            lambda: [r for r in api.latest_runs("export_scale") if r["dag_run_id"] == run_id],
            1800,
            "the run finished",
            every=0.5,
        )[0]
        elapsed = time.monotonic() - started
        assert run["state"] == "success", run
        return elapsed
    finally:
        stack_gen.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="One export run: LocalExecutor, 2 Celery workers.")
    parser.add_argument("lake", type=Path, help="a lake from `python -m event_export.generator`")
    lake = parser.parse_args().lake.resolve()
    if not has_events(str(lake)):
        raise SystemExit(f"scale_out.py: no lake at {lake} (its events/ folder is missing)")
    try:
        for label, workers in (("LocalExecutor", 0), ("2 Celery workers", 2)):
            print(f"{label}: {time_run(lake, workers):.1f} s from trigger to success", flush=True)
    finally:
        if METADATA_DB.startswith("postgresql"):
            drop_database(METADATA_DB)


if __name__ == "__main__":
    main()
