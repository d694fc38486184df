"""`make bench-night` (issue 18): the planned night is what the docs say, and a handful of exports
runs through a real Airflow with every figure reported. Timings are never asserted."""

import json
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta

import pytest
import yaml
from conftest import REPO, load_bench
from event_export.config.model import ExportConfig
from event_export.scheduling.priorities import priority_weight


def _bench():
    return load_bench("night.py")


NIGHT = date(2026, 11, 29)


def test_a_thousand_exports_spread_over_zones_and_skewed_sizes():
    night = _bench()
    planned = night.plan(1000, 18, None, NIGHT, factor=60)
    zones = Counter(p.zone for p in planned)
    assert 370 <= zones["Asia/Kolkata"] <= 430  # 40%
    assert len(zones) == 13 and {"Australia/Adelaide", "America/New_York"} <= set(zones)
    sizes = Counter(p.events for p in planned)
    assert sum(n for events, n in sizes.items() if events <= 50_000) >= 900  # most days small
    assert sizes[3_000_000] >= 5  # a few of millions
    assert len({p.export_id for p in planned}) == 1000
    # several exports share a client host (one upload pool)
    assert max(Counter(p.host for p in planned).values()) == night.EXPORTS_PER_HOST


def test_the_clock_is_compressed_by_the_factor():
    night = _bench()
    slow = {p.export_id: p for p in night.plan(1000, 18, None, NIGHT, factor=1)}
    fast = night.plan(1000, 18, None, NIGHT, factor=60)
    for p in fast:
        assert p.offset_s == pytest.approx(slow[p.export_id].offset_s / 60)
    kolkata = next(p for p in fast if p.zone == "Asia/Kolkata")
    auckland = next(p for p in fast if p.zone == "Pacific/Auckland")
    # Auckland's midnight (UTC+13 in November) is 7.5 h before Kolkata's, a minute per hour
    assert kolkata.offset_s - auckland.offset_s == pytest.approx(7.5 * 60)


def test_work_per_size_measures_one_lake_per_size_and_the_busiest_zone():
    night = _bench()
    planned = night.plan(1000, 18, None, NIGHT, factor=60)
    every = night.lakes_measured(planned, per_size=False)
    assert set(every) == {p.lake_name for p in planned}
    chosen = night.lakes_measured(planned, per_size=True)
    sizes = {p.events for p in planned}
    assert sorted(p.events for p in chosen.values()) == sorted(sizes)  # one lake per size
    count = Counter(p.lake_name for p in planned)
    for name, p in chosen.items():
        same_size = [n for n, q in every.items() if q.events == p.events]
        assert count[name] == max(count[n] for n in same_size)


def test_celery_gets_more_executor_slots_than_its_workers_have_and_local_two_per_core():
    night = _bench()
    assert night.default_parallelism(0, 2) == 4
    assert night.default_parallelism(0, 8) == 16
    slots = 2 * night.CELERY_CONCURRENCY  # two workers' pools
    assert night.default_parallelism(2, 2) == 3 * slots
    assert night.default_parallelism(1, 64) == 3 * night.CELERY_CONCURRENCY  # not the cores
    # the constant is the bench stack's real pool size, not a copy that could drift from it
    from stack import _celery_env

    pool = _celery_env("postgresql://x")["AIRFLOW__CELERY__WORKER_CONCURRENCY"]
    assert int(pool) == night.CELERY_CONCURRENCY


def test_configs_load_with_the_compressed_deadline_and_rank_by_it(tmp_path):
    night = _bench()
    planned = night.plan(40, 18, 2_000, NIGHT, factor=600)
    configs = []
    for p in planned:
        text = night.config_yaml(p, tmp_path / "lake", timedelta(seconds=42), selected=None)
        configs.append((p, ExportConfig.model_validate(yaml.safe_load(text))))
        assert p.events <= 2_000
    for p, config in configs:
        assert config.schedule.deadline.isoformat() == "00:00:42"
        assert config.destination.conn_id == f"night_host_{p.host:03d}"
    # deadline first: the earlier midnight (trigger) in UTC, the heavier
    ranked = sorted(configs, key=lambda pc: pc[0].offset_s)
    weights = [priority_weight(c, NIGHT) for _, c in ranked]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.stack
