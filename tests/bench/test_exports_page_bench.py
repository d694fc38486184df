"""bench/exports_page.py at a small N: it builds its database, calls the API and prints a table.

Only the report's shape and counts are checked; timings are never asserted.
"""

import subprocess
import sys

from conftest import REPO


def test_exports_page_bench_runs_at_small_n():
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "exports_page.py"),
         "--exports", "45", "--runs", "3", "--calls", "3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("45 exports (+1 broken), 3 finished runs each") for line in lines)
    default = next(line for line in lines if line.startswith("default page (20)"))
    assert default.split()[3:5] == ["46", "20"]  # total (with the broken row), items
    last = next(line for line in lines if line.startswith("page 25 of 10"))
    assert last.split()[4:6] == ["46", "0"]
