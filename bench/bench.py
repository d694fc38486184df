"""`make bench`: time the daily-zip export of a generated day, stage by stage, against DuckDB.

Every stage runs in a fresh Python process, as an Airflow task would, so its peak memory is its own:
the child reports its resident high-water mark (`VmHWM`, exact for all its threads) and the parent
also samples the resident memory of the child's process tree every 50 ms; the higher of the two
is the stage's peak (`ru_maxrss` is not used: on Linux it carries the parent's peak over exec). A
stage's time (wall and CPU) is measured inside the child around the stage call, after one-off
imports. The end-to-end figure is `pipeline.run_export` (every stage in one process), timed the
same way.

Bytes read are the child's `/proc/self/io` counters taken around the stage call (all its threads):
`rchar`, the bytes its read()/pread() calls returned whether from the page cache or the disk (what
the stage asks of the files it reads), and `read_bytes`, what the kernel fetched from storage for
it (near 0 when the files are still in the page cache, as they usually are here). Memory-mapped
reads are in neither; no stage memory-maps its inputs (ipc.read_staged reads).

Two baselines, each in its own process: DuckDB's raw split (the window split by event name to CSV,
payload left as JSON text, one `COPY ... PARTITION_BY`), and DuckDB writing the same flattened
columns as the daily zip's CSVs (the document's columns, then one `json_extract_string` per payload
key seen that day for that event, one `COPY` per event; the keys found by DuckDB first, timed
with it). Neither baseline zips its CSVs, so both ratios flatter DuckDB a little.

Results go to a table on stdout and to JSON (`--out`, default bench/results.json), so commits can
be compared. The generated lake is kept in the work folder and reused when N and the day match.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("extract", "split", "format", "package", "upload", "validate")
CORE = ("extract", "split", "format", "package")  # the daily zip itself: lake -> zip
CONN_ID = "bench_local"
SAMPLE_SECONDS = 0.05


# --- the child side: one stage in this process -------------------------------------------------


def _config(lake: str, timezone: str, delivered: str):
    from event_export.config.model import ExportConfig

    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "fs", "extra": {"path": delivered}}
    )
    return ExportConfig.model_validate(
        {
            "client_id": "bench",
            "export_id": "bench_daily",
            "source": lake,
            "schedule": {"timezone": timezone},
            "destination": {"type": "local", "conn_id": CONN_ID, "path": "out"},
        }
    )


def _size(keys: list[str]) -> int:
    """Bytes of staged files, by staging key (the bench stages in a local folder)."""
    root = Path(os.environ["EES_STAGING_DIR"])
    return sum((root / k).stat().st_size for k in keys)


def _io() -> dict[str, int]:
    """This process's I/O counters (all threads, living and ended) from the kernel."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return {"rchar": int(fields["rchar"]), "read_bytes": int(fields["read_bytes"])}


def _read_since(before: dict[str, int]) -> dict:
    after = _io()
    return {
        "read_rchar": after["rchar"] - before["rchar"],
        "read_disk": after["read_bytes"] - before["read_bytes"],
    }


def _peak() -> dict:
    """This process's resident high-water mark, from the kernel."""
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    kilobytes = int(line.split()[1])
    return {"hwm_mb": kilobytes * 1024 / 1e6}


def _warm_up(stage: str) -> None:
    """Pay one-off import costs before the clock starts, as a long-lived worker already has.

    pyarrow imports pandas (~2.5 s) the first time it converts Python objects, and the
    destination's hook imports Airflow (~6 s); neither is the stage's work.
    """
    import pyarrow as pa

    pa.array(["warm up"])
    if stage in ("upload", "validate", "end_to_end"):
        from airflow.providers.standard.hooks.filesystem import FSHook  # noqa: F401


