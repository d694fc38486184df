"""`make bench` at a small N: it finishes and reports every stage and the DuckDB baseline.

Only the shape of the report is checked; timings are never asserted.
"""

import json
import subprocess
import sys

from conftest import REPO

STAGES = ["extract", "split", "format", "package", "upload", "validate"]


def test_bench_runs_at_small_n_and_writes_its_table_and_json(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench.py"), "--events", "20000",
         "--workdir", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for stage in STAGES:
        row = next(line for line in lines if line.startswith(f"{stage} "))
        assert "20,000" in row, row
    assert any(line.startswith("ratio to DuckDB:") for line in lines)
    printed = next(line for line in lines if line.startswith("bench: distinct payloads"))
    assert "(--distinct 0.95)" in printed, printed

    results = json.loads(out.read_text())
    assert list(results["stages"]) == STAGES
    for stage in results["stages"].values():
        assert stage["rows"] == 20_000
        assert stage["peak_mb"] > 0 and stage["seconds"] >= 0
    assert results["duckdb"]["rows"] == 20_000
    payloads = results["payloads"]  # the default day's payloads are realistic: nearly all distinct
    assert payloads["rows"] == 20_000 and payloads["ratio"] >= 0.9
    assert results["summary"]["core_ratio"] > 0 and results["summary"]["end_to_end_ratio"] > 0
    delivered = tmp_path / "work" / "delivered" / "out"
    assert sorted(p.name for p in delivered.iterdir()) == [
        "bench_01112026.manifest",
        "bench_01112026.zip",
    ]
