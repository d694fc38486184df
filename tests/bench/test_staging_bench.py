"""`bench/staging.py` at a small day: both modes run, their S3 requests are counted, and the ratio
it prints is the one its measures give. Timings are never asserted."""

import json
import subprocess
import sys

from conftest import REPO, load_bench


def test_the_staging_bench_runs_local_and_s3_and_reports_their_ratio(tmp_path):
    lake = tmp_path / "lake"
    subprocess.run(
        [sys.executable, "-m", "event_export.generator", str(lake), "--day", "2026-11-01",
         "--timezone", "Asia/Kolkata", "--events", "5000", "--distinct", "0.95"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    out = tmp_path / "staging.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "staging.py"), str(lake), "--no-dag",
         "--modes=1,2", "--rounds", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    found = json.loads(out.read_text())
    local, s3 = found["results"]["local"], found["results"]["s3 (moto)"]
    assert len(local) == len(s3) == 1
    assert local[0]["s3_requests"] == {}  # local staging sends nothing to S3
    assert s3[0]["s3_requests"]["PutObject"] > 0 and s3[0]["moto_cpu_s"] > 0
    expected = round(s3[0]["run_export_s"] / local[0]["run_export_s"], 2)
    assert found["ratios"] == {"s3 (moto)": expected}
    assert f"s3 (moto) / local, means of run_export: {expected:.2f}" in done.stdout
    assert "lake: " in done.stdout and "distinct payloads" in done.stdout


def test_ratios_are_means_over_the_local_mean_and_need_a_local_mode():
    staging = load_bench("staging.py")
    results = {
        "local": [{"run_export_s": 2.0}, {"run_export_s": 4.0}],
        "s3 (moto)": [{"run_export_s": 3.0}, {"run_export_s": 5.0}],
        "s3, no host copies": [{"run_export_s": 6.0}],
    }
    assert staging.ratios(results) == {"s3 (moto)": 1.33, "s3, no host copies": 2.0}
    assert staging.ratios({"s3 (moto)": results["s3 (moto)"]}) == {}


def test_a_missing_lake_is_refused_before_any_server_starts(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "staging.py"), str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "no lake at" in done.stderr
