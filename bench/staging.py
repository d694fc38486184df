"""One-off: the same daily-zip export with staging in a local folder versus on S3 (moto).

Three measures per mode, each in a fresh process: `run_export` (every stage in one process; with S3
staging each stage still fetches its inputs and publishes its outputs), the same with a timer
around each stage and each staging call (where S3's extra time goes), and one real DAG run
(`dag.test()`, SQLite metadata in a temporary AIRFLOW_HOME). moto runs as its own process on
127.0.0.1 and keeps objects in memory, so its figures show the cost of the transfers on this
machine, not of a network. The `run_export` measures import Airflow's S3 provider before their
clock in every mode (about 3 CPU-s in a fresh process; a task process has Airflow loaded, and
preload imports the provider and loads the S3 client's data, `preload.warm_s3`). Usage:
    .venv/bin/python -m event_export.generator LAKE --day 2026-11-01 --timezone Asia/Kolkata \
        --events 1000000 --distinct 0.95
    .venv/bin/python bench/staging.py LAKE [--no-dag] [--rounds=N] [--modes=1,2,3] [--pin]
        [--out FILE]

S3 runs twice: with host copies (a task links what an earlier task on this host staged,
staging.py) and without (every fetch downloads, as tasks on other workers do). Each measure
prints its wall time, the CPU seconds of its own process, and moto's CPU seconds over
it (moto shares this machine's cores: what it spends a real S3 endpoint would not take from the
workers). `--pin` gives moto the last core and every measure the others, local ones included, so
the ratio shows what S3 staging costs the workers when the endpoint's CPU is not theirs.
Last it prints each S3 mode's mean `run_export` time over local's (the ratio issue 19 bounds at
1.3), and `--out` writes every measure and those ratios as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from event_export.pipeline.lake import has_events  # noqa: E402
from servers.net import free_port, wait_for_port  # noqa: E402

CONFIG = """\
client_id: bench
export_id: staging_bench
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: bench_local, path: out}}
"""
DAY = "2026-11-01"
LOGICAL = "2026-11-02T00:00:00+05:30"

WARM = """
# warm: a task process has Airflow imported already (its runner), and preload imports the S3
# provider; importing it here costs about 3 CPU-s, none of it the staging's
from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: F401
# and where S3 is in use, preload also loads the S3 client's data before the fork (warm_s3)
from event_export.preload import warm_s3
warm_s3()
"""

ONE_PROCESS = """
import sys, time
from datetime import date
from event_export.config.model import load_config
from event_export.pipeline.run import run_export
{warm}
config = load_config(__import__("pathlib").Path(sys.argv[1]))
cpu = time.process_time()
started = time.perf_counter()
run_export(config, date.fromisoformat(sys.argv[2]))
print(time.perf_counter() - started, time.process_time() - cpu)
""".replace("{warm}", WARM)

BREAKDOWN = """
import json, sys, time
from collections import defaultdict
from datetime import date
from event_export.config.model import load_config
from event_export.pipeline import staging
from event_export.pipeline.run import ExportRun, run_export
spent, calls = defaultdict(float), defaultdict(int)
def timed(owner, name, label):
    inner = getattr(owner, name)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started
            calls[label] += 1
    setattr(owner, name, wrapper)
for name in ("extract", "split", "format_all", "package", "upload", "validate"):
    timed(ExportRun, name, "stage " + name)
import botocore.client  # the S3 requests sent, by operation
sent, _call = defaultdict(int), botocore.client.BaseClient._make_api_call
def _counted(client, operation, params):
    sent[operation] += 1
    return _call(client, operation, params)
