"""Hostile event names (tests/hostile_names.py) through the naming rules and through the stages
in-process: every name portable, unique under case folding and NFC, within 255 bytes under the
longest temporary name, and never a raw name in what the tasks hand over as XCom."""

import json
from datetime import date

import pytest
from conftest import set_local_connection
from event_export.config.model import ExportConfig
from event_export.destinations.base import temp_name
from event_export.pipeline import naming
from event_export.pipeline.run import ExportRun, run_export
from hostile_names import HOSTILE_EVENTS, check_delivery, portable_problems, write_hostile_lake

DAY = date(2026, 11, 2)
TZ = "Asia/Kolkata"
DDMMYYYY = "02112026"


def test_the_corpus_holds_every_kind_the_issue_found():
    assert len(HOSTILE_EVENTS) == len(set(HOSTILE_EVENTS)) >= 60
    assert {"", ".", "..", "a/b", "a-b", "a-b-c14cdd", "Purchase", "purchase"} <= set(
        HOSTILE_EVENTS
    )
    assert any("\x00" in e for e in HOSTILE_EVENTS)
    assert any(len(e.encode()) > 300 for e in HOSTILE_EVENTS)


def test_the_temporary_prefix_is_what_naming_reserves():
    assert len(temp_name("").encode()) == naming.TEMP_OVERHEAD
    assert naming.MAX_FINAL_BYTES + naming.TEMP_OVERHEAD == naming.MAX_NAME_BYTES


def test_zip_members_are_portable_and_unique():
    members = naming.member_names(HOSTILE_EVENTS, DDMMYYYY)
    assert set(members) == set(HOSTILE_EVENTS)
    assert portable_problems(list(members.values())) == []
    # a hash goes before the date: every member keeps the `<event>_<DDMMYYYY>.csv` shape
    assert all(m.endswith(f"_{DDMMYYYY}.csv") for m in members.values())
    assert members == naming.member_names(list(reversed(HOSTILE_EVENTS)), DDMMYYYY)
    # the three events of the issue give three files
    assert len({members["a/b"], members["a-b"], members["a-b-c14cdd"]}) == 3
    assert members["ctrl\x07bell"] == f"ctrl_bell_{DDMMYYYY}.csv"  # not `ctrl?bell`


@pytest.mark.parametrize("chunks", [1, 12])
def test_gcp_event_files_are_portable_and_unique(chunks):
    events = {e: chunks if i % 2 else 1 for i, e in enumerate(HOSTILE_EVENTS)}
    # the longest parts the config allows: a 40-character database id, .parquet.gzip
    named = naming.gcp_event_file_names(
        events, "1234567890", "1793557800", DAY, "d" * 40, "parquet.gzip"
    )
    files = [n for names in named.values() for n in names]
    assert len(files) == sum(events.values())
    assert portable_problems(files) == []
    assert max(len(n.encode()) for n in files) <= naming.MAX_FINAL_BYTES


def test_long_names_are_cut_by_bytes_on_a_character_boundary_with_a_hash():
    for text in ("x" * 300, "é" * 200, "🛒" * 80, "ab" * 104 + "🛒"):
        cut = naming.fit_bytes(text, 100)
        assert len(cut.encode()) <= 100
        assert cut[:-7] == text[: len(cut) - 7] and cut[-7] == "~"
    assert naming.fit_bytes("x" * 250 + "A", 100) != naming.fit_bytes("x" * 250 + "B", 100)
    assert naming.fit_bytes("short", 100) == "short"


def test_labels_are_safe_for_xcom_and_postgres_jsonb():
    labels = [naming.event_label(e) for e in HOSTILE_EVENTS]
    assert len(set(labels)) == len(labels)
    for label in labels:
        assert "\x00" not in label
        assert not any(c in label for c in "\x07\x1b\x7f\x85\u2028\u2029\u202e\u2066")
    assert naming.event_label("add to cart") == "add to cart"
    assert naming.event_label("").startswith(" #") and naming.event_label(" x").endswith(
        f" #{naming.staging_key(' x')[:6]}"
    )


@pytest.fixture
def hostile_lake(tmp_path):
    root = tmp_path / "lake"
    return root, write_hostile_lake(root, DAY, TZ)


def _config(lake, tmp_path, **fields) -> ExportConfig:
    set_local_connection("hostile_local", tmp_path / "client")
    base = {
        "client_id": "acme",
        "export_id": "hostile",
        "source": str(lake),
        "schedule": {"timezone": TZ},
        "destination": {"type": "local", "conn_id": "hostile_local", "path": "out"},
    }
    return ExportConfig.model_validate(base | fields)


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _xcom_problems(value) -> list[str]:
    """NUL (PostgreSQL's JSONB refuses it) or a raw name other than its own label in what a
    task returns as XCom."""
    json.dumps(value)  # XCom's default backend stores JSON
    strings = _strings(value)
    raw = [e for e in HOSTILE_EVENTS if e != naming.event_label(e) and e in strings]
    return [s for s in strings if "\x00" in s] + raw


@pytest.mark.parametrize(
    "fields", [{}, {"profile": "gcp_export", "chunk_size_mb": 0.002}], ids=["zip", "gcp"]
)
def test_every_hostile_event_is_delivered_in_process(hostile_lake, tmp_path, fields):
    lake, counts = hostile_lake
    config = _config(lake, tmp_path, **fields)
    run = ExportRun(config, DAY)
    extracted = run.extract()
    parts = run.split(extracted)
    formatted = run.format_shards(parts)
    files = run.package(formatted)
    batches = run.upload_batches(files)
    for handed_over in (extracted, parts, formatted, files, batches):
        assert _xcom_problems(handed_over) == []
    for batch in batches:
        run.upload_batch(batch)
    summary = run.validate(files)
    assert _xcom_problems(summary) == []
    manifest = check_delivery(tmp_path / "client", "out", counts)
    assert manifest["total_rows"] == sum(counts.values())
    assert set(manifest["rows_per_event"]) == set(HOSTILE_EVENTS)
    # a rerun writes the same names and bytes
    first = {p.name: p.read_bytes() for p in (tmp_path / "client" / "out").iterdir()}
    run_export(config, DAY)
    assert {p.name: p.read_bytes() for p in (tmp_path / "client" / "out").iterdir()} == first


@pytest.mark.parametrize(
    "fields", [{}, {"profile": "gcp_export", "chunk_size_mb": 0.002}], ids=["zip", "gcp"]
)
def test_rows_without_an_event_name_go_out_with_the_empty_names(tmp_path, fields):
    """A null event name in the lake (the platform's data: no config can prevent it) stopped the
    run for the client's whole day. Its rows are now delivered with the empty name's (file `-`),
    counted in the manifest and validated like them."""
    root = tmp_path / "lake"
    counts = write_hostile_lake(root, DAY, TZ, events=(*HOSTILE_EVENTS, None))
    expected = dict(counts)
    expected[""] += expected.pop(None)
    assert expected[""] > counts[""]  # the lake does hold null-named rows
    run_export(_config(root, tmp_path, **fields), DAY)
    manifest = check_delivery(tmp_path / "client", "out", expected)
    assert manifest["rows_per_event"][""] == expected[""]
