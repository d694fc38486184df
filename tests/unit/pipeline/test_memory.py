"""The data path allocates through jemalloc unless the environment chose another pool."""

import os
import subprocess
import sys


def _pool(env: dict[str, str]) -> str:
    code = (
        "import event_export.pipeline.run, pyarrow as pa; "
        "pa.array(['x' * 100] * 10); print(pa.default_memory_pool().backend_name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_the_pipeline_allocates_with_jemalloc():
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    assert _pool(env) == "jemalloc"


def test_an_operators_pool_choice_wins():
    assert _pool({**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}) == "system"
