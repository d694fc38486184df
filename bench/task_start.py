"""What a task process spends before and around its work: the part of a task instance's CPU
that is ours to cut (issue 18).

Why: on LocalExecutor (and in a Celery worker) a task runs in a process forked from the worker,
which has Airflow imported; the forked child parses the task's DAG file (our factory, our
config model, the DAG's build) and imports what the task's code needs (pyarrow, the stages),
then exits, so each task instance pays those imports again. This measures them as the worker
does: a parent that has imported what a LocalExecutor worker has (the scheduler's modules and
the Task SDK's supervisor), then per repetition a forked child that:
  - parses `dags/exports_NN.py` the way the task runner does (`BundleDagBag`, with the parsing
    context's dag id set) and checks that exactly one DAG was built and one config read;
  - imports the modules a task's code imports when it runs (`--task-imports`);
  - loads the Task SDK's plugins and listener manager, as the task runner's start-up asks for
    them (`task_sdk_plugins`: the plugins folder is the repo's, with the Exports page);
  - runs one full garbage collection (`full_gc`: what a collection would cost a child that
    walks every object it inherited, copying the pages it touches; the parent here has frozen
    nothing, while LocalExecutor's workers inherit the scheduler's objects frozen, and the
    stack's task processes ran no full collection: `bench/night.py --probe`);
  - does nothing but exit (`fork_exit`): what the fork costs the parent (the kernel copies its
    page tables) and what a child that inherited them costs to start and tear down, whatever
    it runs; the parent's anonymous memory and page tables are reported beside it.
Each figure is the child's own CPU seconds (user + system) and minor page faults, median of
`--repeat`. `--preload` runs `event_export.preload` in the parent first (as
`airflow_local_settings` makes every Airflow process do), to show what forking inherits.

    .venv/bin/python bench/task_start.py [--configs 12] [--repeat 7] [--preload]

(`bench/night.py --probe DIR` measures the same phases inside the stack's task processes.)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASK_IMPORTS = ("event_export.pipeline.run",)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def write_configs(folder: Path, n: int) -> list[str]:
    ids = []
    for i in range(n):
        export_id = f"night_{i:04d}"
        (folder / f"{export_id}.yaml").write_text(
            f"client_id: client_{i // 5:03d}\nexport_id: {export_id}\nsource: /nonexistent/lake\n"
            "schedule: {timezone: Asia/Kolkata, deadline: '00:03:30'}\n"
            f"destination: {{type: local, conn_id: night_host_{i // 5:03d}, path: {export_id}}}\n"
        )
        ids.append(export_id)
    return ids


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def in_child(measure) -> dict:
    """Run `measure` in a forked child (as the supervisor forks the task runner); its result."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            result = measure()
        except BaseException as exc:  # report, never return into the parent's code
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def parse_one(dag_file: Path, dag_id: str, count: bool):
    """The task runner's parse of one DAG file. `count`: also which configs were read and which
    DAGs built (importing the factory first to count, so its CPU is not the parse's then)."""

    def measure() -> dict:
        from airflow.dag_processing.dagbag import BundleDagBag

        read, built = [], []
        if count:
            from event_export.orchestration import factory

            load, build = factory.load_or_error, factory._build

            def counting_load(path):
                read.append(path.name)
                return load(path)

            def counting_build(config, path):
                built.append(config.dag_id)
                return build(config, path)

            factory.load_or_error, factory._build = counting_load, counting_build
        before_modules = set(sys.modules)
        os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = dag_id
        start = cpu()
        bag = BundleDagBag(
            dag_folder=str(dag_file),
            safe_mode=False,
            load_op_links=False,
            bundle_path=dag_file.parent,
            bundle_name="dags-folder",
        )
        parse_s = cpu() - start
        out = {
            "parse_cpu_s": parse_s,
            "dags": sorted(bag.dag_ids),
            "configs_read": read,
            "dags_built": built,
            "errors": list(bag.import_errors.values())[:1],
            "modules_new": len(set(sys.modules) - before_modules),
        }
        return out

    return measure


def import_only(names: tuple[str, ...]):
    def measure() -> dict:
        start, flt = cpu(), faults()
        for name in names:
            __import__(name)
        return {"cpu_s": cpu() - start, "minflt": faults() - flt}

    return measure


