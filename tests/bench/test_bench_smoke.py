"""`make bench` at a small N: it finishes and reports every stage and both DuckDB baselines.

Timings are never asserted; what is checked is that each figure exists and agrees with what the
run left on disk (bytes read and written, staged bytes per 1 M events, the flattened baseline's
CSVs) or with the other figures (the ratios).
"""

import csv
import json
import subprocess
import sys
import zipfile

from conftest import REPO

STAGES = ["extract", "split", "format", "package", "upload", "validate"]


def test_bench_runs_at_small_n_and_writes_its_table_and_json(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench.py"), "--events", "20000",
         "--workdir", str(tmp_path / "work"), "--out", str(out), "--rounds", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for stage in STAGES:
        row = next(line for line in lines if line.startswith(f"{stage} "))
        assert "20,000" in row, row
    assert any(line.startswith("ratio to DuckDB:") for line in lines)
    assert any(line.startswith("ratio to DuckDB flattened:") for line in lines)
    assert any(line.startswith("staged between tasks:") for line in lines)
    printed = next(line for line in lines if line.startswith("bench: distinct payloads"))
    assert "(--distinct 0.95)" in printed, printed

    results = json.loads(out.read_text())
    assert list(results["stages"]) == STAGES
    for stage in results["stages"].values():
        assert stage["rows"] == 20_000
        assert stage["peak_mb"] > 0 and stage["seconds"] >= 0
    measures = [*results["stages"].values(), results["end_to_end"], results["duckdb"]]
    measures.append(results["duckdb_flat"])
    assert all(m["load_at_start"] >= 0 for m in measures)  # the machine's load, recorded
    assert results["machine"]["load_at_end"] >= 0
    load = next(line for line in lines if line.startswith("load average (1 min)"))
    assert "extract " in load and "DuckDB flattened " in load and "at the end" in load, load
    assert results["duckdb"]["rows"] == 20_000
    payloads = results["payloads"]  # the default day's payloads are realistic: nearly all distinct
    assert payloads["rows"] == 20_000 and payloads["ratio"] >= 0.9
    summary, stages = results["summary"], results["stages"]
    assert summary["core_ratio"] > 0 and summary["end_to_end_ratio"] > 0
    _assert_rounds(results, summary, lines)
    _assert_bytes_read(stages, results, tmp_path / "work")
    _assert_flat_baseline(results, summary, tmp_path / "work")
    delivered = tmp_path / "work" / "delivered" / "out"
    assert sorted(p.name for p in delivered.iterdir()) == [
        "bench_01112026.manifest",
        "bench_01112026.zip",
    ]


def _assert_rounds(results, summary, lines):
    """`--rounds 2`: the first round is the table's own measures, the second measured again;
    each ratio is its round's daily zip over its DuckDB, and the medians are of those."""
    first, second = results["rounds"]
    assert first["core_cpu_seconds"] == summary["core_cpu_seconds"]
    assert first["duckdb_cpu_seconds"] == summary["duckdb_cpu_seconds"]
    for r in (first, second):
        assert r["core_cpu_seconds"] > 0 and r["duckdb_cpu_seconds"] > 0
        assert r["cpu_ratio"] == r["core_cpu_seconds"] / r["duckdb_cpu_seconds"]
        assert r["ratio"] == r["core_seconds"] / r["duckdb_seconds"]
    assert summary["rounds_cpu_ratio_median"] == (first["cpu_ratio"] + second["cpu_ratio"]) / 2
    printed = next(line for line in lines if line.startswith("rounds (2, alternating"))
    assert f"median {summary['rounds_cpu_ratio_median']:.2f}" in printed, printed


def _assert_bytes_read(stages, results, work):
    """Each stage reports the bytes its read() calls returned; the stages that read a file must
    have read at least what they are known to read (the lake's window, the staged day)."""
    for name, stage in stages.items():
        assert stage["read_rchar"] >= 0 and stage["read_disk"] >= 0, name
    lake = sum(p.stat().st_size for p in work.glob("lake-*/**/*.parquet"))
    assert stages["extract"]["read_rchar"] >= 0.5 * lake  # the window is most of the lake
    staged = stages["extract"]["bytes"]
    assert staged > 0
    assert stages["format"]["read_rchar"] >= 0.5 * staged  # format reads the day extract staged
    per_million = (staged + stages["format"]["bytes"]) / results["summary"]["rows"]
    assert abs(results["summary"]["staged_mb_per_million"] - per_million) < 1e-6 * per_million
    assert results["summary"]["staged_read_mb_per_million"] > 0
    duck = results["duckdb"]
    assert duck["read_rchar"] >= 0.5 * lake and duck["bytes"] > 0


def _assert_flat_baseline(results, summary, work):
    """The flattened baseline wrote one CSV per event with the daily zip's header, the same rows,
    and its ratios are the daily zip's figures over its own."""
    flat = results["duckdb_flat"]
    assert flat["rows"] == 20_000 and flat["events"] > 1
    csvs = sorted((work / "staging" / "duckdb-flat").glob("*.csv"))
    assert len(csvs) == flat["events"]
    assert flat["bytes"] == sum(p.stat().st_size for p in csvs)
    with zipfile.ZipFile(work / "delivered" / "out" / "bench_01112026.zip") as zf:
        ours = {zf.read(n).split(b"\n", 1)[0].rstrip(b"\r") for n in zf.namelist()}
    theirs = {p.read_bytes().split(b"\n", 1)[0].rstrip(b"\r") for p in csvs}
    assert {_names(h) for h in theirs} == {_names(h) for h in ours}  # same columns per event
    core = sum(results["stages"][s]["seconds"] for s in ["extract", "split", "format", "package"])
    core_cpu = sum(
        results["stages"][s]["cpu_seconds"] for s in ["extract", "split", "format", "package"]
    )
    assert summary["core_flat_ratio"] == core / flat["seconds"]
    assert summary["core_flat_cpu_ratio"] == core_cpu / flat["cpu_seconds"]


def _names(header: bytes) -> tuple[str, ...]:
    """A CSV header's column names, whichever way the writer quoted them."""
    return tuple(next(csv.reader([header.decode("utf-8-sig")])))
