"""Event Export Scheduler: scheduled delivery of event data into clients' own storage.

Importing the package chooses Arrow's allocator before anything imports pyarrow: Arrow's C++ code
(Parquet decoding, IPC reading and writing, compute kernels) allocates through the pool that
`ARROW_DEFAULT_MEMORY_POOL` names when pyarrow is first imported, and only then; setting pyarrow's
default pool later (pipeline/memory.py) reaches the allocations made from Python alone. Why
jemalloc: pipeline/memory.py. An operator's own setting wins.
"""

import os
import sys

if sys.platform == "linux":  # the platform whose pyarrow wheels build jemalloc in
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