botocore.client.BaseClient._make_api_call = _counted
for name in ("fetch", "publish", "publish_folder", "clear", "keys", "runs", "put_text"):
    for cls in (staging.S3Staging, staging.LocalStaging):
        if name in vars(cls):
            timed(cls, name, "store " + name)
{warm}
config = load_config(__import__("pathlib").Path(sys.argv[1]))
cpu = time.process_time()
started = time.perf_counter()
run_export(config, date.fromisoformat(sys.argv[2]))
total = time.perf_counter() - started
cpu = time.process_time() - cpu
print(json.dumps({"total": total, "cpu": cpu, "spent": spent, "calls": calls, "sent": sent}))
""".replace("{warm}", WARM)

DAG_RUN = """
import sys, time
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags["export_staging_bench"]
started = time.perf_counter()
state = dag.test(logical_date=datetime.fromisoformat(sys.argv[2])).state
assert state == "success", state
print(time.perf_counter() - started)
"""


def _floats(code: str, args: list[str], env: dict) -> list[float]:
    return [float(x) for x in _last_line(code, args, env).split()]


MEASURE_CPUS: set[int] | None = None  # --pin: the measures' cores (moto has the last one)


def _last_line(code: str, args: list[str], env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=(lambda: os.sched_setaffinity(0, MEASURE_CPUS)) if MEASURE_CPUS else None,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return done.stdout.strip().splitlines()[-1]


def _distinctness(lake: Path) -> dict:
    """The lake's distinct payloads in the measured day, as `make bench` counts them (its
    `payload_distinctness`): realistic days have about 95% (`--distinct 0.95`), the generator's
    default (`--distinct 0`) about 2%."""
    spec = importlib.util.spec_from_file_location("ees_bench", REPO / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.payload_distinctness(lake, date.fromisoformat(DAY), "Asia/Kolkata")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="A 1 M-event daily zip with staging in a local folder, then on S3 (moto)."
    )
    parser.add_argument("lake", type=Path, help="a lake from event_export.generator (usage above)")
    parser.add_argument("--no-dag", action="store_true", help="leave out the DAG run (dag.test)")
    parser.add_argument("--rounds", type=int, default=1, help="every mode this many times")
    parser.add_argument(
        "--modes",
        default="1,2,3",
        help="by position: 1 local, 2 S3 with host copies, 3 S3 without (default: all)",
    )
    parser.add_argument("--pin", action="store_true", help="moto on the last core, measures not")
    parser.add_argument("--out", type=Path, help="every measure and the ratios, as JSON")
    return parser.parse_args()


def ratios(results: dict[str, list[dict]]) -> dict[str, float]:
    """Each S3 mode's mean `run_export` wall time over the local mode's (none without it)."""

    def mean(label: str) -> float:
        times = [r["run_export_s"] for r in results[label]]
        return sum(times) / len(times)

    if "local" not in results:
        return {}
    return {label: round(mean(label) / mean("local"), 2) for label in results if label != "local"}


def main() -> None:
    args = _arguments()
    lake = args.lake.resolve()
    if not has_events(str(lake)):
        raise SystemExit(f"staging.py: no lake at {lake} (generate one: see the usage above)")
    found = _distinctness(lake)
    print(
        f"lake: {found['rows']:,} events on {DAY}, {found['distinct_payloads']:,} distinct "
        f"payloads ({found['ratio']:.1%})"
    )
    with_dag = not args.no_dag
    work = Path(tempfile.mkdtemp(prefix="ees-staging-bench-"))
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        if args.pin:  # the endpoint on a core of its own, as a real S3 would be
            global MEASURE_CPUS
            cores = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(moto.pid, {cores[-1]})
            MEASURE_CPUS = set(cores[:-1])
            print(f"pinned: measures on cores {sorted(MEASURE_CPUS)}, moto on {cores[-1]}")
        endpoint = f"http://127.0.0.1:{port}"
        exports = work / "exports"
        exports.mkdir()
        (work / "client").mkdir()
        (exports / "staging_bench.yaml").write_text(CONFIG.format(lake=lake))
        home = work / "airflow"
        base = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "EES_DEADLINE_ALERTS": "off",
            "EES_EXPORTS_DIR": str(exports),
            "EES_STAGING_DIR": str(work / "staging"),
            "AIRFLOW_CONN_BENCH_LOCAL": json.dumps(
                {"conn_type": "fs", "extra": {"path": str(work / "client")}}
            ),
            "AIRFLOW_CONN_BENCH_STAGING": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "bench",
                    "password": "bench",
                    "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
                }
            ),
        }
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], env=base, check=True, capture_output=True)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket="staging")
        s3 = {**base, "EES_STAGING_URI": "s3://staging/runs"}
        s3["EES_STAGING_CONN_ID"] = "bench_staging"
        s3_downloads = {**s3, "EES_STAGING_HOST_COPIES": "off"}  # every fetch downloads
        results = {}
        server = psutil.Process(moto.pid)

        def moto_cpu() -> float:
            times = server.cpu_times()
            return times.user + times.system

        modes = (("local", base), ("s3 (moto)", s3), ("s3, no host copies", s3_downloads))
        # by position: 1 local, 2 s3, 3 s3 without host copies
        modes = tuple(modes[int(n) - 1] for n in args.modes.split(","))
        for _ in range(args.rounds):
            for label, env in modes:
                shutil.rmtree(work / "staging", ignore_errors=True)
                config = str(exports / "staging_bench.yaml")
                moto_before = moto_cpu()
                one, one_cpu = _floats(ONE_PROCESS, [config, DAY], env)
                one_moto = moto_cpu() - moto_before
                shutil.rmtree(work / "staging", ignore_errors=True)
                parts = json.loads(_last_line(BREAKDOWN, [config, DAY], env))
                dag = _floats(DAG_RUN, [str(REPO / "dags"), LOGICAL], env)[0] if with_dag else None
                results.setdefault(label, []).append(
                    {
                        "run_export_s": round(one, 2),
                        "run_export_cpu_s": round(one_cpu, 2),
                        "moto_cpu_s": round(one_moto, 2),
                        "dag_test_s": round(dag, 1) if dag is not None else None,
                        "timed_run_export_s": round(parts["total"], 2),
                        "timed_run_export_cpu_s": round(parts["cpu"], 2),
                        "spent_s": {k: round(v, 2) for k, v in sorted(parts["spent"].items())},
                        "calls": parts["calls"],
                        "s3_requests": dict(sorted(parts["sent"].items())),
                    }
                )
                shown = f", DAG run (dag.test) {dag:.1f} s" if dag is not None else ""
                print(
                    f"{label}: run_export {one:.2f} s, {one_cpu:.2f} CPU-s in its process, "
                    f"moto {one_moto:.2f} CPU-s{shown}; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                print(f"{label}: where the time went {json.dumps(results[label][-1])}", flush=True)
        print(json.dumps(results))
        for label, ratio in ratios(results).items():
            print(f"{label} / local, means of run_export: {ratio:.2f} (issue 19: at most 1.3)")
        if args.out:
            args.out.write_text(json.dumps({"results": results, "ratios": ratios(results)}))
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