def run_stage(stage: str, spec: dict) -> dict:
    """Run one stage over the staging folder; return its timing, rows and output bytes."""
    from event_export.pipeline.run import ExportRun, run_export

    os.environ["EES_STAGING_DIR"] = spec["staging"]
    config = _config(spec["lake"], spec["timezone"], spec["delivered"])
    run = ExportRun(config, date.fromisoformat(spec["day"]))
    state_file = Path(spec["staging"]) / "bench-state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if stage in ("extract", "end_to_end"):  # the last run's files: deleting them is not the work
        shutil.rmtree(run.staging, ignore_errors=True)
    _warm_up(stage)
    io_started = _io()
    started, cpu_started = time.perf_counter(), time.process_time()
    if stage == "extract":
        result = run.extract()
        state["extract"] = result
        rows = result["rows"]
        written = sum(p.stat().st_size for p in (run.staging / "extract").rglob("*") if p.is_file())
    elif stage == "split":  # plans the shards over the parts extract staged: writes nothing
        shards = run.split(state["extract"])
        state["split"] = shards
        rows, written = sum(s["rows"] for s in shards), 0
    elif stage == "format":
        formatted = run.format_shards(state["split"])
        state["format"] = formatted
        rows, written = sum(f["rows"] for f in formatted), _size([f["path"] for f in formatted])
    elif stage == "package":
        files = run.package(state["format"])
        state["package"] = files
        rows, written = sum(f["rows"] for f in files), sum(f["size"] for f in files)
    elif stage == "upload":
        for batch in run.upload_batches(state["package"]):
            run.upload_batch(batch)
        rows = sum(f["rows"] for f in state["package"])
        written = sum(f["size"] for f in state["package"])
    elif stage == "validate":
        done = run.validate(state["package"])
        rows, written = sum(done["rows_per_event"].values()), 0
    elif stage == "end_to_end":
        done = run_export(config, run.day)
        rows, written = sum(done["rows_per_event"].values()), 0
    else:
        raise ValueError(f"unknown stage {stage!r}")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    read = _read_since(io_started)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(state))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "bytes": written,
        **read,
        **_peak(),
    }


def _window_params(spec: dict) -> dict:
    """The lake's files of the day's window and its bounds, as query parameters."""
    from zoneinfo import ZoneInfo

    from event_export.pipeline.lake import partition_files
    from event_export.scheduling.windows import day_window

    window = day_window(date.fromisoformat(spec["day"]), ZoneInfo(spec["timezone"]))
    files = [path for _, path in partition_files(spec["lake"], window)]
    return {"files": files, "start": window.start, "end": window.end}


WINDOW_ROWS = "FROM read_parquet($files) WHERE ts >= $start AND ts < $end"


def run_duckdb(spec: dict) -> dict:
    """The baseline: DuckDB's partitioned CSV writer over the same window, payload left as text."""
    import duckdb

    params = _window_params(spec)
    out = Path(spec["staging"]) / "duckdb"
    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    io_started = _io()
    started, cpu_started = time.perf_counter(), time.process_time()
    con.execute(
        f"COPY (SELECT * {WINDOW_ROWS}) TO '{out}' (FORMAT CSV, PARTITION_BY (event_name))", params
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    read = _read_since(io_started)
    rows = con.execute(f"SELECT count(*) {WINDOW_ROWS}", params).fetchone()[0]
    written = sum(p.stat().st_size for p in out.rglob("*.csv"))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "bytes": written,
        **read,
        **_peak(),
    }


def _flat_select(keys: list[str]) -> tuple[str, dict]:
    """The daily zip's columns in DuckDB SQL: the document's, then one per payload key."""
    from event_export.pipeline.stages.csv_format import SEED_COLUMNS

    columns = []
    for name, lake in SEED_COLUMNS:
        value = "strftime(ts::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%S.%g%z')" if lake == "ts" else lake
        columns.append(f'{value} AS "{name}"')
    params = {}
    for i, key in enumerate(keys):  # a JSON path naming the key whatever its characters
        params[f"k{i}"] = "$." + json.dumps(key, ensure_ascii=False)
        label = f"payload.{key}".replace('"', '""')
        columns.append(f'json_extract_string(payload, $k{i}) AS "{label}"')
    return ", ".join(columns), params