def task_sdk_plugins() -> dict:
    from airflow.sdk.listener import get_listener_manager
    from airflow.sdk.plugins_manager import integrate_macros_plugins

    start, flt = cpu(), faults()
    get_listener_manager()
    integrate_macros_plugins()
    return {"cpu_s": cpu() - start, "minflt": faults() - flt}


def full_gc() -> dict:
    start, flt = cpu(), faults()
    gc.collect()
    return {"cpu_s": cpu() - start, "minflt": faults() - flt}


def fork_exit() -> dict:
    """Fork a child that exits at once: the parent's wall and CPU time in the fork, the child's
    CPU (its start after the fork, its exit) and page faults, as `wait4` reports them."""
    started, wall = cpu(), time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    fork_wall, fork_cpu = time.perf_counter() - wall, cpu() - started
    _, _, usage = os.wait4(pid, 0)
    return {
        "fork_wall_s": fork_wall,
        "fork_cpu_s": fork_cpu,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "minflt": usage.ru_minflt,
    }


def memory() -> dict:
    """This process's anonymous resident memory and page tables, MB (/proc/self/status)."""
    wanted = {"RssAnon": "anon_mb", "VmPTE": "page_tables_mb"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            out[wanted[key]] = round(int(value.split()[0]) / 1024, 1)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--preload", action="store_true")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="ees-task-start-"))
    ids = write_configs(folder, args.configs)
    os.environ["EES_EXPORTS_DIR"] = str(folder)
    # what a LocalExecutor worker has imported: it is forked from the scheduler, and imports
    # the supervisor (which imports the task runner) for its first task
    import airflow.executors.local_executor
    import airflow.jobs.scheduler_job_runner
    import airflow.sdk.execution_time.supervisor  # noqa: F401

    sys.path.insert(0, str(REPO / "include"))
    from airflow import settings

    settings.PLUGINS_FOLDER = str(REPO / "plugins")  # as the stack and `make up` set it
    if args.preload:
        from event_export import preload

        print("preloaded:", preload.preload(["airflow", "scheduler"]), file=sys.stderr)
    export_id = ids[0]
    shard = zlib.crc32(export_id.encode()) % 8  # factory.shard_of, without importing it here
    dag_file = REPO / "dags" / f"exports_{shard:02d}.py"
    # the factory's own import (what the DAG file's first line costs), then a full parse
    results = {
        "factory_import": [
            in_child(import_only(("event_export.orchestration.factory",)))
            for _ in range(args.repeat)
        ],
        "dag_builder_import": [
            in_child(import_only(("event_export.orchestration.dag_builder",)))
            for _ in range(args.repeat)
        ],
        "task_imports": [in_child(import_only(TASK_IMPORTS)) for _ in range(args.repeat)],
        "task_sdk_plugins": [in_child(task_sdk_plugins) for _ in range(args.repeat)],
        "full_gc": [in_child(full_gc) for _ in range(args.repeat)],
        "fork_exit": [fork_exit() for _ in range(args.repeat)],
        "parse": [
            in_child(parse_one(dag_file, f"export_{export_id}", False)) for _ in range(args.repeat)
        ],
    }
    first = in_child(parse_one(dag_file, f"export_{export_id}", True))
    summary = {
        "configs": args.configs,
        "preload": args.preload,
        "dag_file": dag_file.name,
        "dags_in_bag": first.get("dags"),
        "configs_read": first.get("configs_read"),
        "dags_built": first.get("dags_built"),
        "errors": first.get("errors") or first.get("error"),
        "modules_new_in_parse": first.get("modules_new"),
        **{f"parent_{k}": v for k, v in memory().items()},
    }
    for name, runs in results.items():
        key = "parse_cpu_s" if name == "parse" else "cpu_s"
        values = [r[key] for r in runs if key in r]
        summary[f"{name}_cpu_s_median"] = round(statistics.median(values), 3) if values else None
        summary[f"{name}_cpu_s_range"] = [round(min(values), 3), round(max(values), 3)]
        if flts := [r["minflt"] for r in runs if "minflt" in r]:
            summary[f"{name}_minflt_median"] = statistics.median(flts)
    for key in ("fork_wall_s", "fork_cpu_s"):  # the parent's side of `fork_exit`
        summary[f"{key}_median"] = round(statistics.median(r[key] for r in results["fork_exit"]), 4)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
