"""Time the DAG factory's parse of dags/exports.py for 1, 100 and 1,000 generated configs.

Two cases: a full parse (the dag-processor builds every DAG) and a worker's parse for one DAG
(Airflow's parsing context names the DAG, so only its config is read).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = (REPO / "include" / "exports" / "acme_daily.yaml").read_text()


def _write_configs(folder: Path, n: int) -> None:
    for i in range(n):
        name = f"client{i:04d}_daily"
        text = TEMPLATE.replace("export_id: acme_daily", f"export_id: {name}")
        (folder / f"{name}.yaml").write_text(text.replace("client_id: acme", f"client_id: c{i}"))


def _parse(folder: Path, only: str | None) -> float:
    """Seconds for one DagBag fill of exports.py, in a fresh interpreter state per call."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.definitions.context import _AIRFLOW_PARSING_CONTEXT_DAG_ID

    os.environ["EES_EXPORTS_DIR"] = str(folder)
    if only:
        os.environ[_AIRFLOW_PARSING_CONTEXT_DAG_ID] = only
    else:
        os.environ.pop(_AIRFLOW_PARSING_CONTEXT_DAG_ID, None)
    start = time.perf_counter()
    bag = DagBag(dag_folder=REPO / "dags" / "exports.py")
    elapsed = time.perf_counter() - start
    assert not bag.import_errors, bag.import_errors
    return elapsed


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [1, 100, 1000]
    print(f"{'configs':>8} {'full parse s':>13} {'one-DAG parse s':>16}")
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _write_configs(folder, n)
            full = statistics.median(_parse(folder, None) for _ in range(3))
            one = statistics.median(_parse(folder, "export_client0000_daily") for _ in range(3))
        print(f"{n:>8} {full:>13.3f} {one:>16.3f}")


if __name__ == "__main__":
    main()
