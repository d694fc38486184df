"""`make bench-night`: one night of N daily exports on a real Airflow (issue 18).

A benchmark, not a timed test. It generates N export configs over real time zones (40% Asia/Kolkata,
the rest over twelve zones with a half-hour one and DST ones) with client-day sizes skewed as real
clients are (most 1-50 k events, a few of millions), a lake for them, local destinations (several
exports per client host, so the upload pools matter), then starts tests/stack.py's Airflow
(scheduler, dag-processor, triggerer, api-server on loopback, PostgreSQL; LocalExecutor or Celery
workers) and triggers each export's run as the scheduler would at its zone's midnight.

The clock is compressed by `--factor F`: export i is triggered F times sooner than real time
would, at (its zone's midnight - the night's first midnight) / F after the start, and its
deadline is 7 h / F after its trigger (the config's `deadline`, so Airflow's deadline alert and
the priority weights see the same compressed deadline). The machine is not F times faster:
the compressed night is a load F times the real one's, so a large F is the overloaded variant.
`--all-at-once` triggers every run at the start instead (the worst case).

It prints and writes (`--out`) the makespan, each export's finish against its deadline (late,
by how much, and whether the late ones are those with the latest deadlines), task instances
per export, the CPU seconds of the scheduler, dag-processor, triggerer, api-server and the tasks,
the task overhead (the tasks' CPU minus the work measured by running the same exports in one
process beforehand), the metadata database's growth, peak memory, and every deadline alert
received (by email), which must be one per late run and none for runs on time.

Usage: .venv/bin/python bench/night.py --exports 30 [--factor 60] [--celery-workers 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import METADATA_DB, _Inbox, drop_database, free_port  # noqa: E402
from stack import start_stack, wait_until  # noqa: E402

# 40% Kolkata; the rest spread over twelve zones (Adelaide: +10:30 with DST; five more DST zones)
ZONES = {
    "Asia/Kolkata": 0.40,
    **{
        zone: 0.05
        for zone in (
            "Pacific/Auckland",
            "Australia/Adelaide",
            "Asia/Tokyo",
            "Asia/Singapore",
            "Asia/Jakarta",
            "Asia/Dubai",
            "Africa/Lagos",
            "Europe/Berlin",
            "Europe/London",
            "America/Sao_Paulo",
            "America/New_York",
            "America/Los_Angeles",
        )
    },
}
# events in one client day, and the share of exports of that size
SIZES = {1_000: 0.25, 5_000: 0.30, 20_000: 0.25, 50_000: 0.15, 500_000: 0.04, 3_000_000: 0.01}
REAL_DEADLINE = timedelta(hours=7)
EXPORTS_PER_HOST = 5  # exports delivering to one client host (one upload pool)
EXPORT_ID = "night_{:04d}"


@dataclass(frozen=True)
class Planned:
    export_id: str
    zone: str
    events: int
    host: int
    offset_s: float  # trigger time after the start, compressed

    @property
    def lake_name(self) -> str:
        return f"{self.zone.replace('/', '_')}_{self.events}"


def plan(exports: int, seed: int, max_events: int | None, night: date, factor: float):
    """The night's exports: zone, size and client host each, and when each is triggered."""
    rng = np.random.default_rng(seed)
    zones = rng.choice(list(ZONES), size=exports, p=list(ZONES.values()))
    sizes = rng.choice(list(SIZES), size=exports, p=list(SIZES.values()))
    midnights = {
        z: datetime.combine(night, datetime.min.time(), ZoneInfo(z)).astimezone(UTC) for z in ZONES
    }
    first = min(midnights[z] for z in zones)
    planned = []
    for i, (zone, events) in enumerate(zip(zones.tolist(), sizes.tolist(), strict=True)):
        events = min(events, max_events) if max_events else events
        offset = (midnights[zone] - first).total_seconds() / factor
        planned.append(Planned(EXPORT_ID.format(i), zone, events, i // EXPORTS_PER_HOST, offset))
    return planned


def config_yaml(p: Planned, lake: Path, deadline: timedelta, selected: int | None) -> str:
    seconds = max(1, round(deadline.total_seconds()))
    clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    events = ""
    if selected:
        from event_export.generator import EVENT_NAMES

        events = f"kind: selected_events\nevents: {json.dumps(EVENT_NAMES[:selected])}\n"
    return (
        f"client_id: client_{p.host:03d}\nexport_id: {p.export_id}\nsource: {lake}\n"
        f"schedule: {{timezone: {p.zone}, deadline: '{clock}'}}\n"
        f"destination: {{type: local, conn_id: night_host_{p.host:03d}, path: {p.export_id}}}\n"
        f"{events}"
    )


def make_lakes(
    lakes: Path, planned: list[Planned], days: dict[str, set[date]], distinct: float
) -> float:
    """One lake per zone and size, holding each local day a run may cover; kept between runs
    (`lakes` names the payload distinctness, so lakes of two settings never mix)."""
    from event_export.generator import write_window
    from event_export.scheduling.windows import day_window

    started = time.monotonic()
    for name, (zone, events) in sorted({p.lake_name: (p.zone, p.events) for p in planned}.items()):
        for day in sorted(days[zone]):
            done = lakes / name / f".{day}.done"
            if not done.exists():
                write_window(
                    done.parent, day_window(day, ZoneInfo(zone)), events, distinct=distinct
                )
                done.touch()
    return time.monotonic() - started


STAGES = ("check_destination", "extract", "split_by_event", "format", "chunk", "upload", "validate")


def stages_once(config, day: date) -> dict[str, float]:
    """One export's stages in this process, task by task as the DAG's tasks call them (the
    task's own code, without Airflow: no XCom, no pool request): CPU seconds per task id."""
    from event_export.destinations.check import check_before_run
    from event_export.pipeline.run import ExportRun

    cpu: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    def timed(task_id: str, fn):
        before = resource.getrusage(resource.RUSAGE_SELF)
        out = fn()
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu[task_id] += after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return out

    timed("check_destination", lambda: check_before_run(config.destination, config.encrypt))
    run = ExportRun(config, day)
    extracted = timed("extract", lambda: run.extract(None))
    shards = timed("split_by_event", lambda: run.split(extracted))
    formatted = [timed("format", lambda s=s: run.format_shard(s)) for s in shards]
    batches = timed(
        "chunk", lambda: run.upload_batches(run.package([f for x in formatted for f in x]))
    )
    for batch in batches:
        timed("upload", lambda b=batch: run.upload_batch(b))
    files = [f for batch in batches for f in batch["files"]]
    timed("validate", lambda: (run.validate(files), run.release_staging()))
    return cpu


def work_cpu(
    workdir: Path,
    lakes_root: Path,
    planned: list[Planned],
    day_of: dict[str, date],
    selected,
    repeat: int = 2,
    per_size: bool = False,
) -> dict[str, dict[str, float]]:
    """CPU seconds of each zone-and-size export's stages in one process (no Airflow), per task
    id: the work a run does, without the task overhead. Warm: the process has run one export
    before, and each figure is the least of `repeat` runs (one run's figure swung by a third
    between two nights on the same lakes). `per_size`: one lake per size measured (the zone
    with the most exports of that size) and its figure taken for every zone of that size: a
    1,000-export night has about 75 zone-sizes, whose measuring alone took longer than an hour
    of the compressed night."""
    from event_export.config.model import ExportConfig

    os.environ["EES_STAGING_DIR"] = str(workdir / "work-staging")
    (workdir / "work-delivered").mkdir(exist_ok=True)
    os.environ["AIRFLOW_CONN_NIGHT_WORK"] = json.dumps(
        {"conn_type": "fs", "extra": {"path": str(workdir / "work-delivered")}}
    )

    def config_of(p: Planned) -> ExportConfig:
        text = config_yaml(p, lakes_root / p.lake_name, REAL_DEADLINE, selected)
        fields = yaml.safe_load(text)
        fields["destination"] = {"type": "local", "conn_id": "night_work", "path": p.lake_name}
        return ExportConfig.model_validate(fields)

    lakes = list({p.lake_name: p for p in planned}.values())
    # The first run in a process pays the stages' first imports (duckdb, the formats: 3-4 CPU-s
    # here), no export's work: counted, they went to every export of the first lake measured.
    warm = min(lakes, key=lambda p: p.events)
    stages_once(config_of(warm), day_of[warm.zone])
    measured = lakes_measured(planned, per_size)
    cpu = {}
    for name, p in measured.items():
        config = config_of(p)
        runs = [stages_once(config, day_of[p.zone]) for _ in range(max(1, repeat))]
        cpu[name] = min(runs, key=lambda r: sum(r.values()))
    by_size = {p.events: cpu[name] for name, p in measured.items()}
    return {p.lake_name: cpu.get(p.lake_name, by_size[p.events]) for p in lakes}


def lakes_measured(planned: list[Planned], per_size: bool) -> dict[str, Planned]:
    """The lakes whose work `work_cpu` measures: every zone-and-size, or with `per_size` one
    per day size, that of the zone with the most exports of that size (ties: the first name)."""
    lakes = {p.lake_name: p for p in planned}
    if not per_size:
        return lakes
    count: dict[str, int] = {}
    for p in planned:
        count[p.lake_name] = count.get(p.lake_name, 0) + 1
    chosen: dict[int, Planned] = {}
    for name in sorted(count, key=lambda n: (-count[n], n)):
        chosen.setdefault(lakes[name].events, lakes[name])
    return {p.lake_name: p for p in chosen.values()}


class Sampler:
    """CPU seconds per stack role and the peak of the stack's memory (sum of the processes'
    proportional set sizes, sampled every second), from /proc through psutil."""

    def __init__(self, procs: dict) -> None:
        self.procs = procs
        self.peak_pss = 0  # the stack's summed PSS
        self.peak_process = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            total = 0
            for proc in self.procs.values():
                for p in self._tree(proc.pid):
                    try:  # PSS: forked processes share pages, which RSS would count twice
                        pss = p.memory_full_info().pss
                    except psutil.Error:
                        continue
                    total += pss
                    self.peak_process = max(self.peak_process, pss)
            self.peak_pss = max(self.peak_pss, total)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def cpu(self) -> dict[str, float]:
        """CPU seconds per role: each live process's own, plus what its reaped children used.
        The scheduler's children (LocalExecutor's workers and their task processes) and the
        Celery workers count as `tasks`."""
        roles: dict[str, float] = {}
        for name, proc in self.procs.items():
            tasks = name.startswith("w") and name[1:].isdigit()
            for p in self._tree(proc.pid):
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                own_role = "tasks" if tasks or (name == "scheduler" and p.pid != proc.pid) else name
                child_role = "tasks" if tasks or name == "scheduler" else name
                roles[own_role] = roles.get(own_role, 0.0) + t.user + t.system
                reaped = t.children_user + t.children_system
                roles[child_role] = roles.get(child_role, 0.0) + reaped
        return roles

    def task_split(self) -> dict[str, float]:
        """The `tasks` role's CPU seconds by kind of process: `supervisors` (LocalExecutor's
        workers, a Celery worker's pool processes: each supervises its tasks and talks to the
        execution API) and `task_processes` (forked per task instance: DAG file parse, imports,
        the work), the latter live or reaped by their supervisor."""
        split = {"supervisors": 0.0, "task_processes": 0.0}
        for name, proc in self.procs.items():
            if not (name == "scheduler" or (name.startswith("w") and name[1:].isdigit())):
                continue
            try:
                workers = psutil.Process(proc.pid).children()
            except psutil.Error:
                continue
            for worker in workers:
                try:
                    t = worker.cpu_times()
                    live = worker.children(recursive=True)
                except psutil.Error:
                    continue
                split["supervisors"] += t.user + t.system
                split["task_processes"] += t.children_user + t.children_system
                for p in live:
                    try:
                        c = p.cpu_times()
                    except psutil.Error:
                        continue
                    split["task_processes"] += c.user + c.system
        return split


PROBE_DIR = REPO / "bench" / "task_probe"  # its airflow_local_settings: preload + the probe


def probe_summary(folder: Path, work_s: float | None = None, summary: dict | None = None) -> dict:
    """What the task processes spent, phase by phase, from the probe's files (one per task
    process, bench/task_probe): CPU seconds and minor page faults between the probe's marks,
    summed over the processes and per task instance; the messages to the supervisor by kind;
    and how the callables' CPU (our code, cold in each process) compares with `work_s`, in all
    and per task id (`summary`'s work_cpu_s_by_task)."""
    records = [json.loads(f.read_text()) for f in sorted(folder.glob("task-*.json"))]
    if not records:
        return {"task_processes": 0}
    segments: dict[str, list[float]] = {}
    faults: dict[str, int] = {}
    sends: dict[str, list[float]] = {}
    by_task: dict[str, dict] = {}
    total = after_last = callable_cpu = 0.0
    for r in records:
        marks = r["marks"]
        task = (r.get("task") or "?").split(".", 1)[-1].split("[")[0]
        mine = by_task.setdefault(task, {"n": 0, "cpu_s": 0.0, "callable_cpu_s": 0.0})
        mine["n"] += 1
        mine["cpu_s"] += r["cpu_s"]
        for (a, t0, f0), (b, t1, f1) in itertools.pairwise(marks):
            name = f"{a} .. {b}"
            segments.setdefault(name, []).append(t1 - t0)
            faults[name] = faults.get(name, 0) + (f1 - f0)
            if a == "callable>" and b == "callable<":
                callable_cpu += t1 - t0
                mine["callable_cpu_s"] += t1 - t0
        after_last += r["cpu_s"] - marks[-1][1]
        total += r["cpu_s"]
        for kind, (count, cpu_s) in r["sends"].items():
            seen = sends.setdefault(kind, [0, 0.0])
            seen[0] += count
            seen[1] += cpu_s
    n = len(records)
    imported = Counter(m for r in records for m in r.get("imported", ()))
    phases = {
        name: {
            "cpu_s_per_ti": round(sum(v) / n, 4),
            "cpu_s_median": round(statistics.median(v), 4),
            "minflt_per_ti": round(faults[name] / n),
        }
        for name, v in segments.items()
    }
    phases["(after the last mark: exit)"] = {"cpu_s_per_ti": round(after_last / n, 4)}
    return {
        "task_processes": n,
        "cpu_s": round(total, 2),
        "cpu_s_per_ti": round(total / n, 3),
        "user_s_per_ti": round(sum(r["user_s"] for r in records) / n, 3),
        "sys_s_per_ti": round(sum(r["sys_s"] for r in records) / n, 3),
        "minflt_per_ti": round(sum(r["minflt"] for r in records) / n),
        "callables_cpu_s": round(callable_cpu, 2),
        "beyond_callables_cpu_s_per_ti": round((total - callable_cpu) / n, 3),
        "callables_minus_work_cpu_s": round(callable_cpu - work_s, 2) if work_s else None,
        "gc_cpu_s_per_ti": round(sum(sum(r["gc_cpu_s"]) for r in records) / n, 4),
        "gc_runs_per_ti": [round(sum(r["gc_runs"][g] for r in records) / n, 1) for g in range(3)],
        "threads_at_exit_median": statistics.median(r["threads"] for r in records),
        "messages_per_ti": {k: round(v[0] / n, 2) for k, v in sorted(sends.items())},
        "messages_cpu_s_per_ti": round(sum(v[1] for v in sends.values()) / n, 4),
        # modules the task processes imported themselves (preload did not give them), by how
        # many task processes imported each: candidates for preload.py
        "imported_by_task_processes": dict(imported.most_common(30)),
        "phases": phases,
        # per task id, summed over its task instances: the process, our callable in it, and
        # the same stage's warm work in one process
        "by_task_id": {
            k: {
                "n": v["n"],
                "cpu_s": round(v["cpu_s"], 2),
                "callable_cpu_s": round(v["callable_cpu_s"], 2),
                "warm_work_cpu_s": (summary or {}).get("work_cpu_s_by_task", {}).get(k),
            }
            for k, v in by_task.items()
        },
    }


# the points of a task in the process that supervises it (a Celery pool process, a
# LocalExecutor worker; bench/task_probe), in their order: between two, what the slot did (the
# last socket_closed: the task process's end as the supervisor reads it; exit_seen: when it saw
# the process gone; prerun and postrun: Celery's signals, or run_workload's start and end)
POOL_POINTS = (
    "prerun",
    "run_workload>",
    "supervise_task>",
    "start>",
    "_on_child_started>",
    "_on_child_started<",
    "wait>",
    "socket_closed",
    "exit_seen",
    "update_task_state_if_needed>",
    "_upload_logs<",
    "wait<",
    "supervise_task<",
    "run_workload<",
    "postrun",
)


def pool_summary(folder: Path) -> dict:
    """What a slot (a Celery pool process, a LocalExecutor worker) did per task, from the
    probe's pool-*.jsonl (one line per task): between consecutive points (POOL_POINTS) the wall
    seconds (median, mean), the slot process's own CPU and its reaped children's (the task
    process); and the slot's idle time between one task's end and its next task's start."""
    records = [
        json.loads(line)
        for f in sorted(folder.glob("pool-*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    if not records:
        return {"tasks": 0}
    spans: dict[str, dict[str, list[float]]] = {}
    idle: list[float] = []
    last_end: dict[int, float] = {}
    for r in sorted(records, key=lambda r: r["marks"][0][1]):
        at: dict[str, tuple] = {}
        for m in r["marks"]:  # the first of each name, the last socket_closed
            if m[0] not in at or m[0] == "socket_closed":
                at[m[0]] = m
        points = [at[p] for p in POOL_POINTS if p in at]
        for a, b in itertools.pairwise(points):
            span = spans.setdefault(f"{a[0]} .. {b[0]}", {"wall": [], "cpu": [], "child": []})
            span["wall"].append(b[1] - a[1])
            span["cpu"].append(b[2] - a[2])
            span["child"].append(b[3] - a[3])
        if r["pid"] in last_end:
            idle.append(r["marks"][0][1] - last_end[r["pid"]])
        last_end[r["pid"]] = r["marks"][-1][1]
    n = len(records)
    total = [r["marks"][-1][1] - r["marks"][0][1] for r in records]
    return {
        "tasks": n,
        "prerun_to_postrun_wall_s": {
            "median": round(statistics.median(total), 3),
            "mean": round(sum(total) / n, 3),
        },
        "idle_between_tasks_wall_s": {
            "median": round(statistics.median(idle), 3) if idle else None,
            "mean": round(sum(idle) / len(idle), 3) if idle else None,
        },
        "pool_cpu_s_per_task": round(
            sum(r["marks"][-1][2] - r["marks"][0][2] for r in records) / n, 3
        ),
        "gc_runs_per_task": [round(sum(r["gc_runs"][g] for r in records) / n, 2) for g in range(3)],
        "gc_cpu_s_per_task": round(sum(sum(r["gc_cpu_s"]) for r in records) / n, 4),
        "gc_frozen_at_first_task": [r["gc_frozen"] for r in records if r.get("gc_frozen")],
        "gc_tracked_at_first_task": [r["gc_tracked"] for r in records if r.get("gc_tracked")],
        # the execution API's heartbeats a task's supervisor sent (none in its first second:
        # task_heartbeat.py)
        "heartbeats_per_task": round(sum(r.get("heartbeats", 0) for r in records) / n, 2),
        "spans": {
            name: {
                "n": len(v["wall"]),
                "wall_median": round(statistics.median(v["wall"]), 4),
                "wall_mean": round(sum(v["wall"]) / len(v["wall"]), 4),
                "pool_cpu_mean": round(sum(v["cpu"]) / len(v["cpu"]), 4),
                "task_process_cpu_mean": round(sum(v["child"]) / len(v["child"]), 4),
            }
            for name, v in spans.items()
        },
    }


def database_bytes(url: str) -> int | None:
    if not url.startswith("postgresql"):
        return None
    import psycopg2

    name = url.rsplit("/", 1)[1]
    with psycopg2.connect(url.replace("+psycopg2", "")) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_database_size(%s)", (name,))
        return int(cur.fetchone()[0])


class _Tmp:
    def __init__(self, root: Path) -> None:
        self.root = root

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))


def run_night(args: argparse.Namespace) -> dict | None:
    from aiosmtpd.controller import Controller
    from event_export.scheduling.windows import day_covered_by_run

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = timedelta(seconds=max(1, round((REAL_DEADLINE / args.factor).total_seconds())))
    now = datetime.now(UTC)
    planned = plan(args.exports, args.seed, args.max_events, now.date(), args.factor)
    span = 0.0 if args.all_at_once else max(p.offset_s for p in planned)
    # the local days the runs can cover: logical date = trigger time, between now and the end
    # of the triggering (plus the lake's writing, an hour at most)
    latest = now + timedelta(seconds=span, hours=1)
    days = {
        z: {day_covered_by_run(t, ZoneInfo(z)) for t in (now, latest)} for z in ZONES
    }  # two days only for a zone whose midnight falls within the bench
    lakes_root = workdir / "lakes" / f"distinct-{args.distinct:g}"
    lake_s = make_lakes(lakes_root, planned, days, args.distinct)
    print(f"lakes ready in {lake_s:.1f} s ({len({p.lake_name for p in planned})} zone-sizes)")
    if args.lakes_only:
        return None

    day_of = {z: day_covered_by_run(datetime.now(UTC), ZoneInfo(z)) for z in ZONES}
    by_stage = work_cpu(
        workdir, lakes_root, planned, day_of, args.selected, args.work_repeat, args.work_per_size
    )
    work = {lake: sum(stages.values()) for lake, stages in by_stage.items()}
    print(f"work measured in one process: {sum(work.values()):.1f} CPU-s over {len(work)} lakes")

    stack_root = Path(tempfile.mkdtemp(prefix="ees-night-", dir=workdir))
    exports = {
        p.export_id: config_yaml(p, lakes_root / p.lake_name, deadline, args.selected)
        for p in planned
    }
    hosts = sorted({p.host for p in planned})
    env = {
        f"AIRFLOW_CONN_NIGHT_HOST_{h:03d}": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(stack_root / "clients" / f"host_{h:03d}")}}
        )
        for h in hosts
    }
    for h in hosts:
        (stack_root / "clients" / f"host_{h:03d}").mkdir(parents=True)
    env.update(
        {
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the bench's triggers run
            "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
            # docs/capacity.md's setting for a large deployment: each of the 8 shard files is
            # parsed again every 600 s, not 30 (at 1,000 exports a full parse and its write to
            # the database cost the dag-processor about 28 CPU-s: 0.23 of a core at 120 s)
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(
                args.min_file_process_interval
            ),
            "EES_ONCALL_EMAILS": "oncall@ees.invalid",
        }
    )
    if args.probe:  # bench/task_probe's airflow_local_settings first: preload + the probe
        from event_export.standalone.airflow_env import LOCAL_SETTINGS_DIR

        Path(args.probe).mkdir(parents=True, exist_ok=True)
        env["EES_TASK_PROBE"] = str(Path(args.probe).resolve())
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PROBE_DIR), str(LOCAL_SETTINGS_DIR), os.environ.get("PYTHONPATH")])
        )
    inbox = _Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    inbox.port = smtp_port
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's line per SMTP verb
    stack_gen = start_stack(_Tmp(stack_root), inbox, exports, env, args.celery_workers)
    stack = next(stack_gen)
    try:
        result = _measure(args, stack, planned, deadline, work, inbox, stack_root / "clients")
        result["summary"]["work_cpu_s_by_task"] = {
            t: round(sum(by_stage[p.lake_name][t] for p in planned), 2) for t in STAGES
        }
        if args.probe:
            result["probe"] = probe_summary(
                Path(args.probe), result["summary"]["work_cpu_s"], result["summary"]
            )
            result["probe"]["slots"] = pool_summary(Path(args.probe))
        return result
    finally:
        stack_gen.close()
        controller.stop()
        if not args.keep:  # the lakes stay for the next run; the stack's home and deliveries go
            shutil.rmtree(stack_root, ignore_errors=True)


