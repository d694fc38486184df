"""`bench/format_cpu.py` at a small N: it reads what `make bench` staged the way `format` does.

Timings are never asserted. What is checked: the rows, the CSV bytes and the deflated bytes it
produced are exactly the `format` stage's for the same staged day (so it profiles the real
work, not a lookalike), the native flattening ran and was timed, and the timers it put around
`payload_native`'s functions are gone afterwards.
"""

import json
from datetime import date

from conftest import load_bench
from event_export.pipeline import payload_cells, payload_native

EVENTS = 10_000  # the largest events pass payload._NATIVE_MIN_ROWS: the native path runs


def test_format_cpu_profiles_the_bytes_format_writes(tmp_path):
    bench = load_bench("bench.py", "bench_main")
    format_cpu = load_bench("format_cpu.py")
    lake, _ = bench.ensure_lake(tmp_path, date(2026, 11, 1), "UTC", EVENTS, 0.95)
    spec = {
        "lake": str(lake),
        "day": "2026-11-01",
        "timezone": "UTC",
        "staging": str(tmp_path / "staging"),
        "delivered": str(tmp_path / "delivered"),
    }
    (tmp_path / "delivered").mkdir()
    for stage in ("extract", "split", "format"):
        bench.measure(stage, spec)
    formatted = json.loads((tmp_path / "staging" / "bench-state.json").read_text())["format"]
    query, scanner = payload_native._query, payload_cells.flatten_cells

    for reader in ("scanner", "duckdb"):
        result = format_cpu.profile(tmp_path / "staging", reader)

        assert result["rows"] == sum(f["rows"] for f in formatted) == EVENTS
        assert result["csv_bytes"] == sum(f["size"] for f in formatted)
        assert result["deflated_bytes"] == sum(f["deflated"]["compressed"] for f in formatted)
        assert set(format_cpu.ORDER) >= set(result["cpu"])
        assert all(seconds >= 0 for seconds in result["cpu"].values())
        timed = format_cpu.SCANNER if reader == "scanner" else format_cpu.FLATTEN_PARTS["_query"]
        assert result["cpu"][timed] > 0  # that reader read the payloads
        assert payload_native._query is query  # the timers are removed
        assert payload_cells.flatten_cells is scanner and payload_cells.available()
