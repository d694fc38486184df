"""The data path allocates through jemalloc unless the environment chose another pool: Arrow's
C++ code too (Parquet decoding, IPC, kernels), whose pool is fixed when pyarrow is imported."""

import os
import subprocess
import sys

import pytest


def _pool(env: dict[str, str], imports: str = "event_export.pipeline.run, pyarrow as pa") -> str:
    code = (
        f"import {imports}; "
        "pa.array(['x' * 100] * 10); print(pa.default_memory_pool().backend_name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def _unset() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}


def test_the_pipeline_allocates_with_jemalloc():
    assert _pool(_unset()) == "jemalloc"


def test_arrows_own_code_allocates_with_jemalloc_once_the_package_came_first():
    """Without `pipeline.run` (which sets pyarrow's default from Python), the pool shown is the
    one Arrow's C++ code chose at pyarrow's import."""
    assert _pool(_unset(), "event_export, pyarrow as pa") == "jemalloc"
    assert _pool(_unset(), "pyarrow as pa") == "mimalloc"  # pyarrow's own default, for contrast


def test_python_allocations_use_jemalloc_when_pyarrow_came_first():
    assert _pool(_unset(), "pyarrow as pa, event_export.pipeline.run") == "jemalloc"


@pytest.mark.parametrize(
    "imports", ["event_export.pipeline.run, pyarrow as pa", "event_export, pyarrow as pa"]
)
def test_an_operators_pool_choice_wins(imports):
    assert _pool({**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}, imports) == "system"
