"""The bench's airflow_local_settings: preload as deployed, plus a probe of every task process.

Why: a task instance's CPU beyond its work is spent inside a short-lived process forked from
its supervisor, which no outside sampler sees from its first instruction (py-spy attaches after
the fact; /proc only gives the total). So `bench/night.py --probe DIR` puts this directory first
on the stack's PYTHONPATH: the scheduler (or Celery worker) preloads as
deploy/config/airflow_local_settings.py does, then registers an `os.register_at_fork` hook,
which every process forked below it inherits (LocalExecutor's workers, each task process). In a
task process the hook wraps the Task SDK's phases (the task runner's main, the startup message,
the DAG file parse, the pre-execute, our callable, the XCom push, finalize) and the messages
to the supervisor, and records per phase the process's CPU seconds (all threads) and minor page
faults (copy-on-write after the fork shows there); when the process ends (`os._exit`, which
the task runner always calls) it writes one JSON file per process into DIR. In the process that
supervises each task (a Celery pool process, a LocalExecutor worker) it marks the supervisor's
steps around the task process with wall and CPU time (pool-PID.jsonl, a line per task), so the
time a slot spends beyond its task shows too. Measurement only: nothing of this runs in a
deployment.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import resource
import sys
import time

from event_export.preload import preload, role

preload()

_DIR = os.environ.get("EES_TASK_PROBE")
# EES_TASK_PROBE_PROFILE=1: also a cProfile (CPU time) of each task process, prof-PID.pstats
_state: dict = {}
_pool: dict = {}  # in a Celery worker's pool process: the marks of the Celery task running
_CELERY = "celery" in sys.argv[1:3]
_ROOT = os.getpid()  # the scheduler (Celery worker): its children are workers, theirs tasks


def _now() -> tuple[float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.process_time(), r.ru_minflt


def _mark(name: str) -> None:
    cpu, flt = _now()
    _state["marks"].append((name, round(cpu, 4), flt))
    _state.setdefault("wall", []).append(round(time.monotonic(), 4))


def _timed(name: str, fn):
    def wrapper(*args, **kwargs):
        _mark(f"{name}>")
        try:
            return fn(*args, **kwargs)
        finally:
            _mark(f"{name}<")

    wrapper.__wrapped__ = fn
    return wrapper


def _gc_callback(phase, info):
    if phase == "start":
        _state["gc_t0"] = time.process_time()
    else:
        g = info.get("generation", 0)
        _state["gc_cpu"][g] += time.process_time() - _state.get("gc_t0", time.process_time())
        _state["gc_runs"][g] += 1


def _patch_once() -> None:
    """Wrap the Task SDK's phases (module globals the task runner calls by name)."""
    if _state.get("patched"):
        return
    _state["patched"] = True
    from airflow.sdk.execution_time import comms, task_runner

    for name in (
        "main",
        "get_startup_details",
        "parse",
        "startup",
        "_prepare",
        "_run_execute_callable",
        "_push_xcom_if_needed",
        "finalize",
    ):
        setattr(task_runner, name, _timed(name, getattr(task_runner, name)))
    startup = task_runner.startup

    def named_startup(msg, *args, **kwargs):
        _state["task"] = f"{msg.ti.dag_id}.{msg.ti.task_id}[{msg.ti.map_index}]"
        return startup(msg, *args, **kwargs)

    task_runner.startup = named_startup
    send = comms.CommsDecoder.send

    def counted_send(self, msg):
        kind = type(msg).__name__
        t0 = time.process_time()
        try:
            return send(self, msg)
        finally:
            t1 = time.process_time()
            seen = _state["sends"].setdefault(kind, [0, 0.0])
            seen[0] += 1
            seen[1] += t1 - t0

    comms.CommsDecoder.send = counted_send
    from airflow.providers.standard.operators import python

    op = python.PythonOperator
    op.execute_callable = _timed("callable", op.execute_callable)
    real_exit = os._exit

    def exit_and_write(code):
        try:
            _write(code)
        finally:
            real_exit(code)

    os._exit = exit_and_write