def run_duckdb_flat(spec: dict) -> dict:
    """The second baseline: DuckDB writing the daily zip's flattened columns, one COPY per event."""
    import duckdb

    params = _window_params(spec)
    out = Path(spec["staging"]) / "duckdb-flat"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = $tz", {"tz": spec["timezone"]})
    io_started = _io()
    started, cpu_started = time.perf_counter(), time.process_time()
    events = con.execute(
        "SELECT event_name, list_sort(list_distinct(flatten(list(json_keys(payload))))) "
        f"{WINDOW_ROWS} GROUP BY event_name ORDER BY event_name",
        params,
    ).fetchall()
    for i, (event, keys) in enumerate(events):
        select, key_params = _flat_select(keys or [])
        con.execute(
            f"COPY (SELECT {select} {WINDOW_ROWS} AND event_name = $event) "
            f"TO '{out / f'{i}.csv'}' (FORMAT CSV, HEADER)",
            {**params, **key_params, "event": event},
        )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    read = _read_since(io_started)
    rows = con.execute(f"SELECT count(*) {WINDOW_ROWS}", params).fetchone()[0]
    written = sum(p.stat().st_size for p in out.glob("*.csv"))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": rows,
        "bytes": written,
        "events": len(events),
        **read,
        **_peak(),
    }


# --- the parent side: spawn, measure, report ---------------------------------------------------


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (0 once it is gone)."""
    total, todo = 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(stage: str, spec: dict) -> dict:
    """Run `stage` in a child process; add its wall time and peak memory to what it reports."""
    command = [sys.executable, __file__, "--child", stage, json.dumps(spec)]
    load = os.getloadavg()[0]  # what else the machine ran as this measure started
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], _tree_rss(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = child.stdout.read()
    _, status, _ = os.wait4(child.pid, 0)
    stop.set()
    sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"bench: stage {stage} failed with exit code {child.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    result["load_at_start"] = round(load, 2)
    result["peak_mb"] = max(result.pop("hwm_mb"), peak[0] / 1e6)
    result["rows_per_s"] = result["rows"] / result["seconds"] if result["seconds"] else 0.0
    result["mb_per_s"] = result["bytes"] / 1e6 / result["seconds"] if result["seconds"] else 0.0
    return result


def _round(stages: dict, duck: dict) -> dict:
    """One round's daily zip (extract..package, each stage in its own process) against DuckDB's
    raw split measured next to it."""
    core = sum(stages[s]["seconds"] for s in CORE)
    core_cpu = sum(stages[s]["cpu_seconds"] for s in CORE)
    return {
        "core_seconds": core,
        "core_cpu_seconds": core_cpu,
        "duckdb_seconds": duck["seconds"],
        "duckdb_cpu_seconds": duck["cpu_seconds"],
        "ratio": core / duck["seconds"] if duck["seconds"] else None,
        "cpu_ratio": core_cpu / duck["cpu_seconds"] if duck["cpu_seconds"] else None,
        "load_at_start": min(stages[s]["load_at_start"] for s in CORE),
    }


def measure_round(spec: dict, duckdb_first: bool) -> dict:
    """Another round of the daily zip's stages and DuckDB's raw split; every other round runs
    DuckDB first, so a load that rises or falls through the run weighs on both sides alike."""
    duck = measure("duckdb", spec) if duckdb_first else None
    stages = {stage: measure(stage, spec) for stage in CORE}
    return _round(stages, duck or measure("duckdb", spec))


def _median(values) -> float | None:
    found = sorted(v for v in values if v is not None)
    return statistics.median(found) if found else None


def ensure_lake(
    workdir: Path, day: date, timezone: str, events: int, distinct: float
) -> tuple[Path, float | None]:
    """The generated lake for (day, timezone, N, distinct), reused when already complete."""
    from zoneinfo import ZoneInfo

    from event_export.generator import write_window
    from event_export.scheduling.windows import day_window

    name = f"lake-{day.isoformat()}-{timezone.replace('/', '_')}-{events}-d{distinct:g}"
    lake = workdir / name
    marker = lake / "COMPLETE"
    if marker.exists():
        return lake, None
    if lake.exists():
        shutil.rmtree(lake)
    started = time.perf_counter()
    write_window(lake, day_window(day, ZoneInfo(timezone)), events, distinct=distinct)
    seconds = time.perf_counter() - started
    marker.write_text("ok\n")
    return lake, seconds


def payload_distinctness(lake: Path, day: date, timezone: str) -> dict:
    """Distinct payload texts in the window and their share of its rows, counted by DuckDB once
    per generated lake (kept beside it): what the format stage's payload parsing faces."""
    from zoneinfo import ZoneInfo

    import duckdb
    from event_export.pipeline.lake import partition_files
    from event_export.scheduling.windows import day_window

    cached = lake / "DISTINCT.json"
    if cached.exists():
        return json.loads(cached.read_text())
    window = day_window(day, ZoneInfo(timezone))
    files = [path for _, path in partition_files(str(lake), window)]
    rows, distinct = (
        duckdb.connect()
        .execute(
            "SELECT count(*), count(DISTINCT payload) FROM read_parquet($files) "
            "WHERE ts >= $start AND ts < $end",
            {"files": files, "start": window.start, "end": window.end},
        )
        .fetchone()
    )
    found = {"rows": rows, "distinct_payloads": distinct, "ratio": distinct / rows if rows else 0}
    cached.write_text(json.dumps(found) + "\n")
    return found