def _measure(args, stack, planned, deadline, work, inbox, clients: Path) -> dict:
    from event_export.scheduling.windows import day_covered_by_run

    api = stack.api()
    dag_ids = {p.export_id: f"export_{p.export_id}" for p in planned}
    wait_until(
        lambda: all(api.get_dag(d) for d in dag_ids.values()), 600, "every DAG parsed", every=2
    )
    db_before = database_bytes(stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    sampler = Sampler(stack.procs)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    cpu_before, split_before = sampler.cpu(), sampler.task_split()
    sampler.start()
    started = time.monotonic()
    started_at = datetime.now(UTC)
    runs: dict[str, dict] = {}
    for p in sorted(planned, key=lambda p: (0 if args.all_at_once else p.offset_s, p.export_id)):
        if not args.all_at_once:
            time.sleep(max(0.0, started + p.offset_s - time.monotonic()))
        logical = datetime.now(UTC).replace(microsecond=0)
        run = api.trigger(dag_ids[p.export_id], logical.isoformat())
        runs[p.export_id] = {
            "run_id": run["dag_run_id"],
            "due": logical + deadline,
            "day": day_covered_by_run(logical, ZoneInfo(p.zone)),
        }

    by_dag = {dag_ids[export_id]: run for export_id, run in runs.items()}

    since = [started_at - timedelta(minutes=1)]

    def finished():  # the runs that ended since the last poll (and 30 s before it), 100 a call:
        # paging through every finished run on each poll grew with the night (10 calls a poll
        # at 1,000 runs), api-server CPU the bench then charged to the deployment
        offset, polled_at = 0, datetime.now(UTC)
        while True:
            page = api.call_path(
                "GET",
                "/api/v2/dags/~/dagRuns",
                params={
                    "state": ["success", "failed"],
                    "end_date_gte": since[0].isoformat(),
                    "limit": 100,
                    "offset": offset,
                },
            )
            for found in page["dag_runs"]:
                run = by_dag.get(found["dag_id"])
                if run and found["dag_run_id"] == run["run_id"]:
                    run["state"] = found["state"]
                    run["end"] = datetime.fromisoformat(found["end_date"].replace("Z", "+00:00"))
            offset += len(page["dag_runs"])
            if not page["dag_runs"] or offset >= page["total_entries"]:
                since[0] = polled_at - timedelta(seconds=30)
                return all("end" in r for r in runs.values())

    wait_until(finished, args.timeout, "every run finished", every=5)
    makespan = max(r["end"] for r in runs.values()) - started_at
    sampler.stop()
    cpu_after, split_after = sampler.cpu(), sampler.task_split()
    db_after = database_bytes(stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    # alerts: give the scheduler and triggerer time to handle the last deadlines
    last_due = max(r["due"] for r in runs.values())
    time.sleep(max(0.0, (last_due - datetime.now(UTC)).total_seconds()) + args.alert_grace)
    cpu = {k: cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0) for k in cpu_after}
    split = {k: split_after[k] - split_before[k] for k in split_after}
    for p in planned:  # what each client host received
        folder = clients / f"host_{p.host:03d}" / p.export_id
        runs[p.export_id]["delivered"] = sorted(f.name for f in folder.glob("*") if f.is_file())
    result = report(args, api, planned, runs, dag_ids, makespan, cpu, work, db_before, db_after,
                    sampler, inbox, split)  # fmt: skip
    result["summary"]["loadavg_before"] = load_before
    return result


def report(args, api, planned, runs, dag_ids, makespan, cpu, work, db_before, db_after, sampler,
           inbox, split=None) -> dict:  # fmt: skip
    rows = []
    for p in planned:
        run = runs[p.export_id]
        tis = api.task_instances(dag_ids[p.export_id], run["run_id"])
        alerts = [m for m in inbox.messages if run["run_id"] in inbox.body(m)]
        late_s = (run["end"] - run["due"]).total_seconds()
        rows.append(
            {
                **asdict(p),
                "state": run["state"],
                "day": run["day"].isoformat(),
                "delivered": run["delivered"],
                "due": run["due"].isoformat(),
                "finished": run["end"].isoformat(),
                "late_s": round(late_s, 1),
                "late": late_s > 0,  # not the rounded figure: 46 ms late is late, and alerted
                "task_instances": len(tis),
                "alerts": len(alerts),
                "work_cpu_s": round(work[p.lake_name], 3),
            }
        )
    late = [r for r in rows if r["late"]]
    on_time = [r for r in rows if not r["late"]]
    # deadline first: a late export whose deadline comes before an on-time one's is an inversion
    inversions = sum(1 for a in late for b in on_time if a["due"] < b["due"])
    # ... and in finish order: a run whose real deadline (its zone's midnight + 7 h) comes
    # earlier that finished after one due later (with --all-at-once, trigger order is not that)
    ordered = [(a, b) for a in rows for b in rows if a["offset_s"] < b["offset_s"]]
    finish_inversions = sum(1 for a, b in ordered if a["finished"] > b["finished"])
    total_work = sum(r["work_cpu_s"] for r in rows)
    tasks_cpu = cpu.get("tasks", 0.0)
    everything = sum(cpu.values())
    tis = sum(r["task_instances"] for r in rows)
    summary = {
        "exports": len(rows),
        "executor": f"{args.celery_workers} Celery workers" if args.celery_workers else "Local",
        "parallelism": args.parallelism,
        "factor": args.factor,
        "all_at_once": args.all_at_once,
        "deadline_s": max(1, round((REAL_DEADLINE / args.factor).total_seconds())),
        "makespan_s": round(makespan.total_seconds(), 1),
        "failed": sum(1 for r in rows if r["state"] != "success"),
        "late": len(late),
        "late_s_max": max((r["late_s"] for r in late), default=0),
        "late_s_median": statistics.median([r["late_s"] for r in late]) if late else 0,
        "deadline_inversions": inversions,
        "finish_order_inversions": finish_inversions,
        "deadline_ordered_pairs": len(ordered),
        "task_instances": sum(r["task_instances"] for r in rows),
        "task_instances_per_export": round(statistics.mean(r["task_instances"] for r in rows), 1),
        "cpu_s": {k: round(v, 1) for k, v in sorted(cpu.items())},
        "cpu_s_total": round(everything, 1),
        "work_cpu_s": round(total_work, 1),
        "task_overhead_cpu_s_per_run": round((tasks_cpu - total_work) / len(rows), 2),
        "task_overhead_cpu_s_per_ti": round((tasks_cpu - total_work) / max(1, tis), 2),
        "task_cpu_s_split": {k: round(v, 1) for k, v in (split or {}).items()},
        "preload": os.environ.get("EES_PRELOAD", "on"),
        "result_backend": (
            os.environ.get("EES_STACK_RESULT_BACKEND", "").split(":")[0] or "database"
        )
        if args.celery_workers
        else None,
        "scheduler_cpu_s_per_run": round(cpu.get("scheduler", 0.0) / len(rows), 2),
        # the issue's "task overhead <= 25% of total CPU": the tasks' CPU beyond the work, over
        # every role's CPU (before, this key held everything but the work over everything, and
        # the task overhead's share sat under a second, misleading name)
        "task_overhead_share": round((tasks_cpu - total_work) / everything, 3)
        if everything
        else None,
        "not_work_share": round((everything - total_work) / everything, 3) if everything else None,
        "work_share": round(total_work / everything, 3) if everything else None,
        "db_growth_mb": round((db_after - db_before) / 2**20, 1) if db_before else None,
        "peak_stack_pss_mb": round(sampler.peak_pss / 2**20),
        "peak_process_pss_mb": round(sampler.peak_process / 2**20),
        "alerts_for_late_runs": sum(r["alerts"] for r in late),
        "late_runs_alerted_once": sum(1 for r in late if r["alerts"] == 1),
        "alerts_for_on_time_runs": sum(r["alerts"] for r in on_time),
        "alert_emails": len(inbox.messages),
        "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
    }
    return {"summary": summary, "exports": rows}


def table(result: dict) -> str:
    s = result["summary"]
    lines = [
        f"night of {s['exports']} exports, {s['executor']} (parallelism {s['parallelism']}), "
        f"clock / {s['factor']:g}"
        + (" (all triggered at once)" if s["all_at_once"] else "")
        + f", deadline {s['deadline_s']:.0f} s after each trigger",
        f"makespan                 {s['makespan_s']:.1f} s",
        f"late                     {s['late']} (max {s['late_s_max']:.1f} s, median "
        f"{s['late_s_median']:.1f} s); failed {s['failed']}",
        f"late before on-time      {s['deadline_inversions']} pairs (late export, earlier "
        "deadline than an on-time one)",
        f"finish order             {s['finish_order_inversions']} of "
        f"{s['deadline_ordered_pairs']} pairs finished against deadline order",
        f"task instances           {s['task_instances']} ({s['task_instances_per_export']} "
        "per export)",
        f"CPU-s by role            {s['cpu_s']} (total {s['cpu_s_total']})",
        f"work (stages alone)      {s['work_cpu_s']} CPU-s",
        f"per run                  scheduler {s['scheduler_cpu_s_per_run']} CPU-s, task overhead "
        f"{s['task_overhead_cpu_s_per_run']} CPU-s ({s['task_overhead_cpu_s_per_ti']} per task "
        f"instance); task overhead's share of all CPU {s['task_overhead_share']} (the work's "
        f"{s['work_share']}, everything but the work {s['not_work_share']})",
        f"tasks' CPU-s by process  {s['task_cpu_s_split']} (preload {s['preload']})",
        f"metadata DB growth       {s['db_growth_mb']} MB",
        f"peak memory (PSS)        stack {s['peak_stack_pss_mb']} MB, largest process "
        f"{s['peak_process_pss_mb']} MB",
        f"deadline alerts          {s['alert_emails']} emails: late runs alerted once "
        f"{s['late_runs_alerted_once']}/{s['late']}, for on-time runs "
        f"{s['alerts_for_on_time_runs']}",
        f"load average             {' '.join(s.get('loadavg_before', []))} before, "
        f"{' '.join(s['loadavg_after'])} after",
        "",
        "export     zone                  events  TIs  late_s  alerts",
    ]
    for r in sorted(result["exports"], key=lambda r: r["due"]):
        lines.append(
            f"{r['export_id']}  {r['zone']:<20} {r['events']:>8} {r['task_instances']:>4} "
            f"{r['late_s']:>7.1f} {r['alerts']:>7}"
        )
    return "\n".join(lines)


CELERY_CONCURRENCY = 2  # each bench Celery worker's pool (tests/stack.py's worker_concurrency)


def default_parallelism(celery_workers: int, cpus: int) -> int:
    """[core] parallelism as docs/capacity.md recommends: LocalExecutor two task processes per
    core; CeleryExecutor three times the workers' pool slots, since its scheduler frees a slot
    only when it next reads the task's result from the result backend, and with parallelism
    equal to the slots the workers idled half the time (the 60-run burst: 260.7 s at 4, 142.5 s
    at 12, against LocalExecutor's 115.5 s at 4)."""
    if celery_workers:
        return 3 * CELERY_CONCURRENCY * celery_workers
    return 2 * cpus


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exports", type=int, default=1000)
    parser.add_argument("--factor", type=float, default=60.0, help="clock compression")
    parser.add_argument("--all-at-once", action="store_true", help="trigger every run at once")
    parser.add_argument("--celery-workers", type=int, default=0, help="0: LocalExecutor")
    parser.add_argument(
        "--parallelism",
        type=int,
        help="[core] parallelism (default: default_parallelism, docs/capacity.md's setting)",
    )
    parser.add_argument("--max-events", type=int, help="cap each day's size (smoke runs)")
    parser.add_argument(
        "--min-file-process-interval",
        type=int,
        default=600,
        help="[dag_processor] min_file_process_interval, s (docs/capacity.md's setting)",
    )
    parser.add_argument(
        "--distinct",
        type=float,
        default=0.95,
        help="share of rows with a payload of their own, as make bench's (realistic, the "
        "default); 0 = the pooled low-distinctness days",
    )
    parser.add_argument(
        "--lakes-only", action="store_true", help="write the lakes the night needs, then stop"
    )
    parser.add_argument(
        "--work-per-size",
        action="store_true",
        help="measure the work on one zone per day size (the 1,000-export night: see work_cpu)",
    )
    parser.add_argument("--selected", type=int, help="export only this many event names")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument(
        "--work-repeat", type=int, default=2, help="runs of each lake's work (the least counts)"
    )
    parser.add_argument("--timeout", type=float, default=6 * 3600)
    parser.add_argument("--alert-grace", type=float, default=30.0, help="s after the last due")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="EES_PRELOAD=off: task processes import the task code themselves (the 'before')",
    )
    parser.add_argument(
        "--probe",
        metavar="DIR",
        help="record each task process's phases into DIR (bench/task_probe) and summarize them",
    )
    parser.add_argument(
        "--result-backend",
        metavar="URL",
        help="Celery's result backend (default: the metadata database, as Airflow's provider "
        "recommends; for example redis://127.0.0.1:6379/11 to measure the difference)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the stack's home and logs")
    parser.add_argument("--workdir", default=str(REPO / ".bench" / "night"))
    parser.add_argument("--out", default=str(REPO / "bench" / "night.json"))
    args = parser.parse_args(argv)
    if args.parallelism is None:
        args.parallelism = default_parallelism(args.celery_workers, os.cpu_count() or 1)
    if args.no_preload:  # inherited by the stack's processes (tests/stack.py copies os.environ)
        os.environ["EES_PRELOAD"] = "off"
    if args.result_backend:  # read by tests/stack.py's Celery settings
        os.environ["EES_STACK_RESULT_BACKEND"] = args.result_backend
    try:
        result = run_night(args)
    finally:
        if METADATA_DB.startswith("postgresql") and not args.lakes_only:
            drop_database(METADATA_DB)
    if result is None:  # --lakes-only
        return
    print(table(result), flush=True)
    if "probe" in result:
        print("task processes (probe)  ", json.dumps(result["probe"], indent=1), flush=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