def _write(code) -> None:
    marks = _state.get("marks") or []
    if not any(m[0] == "main>" for m in marks):
        return  # not a task process (a worker ending)
    if profiler := _state.get("profiler"):
        profiler.disable()
        profiler.dump_stats(os.path.join(_DIR, f"prof-{os.getpid()}.pstats"))
    r = resource.getrusage(resource.RUSAGE_SELF)
    record = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "exit": code,
        "argv0": sys.argv[:2],
        "task": _state.get("task"),
        "cpu_s": round(r.ru_utime + r.ru_stime, 4),
        "user_s": round(r.ru_utime, 4),
        "sys_s": round(r.ru_stime, 4),
        "minflt": r.ru_minflt,
        "majflt": r.ru_majflt,
        "maxrss_kb": r.ru_maxrss,
        "marks": marks,
        "wall": _state.get("wall"),
        "exit_wall": round(time.monotonic(), 4),
        "sends": _state["sends"],
        "gc_cpu_s": [round(x, 4) for x in _state["gc_cpu"]],
        "gc_runs": _state["gc_runs"],
        # no gc.get_freeze_count() here: it walks every frozen object (24 ms for 213,000),
        # which would be counted as the task process's own exit; the pool's record has it once
        "threads": _threads(),
        "modules": len(sys.modules),
        # what this task process imported itself (a module preload could have given it)
        "imported": _imported(),
    }
    with open(os.path.join(_DIR, f"task-{os.getpid()}.json"), "w") as out:
        json.dump(record, out)


def _imported() -> list[str]:
    """The modules imported since the fork: the last ones of `sys.modules`, which keeps its
    insertion order, read from its end. Not a set of every name taken at the fork: that touches
    each inherited name's reference count and copied about 1,200 pages a task process, 2.5 ms of
    CPU the probe then counted as the task's (a module removed since the fork shortens the list
    by one)."""
    new = len(sys.modules) - _state.get("modules_at_fork", len(sys.modules))
    return sorted(itertools.islice(reversed(sys.modules), max(new, 0)))


def _threads() -> int:
    try:
        return len(os.listdir(f"/proc/{os.getpid()}/task"))
    except OSError:
        return -1