def table(results: dict) -> str:
    head = (
        f"{'stage':<12} {'rows':>12} {'seconds':>8} {'cpu s':>7} {'rows/s':>11} {'out MB':>9} "
        f"{'MB/s':>8} {'read MB':>9} {'disk MB':>8}"
    )
    lines = [head + f" {'peak MB':>8}", "-" * (len(head) + 9)]
    for name, r in results["stages"].items():
        lines.append(
            f"{name:<12} {r['rows']:>12,} {r['seconds']:>8.2f} {r['cpu_seconds']:>7.2f} "
            f"{r['rows_per_s']:>11,.0f} "
            f"{r['bytes'] / 1e6:>9.1f} {r['mb_per_s']:>8.1f} "
            f"{r['read_rchar'] / 1e6:>9.1f} {r['read_disk'] / 1e6:>8.1f} {r['peak_mb']:>8.0f}"
        )
    s, p = results["summary"], results["payloads"]
    measures = {**results["stages"], "end to end": results["end_to_end"]}
    measures.update({"DuckDB": results["duckdb"], "DuckDB flattened": results["duckdb_flat"]})
    loads = ", ".join(f"{n} {r['load_at_start']:.2f}" for n, r in measures.items() if r)
    lines += [
        "-" * (len(head) + 9),
        f"load average (1 min) as each measure started: {loads}; "
        f"at the end {results['machine']['load_at_end']:.2f}",
        f"payloads: {p['distinct_payloads']:,} distinct of {p['rows']:,} rows "
        f"(ratio {p['ratio']:.1%}, --distinct {p['distinct_setting']:g})",
        f"daily zip (extract..package, sum of stages): {s['core_seconds']:.2f} s, "
        f"{s['core_rows_per_s']:,.0f} rows/s",
        f"staged between tasks: {s['staged_mb_per_million']:,.0f} MB written, "
        f"{s['staged_read_mb_per_million']:,.0f} MB read back per 1 M events "
        f"(EES_STAGING_COMPRESSION {s.get('staging_compression', 'zstd')})",
        "read MB: the stage's read() bytes (/proc/self/io rchar, page cache or disk); "
        "disk MB: fetched from storage (read_bytes)",
        f"end to end (run_export in one process):       {s['end_to_end_seconds']:.2f} s, "
        f"peak {s['end_to_end_peak_mb']:.0f} MB",
    ]
    if s["duckdb_seconds"] is not None:
        lines += [
            f"DuckDB COPY ... PARTITION_BY (event_name):    {s['duckdb_seconds']:.2f} s, "
            f"peak {s['duckdb_peak_mb']:.0f} MB",
            f"ratio to DuckDB: daily zip {s['core_ratio']:.2f}, "
            f"end to end {s['end_to_end_ratio']:.2f} (below 1.0 = faster than DuckDB)",
            f"CPU seconds: daily zip {s['core_cpu_seconds']:.2f}, DuckDB "
            f"{s['duckdb_cpu_seconds']:.2f}, ratio {s['core_cpu_ratio']:.2f} (steadier when busy)",
        ]
    if len(results["rounds"]) > 1:
        cpu = ", ".join(f"{r['cpu_ratio']:.2f}" for r in results["rounds"])
        wall = ", ".join(f"{r['ratio']:.2f}" for r in results["rounds"])
        lines += [
            f"rounds ({len(results['rounds'])}, alternating with DuckDB): CPU ratio {cpu} "
            f"(median {s['rounds_cpu_ratio_median']:.2f}); wall ratio {wall} "
            f"(median {s['rounds_ratio_median']:.2f})",
        ]
    if s["flat_seconds"] is not None:
        lines += [
            f"DuckDB flattened (json_extract_string per key, one COPY per event, no zip): "
            f"{s['flat_seconds']:.2f} s, {s['flat_cpu_seconds']:.2f} CPU-s, "
            f"peak {s['flat_peak_mb']:.0f} MB",
            f"ratio to DuckDB flattened: daily zip {s['core_flat_ratio']:.2f}, "
            f"CPU {s['core_flat_cpu_ratio']:.2f}",
        ]
    return "\n".join(lines)


