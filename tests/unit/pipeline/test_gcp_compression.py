"""gcp_export compression and path templates through the production path (`run_export` into a
local folder): the delivered names, the manifest's checksums over delivered bytes, reruns
byte-identical, and Hive-style folders that DuckDB reads as partitions."""

import gzip
import hashlib
import subprocess

import duckdb
import pytest
from event_export.pipeline.run import run_export

EVENTS = ["add to cart", "खरीदारी पूरी"]


@pytest.fixture
def gcp_fields() -> dict:
    return {"export_id": "gcp_compress", "kind": "selected_events", "events": EVENTS}


def _delivered(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_zstd_json_lines_named_hashed_and_rerun_identically(gcp_config, demo_day, tmp_path):
    config = gcp_config(format="json", compression="zstd", chunk_size_mb=0.01)
    result = run_export(config, demo_day)
    out = tmp_path / "client" / "out"
    assert len(result["files"]) > len(EVENTS)  # cut
    for file in result["files"]:
        assert file["name"].endswith("-db1.json.zst")
        body = (out / file["name"]).read_bytes()
        assert file["size"] == len(body) and file["sha256"] == hashlib.sha256(body).hexdigest()
        text = subprocess.run(["zstd", "-dcq"], input=body, capture_output=True, check=True)
        assert len(text.stdout) <= 10_000  # the limit counts the text, not the stream
    first = _delivered(out)
    run_export(config, demo_day)
    assert _delivered(out) == first


def test_hive_style_path_template_puts_each_event_in_its_folder(gcp_config, demo_day, tmp_path):
    config = gcp_config(
        format="csv", compression="gzip", path_template="dt={yyyy}-{mm}-{dd}/event={event}"
    )
    result = run_export(config, demo_day)
    out = tmp_path / "client" / "out"
    folders = {f["name"].rsplit("/", 1)[0] for f in result["files"]}
    assert folders == {"dt=2026-11-01/event=add-to-cart", "dt=2026-11-01/event=खरीदारी-पूरी"}
    assert (out / result["manifest"]).is_file()  # the manifest stays at the folder's root
    for file in result["files"]:
        assert file["name"].endswith(".csv.gz")
        assert (out / file["name"]).stat().st_size == file["size"]
    read = duckdb.sql(
        f"SELECT event, count(*) FROM read_csv('{out}/*/*/*.csv.gz', hive_partitioning=true, "
        "union_by_name=true, all_varchar=true) GROUP BY event ORDER BY event"
    ).fetchall()
    rows = result["rows_per_event"]
    assert read == [("add-to-cart", rows["add to cart"]), ("खरीदारी-पूरी", rows["खरीदारी पूरी"])]


def test_parquet_zstd_through_a_run(gcp_config, demo_day, tmp_path):
    result = run_export(gcp_config(format="parquet", compression="zstd"), demo_day)
    assert result["files"] and all(f["name"].endswith("-db1.parquet.zstd") for f in result["files"])
    assert gcp_config(format="parquet").codec == "gzip"  # the default stays as it was
    assert gcp_config(format="xml").codec == "none"


def test_profile_file_under_a_template_without_event(gcp_config, demo_day, tmp_path):
    config = gcp_config(
        kind="user_profiles",
        events=[],
        account_id=42,
        path_template="{export_id}/{yyyy}/{mm}/{request_id}",
    )
    result = run_export(config, demo_day)
    (file,) = result["files"]
    folder, name = file["name"].rsplit("/", 1)
    assert folder.startswith("gcp_compress/2026/11/") and name.endswith(".gz")
    assert gzip.decompress((tmp_path / "client" / "out" / file["name"]).read_bytes())