def _pool_mark(name: str) -> None:
    """A mark in a Celery pool process: wall (CLOCK_MONOTONIC, shared by every process), its
    own CPU, its reaped children's CPU (the task process), minor page faults."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    _pool["marks"].append(
        (
            name,
            round(time.monotonic(), 4),
            round(me.ru_utime + me.ru_stime, 4),
            round(kids.ru_utime + kids.ru_stime, 4),
            me.ru_minflt,
        )
    )


def _pool_timed(name: str, fn):
    def wrapper(*args, **kwargs):
        _pool_mark(f"{name}>")
        try:
            return fn(*args, **kwargs)
        finally:
            _pool_mark(f"{name}<")

    wrapper.__wrapped__ = fn
    return wrapper


def _pool_prerun(**kwargs) -> None:
    _pool.update(
        marks=[], gc0=(list(_state["gc_runs"]), list(_state["gc_cpu"])), task=None, heartbeats=0
    )
    # execute_workload's one argument: the workload as JSON
    with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
        _pool["task"] = json.loads((kwargs.get("args") or [""])[0])["ti"]["task_id"]
    _pool_mark("prerun")


def _pool_postrun(**_kwargs) -> None:
    _pool_mark("postrun")
    runs0, cpu0 = _pool["gc0"]
    record = {
        "pid": os.getpid(),
        "task": _pool.get("task"),
        "marks": _pool["marks"],
        "gc_runs": [a - b for a, b in zip(_state["gc_runs"], runs0, strict=True)],
        "gc_cpu_s": [round(a - b, 4) for a, b in zip(_state["gc_cpu"], cpu0, strict=True)],
        # both walk the collector's lists (gc.get_freeze_count() every frozen object: 24 ms for
        # 213,000), so once per pool process, at its first task
        "gc_frozen": gc.get_freeze_count() if _pool.get("count_objects") else None,
        "gc_tracked": len(gc.get_objects()) if _pool.get("count_objects") else None,
        "heartbeats": _pool.get("heartbeats", 0),  # sent to the execution API for this task
    }
    _pool["count_objects"] = False
    with open(os.path.join(_DIR, f"pool-{os.getpid()}.jsonl"), "a") as out:
        out.write(json.dumps(record) + "\n")


def _patch_pool() -> None:
    """In a Celery worker's pool process (or a LocalExecutor worker): mark the phases of each
    task around the task process (Celery's prerun and postrun signals, or run_workload's start
    and end; Airflow's run_workload and the supervisor's steps), so the time a slot spends beyond
    the task process shows where it goes."""
    from airflow.executors.base_executor import BaseExecutor
    from airflow.sdk.execution_time import supervisor

    run_workload = _pool_timed("run_workload", BaseExecutor.__dict__["run_workload"].__func__)
    if not _CELERY:  # a LocalExecutor worker: its task starts and ends with run_workload

        def run_workload(*args, _timed=run_workload, **kwargs):
            _pool_prerun(args=[args[0].model_dump_json()] if args else [])
            _pool["exit_seen"] = False
            try:
                return _timed(*args, **kwargs)
            finally:
                _pool_postrun()

    BaseExecutor.run_workload = staticmethod(run_workload)
    for name in ("supervise_task", "_configure_logging", "ensure_secrets_backend_loaded"):
        setattr(supervisor, name, _pool_timed(name, getattr(supervisor, name)))
    activity = supervisor.ActivitySubprocess
    start = activity.__dict__["start"].__func__
    activity.start = classmethod(_pool_timed("start", start))
    for name in ("_on_child_started", "wait", "update_task_state_if_needed", "_upload_logs"):
        setattr(activity, name, _pool_timed(name, getattr(activity, name)))
    watched = supervisor.WatchedSubprocess
    check_exit = watched._check_subprocess_exit
    on_closed = watched._on_socket_closed

    def seen_exit(self, *args, **kwargs):
        code = check_exit(self, *args, **kwargs)
        if code is not None and not _pool.get("exit_seen"):
            _pool["exit_seen"] = True
            _pool_mark("exit_seen")
        return code

    def closed(self, sock):
        _pool_mark("socket_closed")
        return on_closed(self, sock)

    watched._check_subprocess_exit = seen_exit
    watched._on_socket_closed = closed
    send_heartbeat = activity._send_heartbeat_if_needed

    def counted_heartbeat(self):
        before = self._last_heartbeat_attempt
        try:
            return send_heartbeat(self)
        finally:
            if self._last_heartbeat_attempt != before:  # an attempt went out
                _pool["heartbeats"] = _pool.get("heartbeats", 0) + 1

    activity._send_heartbeat_if_needed = counted_heartbeat

    def prerun(**kwargs):
        _pool["exit_seen"] = False
        _pool_prerun(**kwargs)

    if _CELERY:
        from celery import signals

        signals.task_prerun.connect(prerun, weak=False)
        signals.task_postrun.connect(_pool_postrun, weak=False)
    _pool["count_objects"] = True  # once per pool process: the heap the collector walks


def _after_fork() -> None:
    _state.update(task=None, marks=[], wall=[], sends={}, gc_cpu=[0.0, 0.0, 0.0], gc_runs=[0, 0, 0])
    _mark("fork")
    _state["modules_at_fork"] = len(sys.modules)
    if os.getppid() == _ROOT:  # a Celery worker's pool process, a LocalExecutor worker
        _patch_pool()
        return
    _patch_once()
    task_process = os.getppid() != _ROOT  # not a worker forked by the scheduler itself
    if task_process and os.environ.get("EES_TASK_PROBE_PROFILE") == "1":  # (inflates the CPU)
        import cProfile

        _state["profiler"] = cProfile.Profile(time.process_time)
        _state["profiler"].enable()


if _DIR and role(sys.argv) == "tasks":
    gc.callbacks.append(_gc_callback)
    os.register_at_fork(after_in_child=_after_fork)
