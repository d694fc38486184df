"""Where the daily zip's `format` spends its CPU, per row, by component, on one thread.

Why: the issue-19 target compares format on realistic payloads with format on pooled ones, and
the stage's total alone does not say which part grows with distinct payloads (the payload parse)
and which with the bytes (reading the staged day, the CSV writer, deflate). This reads a day
that `make bench` staged (its work folder's `staging`, after `extract` and `split`) the way
`format` does (the staged batches coalesced to `BATCH_ROWS`, the document's columns,
`payload.flatten_column` with extract's member counts, the CSV writer format uses (`csv_lines`),
`DeflateWriter`) and prints CPU microseconds a row per component. The flattening is split by
timing the native path's own functions (`payload_native`) around their calls; the real code runs.

One thread and no prefetch, unlike the stage (two events side by side), so the total is not the
stage's CPU; the payload keys are found before the clock starts (the pipeline reads extract's).

    .venv/bin/python bench/format_cpu.py .bench/staging      (after `make bench`)
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

FLATTEN_PARTS = {
    "_query": "flatten: DuckDB query (json_transform, member check)",
    "_nested_masks": "flatten: nested cells' first-byte masks",
    "_nested_tests": "flatten: nested-cell tests",
    "_repeats": "flatten: repeated-key query",
}
SCANNER = "flatten: the scanner (C, payload_cells)"
FLATTEN_REST = "flatten: the rest (Arrow kernels, distinct texts, Python reference rows)"
ORDER = [
    "reading the staged batches",
    "the document's columns",
    *FLATTEN_PARTS.values(),
    SCANNER,
    FLATTEN_REST,
    "the CSV writer (csv_lines)",
    "deflate (DeflateWriter)",
]


class _Discard:
    """A sink that keeps only the count of bytes written (the member's deflated bytes)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)


def _timed(spent: collections.Counter, label: str, function: Callable) -> Callable:
    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return timed


def profile(staging: Path, reader: str = "scanner") -> dict:
    """CPU seconds per component over every part the bench's `split` planned, and the rows.
    `reader`: the payload reader format uses, the scanner in C or DuckDB (`payload_native`)."""
    from event_export.pipeline import csv_lines, payload, payload_cells, payload_native
    from event_export.pipeline.deflate import DeflateWriter
    from event_export.pipeline.ipc import read_staged, schema_of
    from event_export.pipeline.stages import csv_format as cf
    from event_export.pipeline.streams import coalesce

    state = json.loads((staging / "bench-state.json").read_text())
    parts = [part for shard in state["split"] for part in shard["parts"]]
    spent: collections.Counter = collections.Counter()
    originals = {name: getattr(payload_native, name) for name in FLATTEN_PARTS}
    for name, label in FLATTEN_PARTS.items():
        setattr(payload_native, name, _timed(spent, label, originals[name]))
    scanner = payload_cells.flatten_cells
    payload_cells.flatten_cells = _timed(spent, SCANNER, scanner)
    available = payload_cells.available
    if reader == "duckdb":
        payload_cells.available = lambda: False
    elif not available():
        raise SystemExit("the scanner is not built (make setup)")
    inner = [*FLATTEN_PARTS.values(), SCANNER]
    rows = csv_bytes = deflated = 0
    try:
        for part in parts:
            path = str(staging / part["path"])
            keys = cf.payload_keys(path)
            schema = pa.schema([(n, pa.string()) for n in cf.header(keys)])
            read = cf.READ_COLUMNS
            if payload.MEMBERS in schema_of(path).names:
                read = [*cf.READ_COLUMNS, payload.MEMBERS]
            sink = _Discard()
            deflater = DeflateWriter(sink, final=True)
            clock = time.process_time()

            def lap(label: str) -> None:
                nonlocal clock
                now = time.process_time()
                spent[label] += now - clock
                clock = now

            batches = list(coalesce(read_staged(path, read), cf.BATCH_ROWS))
            lap("reading the staged batches")
            for n, batch in enumerate(batches):
                columns = []
                for _, lake_column in cf.SEED_COLUMNS:
                    column = batch.column(lake_column)
                    if lake_column == "ts":
                        column = cf.local_iso(column, "UTC")
                    columns.append(column.cast(pa.string()))
                lap("the document's columns")
                members = batch.column(payload.MEMBERS) if payload.MEMBERS in read else None
                inside = sum(spent[label] for label in inner)
                columns.extend(
                    payload.flatten_column(batch.column("payload"), keys, members=members)
                )
                spent[FLATTEN_REST] -= sum(spent[label] for label in inner) - inside
                lap(FLATTEN_REST)
                text = (csv_lines.header(schema.names) if n == 0 else b"") + csv_lines.records(
                    columns
                )
                lap("the CSV writer (csv_lines)")
                deflater.write(memoryview(text))
                lap("deflate (DeflateWriter)")
                rows += batch.num_rows
                csv_bytes += len(text)
            deflater.close()
            lap("deflate (DeflateWriter)")
            deflated += sink.size
    finally:
        for name, function in originals.items():
            setattr(payload_native, name, function)
        payload_cells.flatten_cells, payload_cells.available = scanner, available
    return {"rows": rows, "csv_bytes": csv_bytes, "deflated_bytes": deflated, "cpu": dict(spent)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Format's CPU per row by component.")
    parser.add_argument("staging", type=Path, help="a `make bench` work folder's staging")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    parser.add_argument(
        "--reader", choices=["scanner", "duckdb"], default="scanner", help="format's payload reader"
    )
    args = parser.parse_args()
    result = profile(args.staging, args.reader)
    rows = result["rows"]
    csv_bytes, deflated = result["csv_bytes"], result["deflated_bytes"]
    print(f"{rows:,} rows, {csv_bytes:,} bytes of CSV, {deflated:,} deflated")
    for label in ORDER:
        print(f"{label:75} {result['cpu'].get(label, 0.0) / rows * 1e6:6.3f} µs a row")
    print(f"{'total':75} {sum(result['cpu'].values()) / rows * 1e6:6.3f} µs a row")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