def test_a_handful_of_exports_run_one_night_and_late_runs_alert_once(tmp_path):
    """Two exports, one event name each (7 task instances a run), all late by construction:
    the clock / 25,200 leaves a 1 s deadline, so each run raises exactly one deadline alert.
    Each alert arrives within seconds of its deadline, long before the run ends (the scheduler
    sees a missed deadline in its next loop, the triggerer sends it), so 5 s of grace after the
    last run are enough to count them and to see a second alert for any run."""
    out = tmp_path / "night.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "night.py"), "--exports", "2", "--selected", "1",
         "--max-events", "2000", "--factor", "25200", "--alert-grace", "5",
         "--workdir", str(tmp_path / "work"), "--out", str(out),
         "--probe", str(tmp_path / "probe"), "--work-repeat", "1", "--work-per-size"],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "makespan" in done.stdout and "deadline alerts" in done.stdout
    result = json.loads(out.read_text())
    s = result["summary"]
    assert (s["exports"], s["failed"], s["late"]) == (2, 0, 2)
    # check_destination, extract, split_by_event, format, chunk, upload, validate
    assert s["task_instances_per_export"] == 7
    assert s["late_runs_alerted_once"] == 2 and s["alert_emails"] == 2
    assert s["alerts_for_on_time_runs"] == 0
    assert s["cpu_s"]["tasks"] > s["work_cpu_s"] > 0
    # the tasks' CPU by process: the supervisors (LocalExecutor's workers) and the task
    # processes they fork, which parse and work (on these 2,000-event days, with what preload
    # gives them, about as much as the supervisors: 1.1 CPU-s each)
    split = s["task_cpu_s_split"]
    assert split["task_processes"] > 0 and split["supervisors"] > 0
    assert abs(split["task_processes"] + split["supervisors"] - s["cpu_s"]["tasks"]) < 1.0
    assert s["preload"] == "on" and s["task_overhead_cpu_s_per_ti"] > 0
    # the issue's share: the tasks' CPU beyond the work over all CPU (not everything but the work)
    share = (s["cpu_s"]["tasks"] - s["work_cpu_s"]) / s["cpu_s_total"]
    # (the summary's CPU figures are rounded to 0.1 CPU-s each: small nights move the share more)
    assert s["task_overhead_share"] == pytest.approx(share, abs=0.1 / s["cpu_s_total"] + 0.001)
    assert s["not_work_share"] > s["task_overhead_share"]
    # the probe (bench/task_probe): one record per task process, its phases, our callables'
    # CPU per task id against the same stages' warm work
    probe = result["probe"]
    assert probe["task_processes"] == 14  # 2 runs x 7 task instances
    assert set(probe["by_task_id"]) == set(s["work_cpu_s_by_task"]) == set(_bench().STAGES)
    # (rounded to 0.01 CPU-s: split_by_event's callable reads one small index, 0.00 here)
    assert all(t["n"] == 2 and t["cpu_s"] > 0 and t["cpu_s"] >= t["callable_cpu_s"] >= 0 for t in
               probe["by_task_id"].values())  # fmt: skip
    assert sum(t["callable_cpu_s"] for t in probe["by_task_id"].values()) > 0
    assert probe["messages_per_ti"]["SucceedTask"] == 1.0
    # one XCom value a task (validate also records the delivery's schema): a dict's keys are not
    # pushed one by one (3.4 a task instance when check_destination and validate did)
    assert 1.0 <= probe["messages_per_ti"]["SetXCom"] <= 1.2
    assert "parse> .. parse<" in probe["phases"]
    # a task process imports only its DAG file's module: everything else it needs was imported
    # before the fork (preload.py); a module listed here is one each task process pays again
    imported = probe["imported_by_task_processes"]
    assert imported and all(m.startswith("unusual_prefix_") for m in imported), imported
    # the slots (LocalExecutor's workers here): each task's supervisor steps, wall and CPU
    slots = probe["slots"]
    assert slots["tasks"] == 14
    assert {"start> .. _on_child_started>", "socket_closed .. exit_seen"} <= set(slots["spans"])
    assert all(span["n"] == 14 for span in slots["spans"].values())
    # LocalExecutor froze the heap its workers inherit (counted once per worker: the count walks
    # every frozen object)
    assert slots["gc_frozen_at_first_task"] and min(slots["gc_frozen_at_first_task"]) > 0
    # no heartbeat right after the start the execution API just recorded (task_heartbeat.py):
    # a task instance under a second sends none (each sent one at once before: 1.0 or more;
    # 0.01 measured here, the margin for a loaded host whose tasks take longer)
    assert slots["heartbeats_per_task"] < 0.9
    assert s["cpu_s"]["scheduler"] > 0 and s["peak_stack_pss_mb"] > 0
    assert s["db_growth_mb"] is None or s["db_growth_mb"] >= 0
    for row in result["exports"]:
        assert row["state"] == "success" and row["late_s"] > 0
        day = date.fromisoformat(row["day"])  # the client's file names: client id and day
        stem = f"client_{row['host']:03d}_{day:%d%m%Y}"
        assert row["delivered"] == [f"{stem}.manifest", f"{stem}.zip"]