def main() -> None:
    from event_export import settings

    parser = argparse.ArgumentParser(description="Benchmark the daily-zip export against DuckDB.")
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the day (N)")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--timezone", default="UTC", help="the client's time zone")
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench", help="lake and staging")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--skip-duckdb", action="store_true", help="no baselines (no ratios)")
    parser.add_argument(
        "--skip-flat", action="store_true", help="no flattened DuckDB baseline (slow at 10 M)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure the daily zip and DuckDB's raw split this many times, alternating, and "
        "print each round's ratio and their median (the machine's spread between runs is "
        "larger than many changes)",
    )
    parser.add_argument(
        "--distinct",
        type=float,
        default=0.95,
        help="share of rows with a payload of their own (realistic, the default); "
        "0 = the pooled low-distinctness day (512 payload texts per event)",
    )
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir.resolve()
    lake, generated = ensure_lake(workdir, args.day, args.timezone, args.events, args.distinct)
    note = f"generated in {generated:.1f} s" if generated is not None else "reused"
    print(f"bench: lake {lake} ({args.events:,} events, {note})", flush=True)
    payloads = payload_distinctness(lake, args.day, args.timezone)
    print(
        f"bench: distinct payloads {payloads['distinct_payloads']:,} of {payloads['rows']:,} "
        f"rows: ratio {payloads['ratio']:.1%} (--distinct {args.distinct:g})",
        flush=True,
    )
    base = workdir
    spec = {
        "lake": str(lake),
        "day": args.day.isoformat(),
        "timezone": args.timezone,
        "staging": str(base / "staging"),
        "delivered": str(base / "delivered"),
    }
    Path(spec["delivered"]).mkdir(parents=True, exist_ok=True)

    stages: dict[str, dict] = {}
    for stage in STAGES:
        stages[stage] = measure(stage, spec)
        print(f"bench: {stage} {stages[stage]['seconds']:.2f} s", flush=True)
    end_to_end = measure("end_to_end", spec)
    print(f"bench: end to end {end_to_end['seconds']:.2f} s", flush=True)
    duck = None if args.skip_duckdb else measure("duckdb", spec)
    if duck:
        print(f"bench: duckdb {duck['seconds']:.2f} s", flush=True)
    flat = None if args.skip_duckdb or args.skip_flat else measure("duckdb_flat", spec)
    if flat:
        print(f"bench: duckdb flattened {flat['seconds']:.2f} s", flush=True)

    core = sum(stages[s]["seconds"] for s in CORE)
    core_cpu = sum(stages[s]["cpu_seconds"] for s in CORE)
    rounds = [] if duck is None else [_round(stages, duck)]
    for n in range(2, args.rounds + 1 if duck else 0):
        rounds.append(measure_round(spec, duckdb_first=n % 2 == 0))
        r = rounds[-1]
        print(
            f"bench: round {n}: CPU ratio {r['cpu_ratio']:.2f}, wall {r['ratio']:.2f}", flush=True
        )
    rows = stages["extract"]["rows"]
    duck_seconds = duck["seconds"] if duck else None
    results = {
        "events": args.events,
        "day": args.day.isoformat(),
        "timezone": args.timezone,
        "payloads": {"distinct_setting": args.distinct, **payloads},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_at_end": round(os.getloadavg()[0], 2),  # each measure has its load_at_start
        },
        "commit": _commit(),
        "stages": stages,
        "end_to_end": end_to_end,
        "duckdb": duck,
        "duckdb_flat": flat,
        "rounds": rounds,
        "summary": {
            "rows": rows,
            "core_seconds": core,
            "core_rows_per_s": rows / core if core else 0.0,
            # what waits between tasks: extract's staged day, format's members (not the zip)
            "staging_compression": settings.staging_compression() or "none",
            "staged_mb_per_million": (stages["extract"]["bytes"] + stages["format"]["bytes"])
            / 1e6
            / (rows / 1e6)
            if rows
            else 0.0,
            # what the stages after extract read back of it (rchar: page cache or disk)
            "staged_read_mb_per_million": sum(
                stages[s]["read_rchar"] for s in ("split", "format", "package")
            )
            / 1e6
            / (rows / 1e6)
            if rows
            else 0.0,
            "end_to_end_seconds": end_to_end["seconds"],
            "end_to_end_peak_mb": end_to_end["peak_mb"],
            "peak_mb": max([end_to_end["peak_mb"], *(s["peak_mb"] for s in stages.values())]),
            "duckdb_seconds": duck_seconds,
            "duckdb_peak_mb": duck["peak_mb"] if duck else None,
            "core_ratio": core / duck_seconds if duck_seconds else None,
            "core_cpu_seconds": core_cpu,
            "duckdb_cpu_seconds": duck["cpu_seconds"] if duck else None,
            "core_cpu_ratio": core_cpu / duck["cpu_seconds"] if duck else None,
            "end_to_end_ratio": end_to_end["seconds"] / duck_seconds if duck_seconds else None,
            "rounds_cpu_ratio_median": _median(r["cpu_ratio"] for r in rounds),
            "rounds_ratio_median": _median(r["ratio"] for r in rounds),
            "flat_seconds": flat["seconds"] if flat else None,
            "flat_cpu_seconds": flat["cpu_seconds"] if flat else None,
            "flat_peak_mb": flat["peak_mb"] if flat else None,
            "core_flat_ratio": core / flat["seconds"] if flat and flat["seconds"] else None,
            "core_flat_cpu_ratio": core_cpu / flat["cpu_seconds"]
            if flat and flat["cpu_seconds"]
            else None,
        },
    }
    print()
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    print(f"\nbench: results in {args.out}")


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return None
    return done.stdout.strip() or None


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        name, child_spec = sys.argv[2], json.loads(sys.argv[3])
        baselines = {"duckdb": run_duckdb, "duckdb_flat": run_duckdb_flat}
        outcome = baselines.get(name, lambda spec: run_stage(name, spec))(child_spec)
        print(json.dumps(outcome))
    else:
        main()
