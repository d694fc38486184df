"""Arrow's allocator on the data path: jemalloc, not pyarrow's default (mimalloc).

Why: with mimalloc the threads' heaps keep pages they freed, so a task's resident memory sat
120-150 MB above jemalloc's for the same work, and the largest tasks passed 1 GB at 10 M events.
Measured on a 3 M-event day of realistic payloads (peak resident MB, CPU seconds within noise):
extract 978 -> 824, format 974-1,009 -> 851-878 (docs/performance.md). An operator's own
`ARROW_DEFAULT_MEMORY_POOL` wins; a pyarrow built without jemalloc keeps its default. Arrow's
C++ code takes its pool from that variable once, at pyarrow's import: the package sets it first
(event_export/__init__.py), which took another 110-210 MB off a 1 M-event day's extract and
format in one process (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import os

import pyarrow as pa


def use_jemalloc() -> str:
    """Make jemalloc pyarrow's default pool (unless the environment chose another); its name.

    Where the package was imported before pyarrow (event_export/__init__.py), Arrow's C++ code
    allocates through jemalloc already; this covers the allocations made from Python when
    pyarrow came first."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "jemalloc") == "jemalloc":
        with contextlib.suppress(NotImplementedError):  # a pyarrow built without it
            pa.set_memory_pool(pa.jemalloc_memory_pool())
    return pa.default_memory_pool().backend_name
