"""Files cut at a small size limit: each under it, each valid alone, together exactly the input."""

import csv
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from event_export.formats import EVENTS, Options, Output, write_series
from gcp_reference import HOSTILE_EVENT, staged_event

LIMIT = 40_000


@pytest.fixture(scope="module")
def staged(tmp_path_factory, demo_day) -> Path:
    return staged_event(tmp_path_factory.mktemp("staged"), demo_day)


def _ids_json(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == HOSTILE_EVENT  # every chunk starts with the event name
    return [json.loads(line)["eventId"] for line in lines[1:]]


def _ids_xml(path: Path) -> list[str]:
    root = ET.parse(path).getroot()  # a complete document on its own
    assert root.tag == "Events"
    return [event.findtext("eventId") for event in root]


def _ids_csv(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        ids = [row["eventId"] for row in reader]
        assert reader.fieldnames[:3] == ["ts", "eventName", "eventId"]  # every chunk has a header
    return ids


def _ids_parquet(path: Path) -> list[str]:
    return pq.read_table(path).column("eventId").to_pylist()  # its own footer


READERS = {"json": _ids_json, "xml": _ids_xml, "csv": _ids_csv, "parquet": _ids_parquet}


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_chunks_stay_under_the_limit_and_add_up_to_the_input(staged, tmp_path, fmt):
    output = Output(tmp_path, limit=LIMIT)
    chunks = write_series(str(staged), fmt, EVENTS, Options(), output, HOSTILE_EVENT)
    assert len(chunks) >= 3
    paths = [Path(c.path) for c in chunks]
    assert [p.name.split(".")[0] for p in paths] == [f"{i:05d}" for i in range(len(chunks))]
    assert sorted(tmp_path.iterdir()) == paths  # nothing else written
    delivered = []
    for chunk, path in zip(chunks, paths, strict=True):
        assert path.stat().st_size == chunk.size <= LIMIT
        ids = READERS[fmt](path)
        assert len(ids) == chunk.rows > 0
        delivered += ids
    assert delivered == pq.read_table(staged).column("event_id").to_pylist()


@pytest.mark.parametrize("gzip", [False, True])
@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
def test_text_chunks_are_hashed_while_written(staged, tmp_path, fmt, gzip):
    output = Output(tmp_path, limit=LIMIT, gzip=gzip)
    chunks = write_series(str(staged), fmt, EVENTS, Options(), output, HOSTILE_EVENT)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert chunk.sha256 == hashlib.sha256(Path(chunk.path).read_bytes()).hexdigest()


def test_a_record_bigger_than_the_limit_gets_a_file_of_its_own(staged, tmp_path):
    chunks = write_series(str(staged), "json", EVENTS, Options(), Output(tmp_path, limit=100))
    assert {c.rows for c in chunks} == {1}
    assert len(chunks) == pq.ParquetFile(staged).metadata.num_rows


def test_a_parquet_file_over_the_limit_is_rewritten_as_two(staged, tmp_path, monkeypatch):
    from event_export.formats import parquet

    monkeypatch.setattr(parquet, "MARGIN", 0.3)  # plan row groups far too big
    splits = []
    original = parquet.ParquetWriter._split
    monkeypatch.setattr(
        parquet.ParquetWriter,
        "_split",
        lambda self, path: splits.append(path) or original(self, path),
    )
    output = Output(tmp_path, limit=LIMIT)
    chunks = write_series(str(staged), "parquet", EVENTS, Options(), output, HOSTILE_EVENT)
    assert splits  # the planning overshot, and the rewrite caught it
    assert all(Path(c.path).stat().st_size == c.size <= LIMIT for c in chunks)
    delivered = [i for c in chunks for i in _ids_parquet(Path(c.path))]
    assert delivered == pq.read_table(staged).column("event_id").to_pylist()
    assert sorted(tmp_path.iterdir()) == [Path(c.path) for c in chunks]
