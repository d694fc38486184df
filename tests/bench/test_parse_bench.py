"""`make bench-parse` pieces at a tiny N: the generated configs are valid and spread over every
destination, kind and schedule, and one DAG file's parse in a fresh process reports its DAGs.
Timings are never asserted."""

from collections import Counter

from conftest import REPO, load_bench
from event_export.config.model import load_all
from event_export.orchestration.factory import shard_of


def _bench():
    return load_bench("parse.py")


def test_generated_configs_load_and_one_shard_parses_alone(tmp_path):
    bench = _bench()
    bench.write_configs(tmp_path, 30)
    good, errors = load_all(tmp_path)
    assert errors == [] and len(good) == 30
    configs = list(good.values())
    assert set(Counter(c.destination.type for c in configs)) == {
        "local",
        "s3",
        "gcs",
        "sftp",
        "ftp",
    }
    assert set(Counter(c.schedule.frequency for c in configs)) == {"daily", "recurring", "one_time"}
    result = bench.parse_file(REPO / "dags" / "exports_03.py", tmp_path)
    assert result["errors"] == 0 and result["s"] > 0
    assert result["dags"] == sum(1 for c in configs if shard_of(c.export_id) == 3) > 0
