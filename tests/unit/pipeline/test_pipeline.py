"""The stages chained in-process (no scheduler): counts, layout and byte-identical reruns."""

import csv
import hashlib
import io
import json
import zipfile

import pyarrow.compute as pc
import pytest
from conftest import set_local_connection
from event_export.config.model import ExportConfig
from event_export.pipeline import ipc, schema
from event_export.pipeline.lake import read_window
from event_export.pipeline.run import ExportRun, run_export


@pytest.fixture
def config(kolkata_lake, tmp_path) -> ExportConfig:
    set_local_connection("unit_local", tmp_path / "client")
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "unit_acme",
            "source": str(kolkata_lake),
            "schedule": {"timezone": "Asia/Kolkata"},
            "destination": {"type": "local", "conn_id": "unit_local", "path": "out"},
        }
    )


def test_export_delivers_every_row_of_the_day_once(config, demo_day, tmp_path):
    result = run_export(config, demo_day)
    zip_path = tmp_path / "client" / "out" / "acme_01112026.zip"
    window = ExportRun(config, demo_day).window
    lake_ids = set()
    for batch in read_window(config.source, window, columns=["event_id"]):
        lake_ids.update(batch.column("event_id").to_pylist())
    delivered_ids = []
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            assert info.filename.endswith("_01112026.csv")
            rows = list(csv.DictReader(io.TextIOWrapper(zf.open(info), "utf-8", newline="")))
            delivered_ids += [r["eventId"] for r in rows]
    assert len(delivered_ids) == len(lake_ids) == sum(result["rows_per_event"].values())
    assert set(delivered_ids) == lake_ids
    assert (tmp_path / "client" / "out" / "acme_01112026.manifest").exists()


def test_rerun_of_the_same_day_is_byte_identical(config, demo_day, tmp_path):
    target = tmp_path / "client" / "out"
    run_export(config, demo_day)
    first = {p.name: p.read_bytes() for p in target.iterdir()}
    run_export(config, demo_day)
    second = {p.name: p.read_bytes() for p in target.iterdir()}
    assert first == second
    assert sorted(first) == ["acme_01112026.manifest", "acme_01112026.zip"]


def test_the_zip_is_the_same_whichever_staging_compression(config, demo_day, tmp_path, monkeypatch):
    """EES_STAGING_COMPRESSION changes the staged bytes only: lz4 or plain staging delivers the
    zip that ZSTD staging does, byte for byte."""
    monkeypatch.setattr(ipc, "PLAIN_BELOW", 0)  # this day's events would all go plain
    target = tmp_path / "client" / "out" / "acme_01112026.zip"
    delivered = {}
    for codec in ("zstd", "lz4", "none"):
        monkeypatch.setenv("EES_STAGING_COMPRESSION", codec)
        run_export(config, demo_day)
        delivered[codec] = target.read_bytes()
    assert delivered["lz4"] == delivered["zstd"] == delivered["none"]


def test_selected_events_export_only_those(config, demo_day):
    selected = config.model_copy(
        update={"kind": "selected_events", "events": ["add to cart", "खरीदारी पूरी"]}
    )
    result = run_export(selected, demo_day)
    assert set(result["rows_per_event"]) == {"add to cart", "खरीदारी पूरी"}
    window = ExportRun(selected, demo_day).window
    batches = read_window(selected.source, window, selected.events, columns=["event_name"])
    expected = sum(pc.sum(pc.equal(b.column("event_name"), "add to cart")).as_py() for b in batches)
    assert result["rows_per_event"]["add to cart"] == expected


def test_run_summary_and_manifest_carry_the_request_id_sizes_and_location(
    config, demo_day, tmp_path
):
    result = run_export(config, demo_day)
    zip_bytes = (tmp_path / "client" / "out" / "acme_01112026.zip").read_bytes()
    manifest = json.loads((tmp_path / "client" / "out" / result["manifest"]).read_bytes())
    run = ExportRun(config, demo_day)
    assert result["request_id"] == manifest["request_id"] == run.request_id
    assert run.request_id != ExportRun(config, demo_day.replace(day=2)).request_id
    assert result["location"] == manifest["location"] == "local://unit_local/out"
    assert result["files"] == [
        {
            "name": "acme_01112026.zip",
            "size": len(zip_bytes),
            "sha256": hashlib.sha256(zip_bytes).hexdigest(),
            "rows": sum(result["rows_per_event"].values()),
        }
    ]
    assert result["bytes"] == len(zip_bytes)


def test_a_profile_snapshot_is_one_part_and_split_reads_nothing(config, demo_day):
    """Extract counted the snapshot's rows: split passes them on without fetching the file, which
    with staging on S3 would be a download of the whole snapshot."""
    from event_export.pipeline.run import PROFILES_PART

    fields = {"profile": "gcp_export", "kind": "user_profiles", "account_id": 7}
    profiles = ExportConfig.model_validate({**config.model_dump(exclude_unset=True), **fields})
    extracted = {"day": demo_day.isoformat(), "rows": 12, "path": "never/staged.parquet"}
    part = {
        "key": PROFILES_PART,
        "label": PROFILES_PART,
        "rows": 12,
        "path": "never/staged.parquet",
    }
    assert ExportRun(profiles, demo_day).split(extracted) == [
        {"label": PROFILES_PART, "rows": 12, "parts": [part]}
    ]


def _members(zip_bytes: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        assert zf.testzip() is None
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_a_cut_event_makes_the_same_csv_and_a_byte_identical_zip_on_rerun(
    config, demo_day, tmp_path, monkeypatch
):
    """Issue 18.2: with shards smaller than the largest events, those events are formatted in
    row ranges by several tasks and their members joined from deflate pieces; the CSVs are those
    of the uncut day, the zip reruns byte-identical and `unzip -t` accepts it. Only an event's
    first piece records its columns, and the manifest's schema is the uncut day's."""
    from test_zipwriter import _unzip_test

    target = tmp_path / "client" / "out" / "acme_01112026.zip"
    manifest = target.with_suffix(".manifest")
    run_export(config, demo_day)
    uncut = _members(target.read_bytes())
    uncut_schema = {k: v for k, v in json.loads(manifest.read_text()).items() if "schema" in k}
    monkeypatch.setenv("EES_SHARD_ROWS", "300")
    run = ExportRun(config, demo_day)
    shards = run.split(run.extract())
    cut = [p for s in shards for p in s["parts"] if p.get("pieces", 1) > 1]
    assert len({p["key"] for p in cut}) >= 3 and max(p["pieces"] for p in cut) >= 3
    assert len(shards) < len(uncut) + len(cut)  # small events share shards
    later = next(p for p in cut if p["piece"] > 0)
    run.format(later)
    staged = run.store.keys(f"{run.prefix}/format/{later['key']}")
    assert len(staged) == 1 and not staged[0].endswith(schema.EVENT_FILE)  # its piece alone
    run_export(config, demo_day)
    first = target.read_bytes()
    assert _members(first) == uncut
    assert {k: v for k, v in json.loads(manifest.read_text()).items() if "schema" in k} == (
        uncut_schema
    )
    _unzip_test(target)
    run_export(config, demo_day)
    assert target.read_bytes() == first
