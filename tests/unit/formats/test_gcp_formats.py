"""Each GCP export format read back by an independent reader, every value compared with the lake."""

import csv
import gzip
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from event_export.formats import EVENTS, PROFILES, Options, Output, write_series
from event_export.generator import generate_profiles
from gcp_reference import (
    EVENT_GROUPS,
    EVENT_SCALARS,
    HOSTILE_EVENT,
    as_text_view,
    expected_event,
    expected_profile,
    read_xml_record,
    staged_event,
    text_of,
    xml_view,
)

TZ = "Asia/Kolkata"


@pytest.fixture(scope="module")
def staged(tmp_path_factory, demo_day) -> Path:
    return staged_event(tmp_path_factory.mktemp("staged"), demo_day)


@pytest.fixture(scope="module")
def lake_rows(staged) -> list[dict]:
    return pq.read_table(staged).to_pylist()


def _write(staged, tmp_path, fmt, **options) -> Path:
    chunks = write_series(
        str(staged), fmt, EVENTS, Options(timezone=TZ, **options), Output(tmp_path), HOSTILE_EVENT
    )
    assert len(chunks) == 1
    return Path(chunks[0].path)


def test_json_lines_round_trip(staged, lake_rows, tmp_path):
    path = _write(staged, tmp_path, "json", identity_priority=("identity", "email", "phone"))
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    lines = text.splitlines()  # splits on U+2028 and friends too: they must be escaped
    assert lines == text.split("\n")[:-1]
    assert json.loads(lines[0]) == HOSTILE_EVENT
    records = [json.loads(line) for line in lines[1:]]
    assert len(records) == len(lake_rows)
    for got, row in zip(records, lake_rows, strict=True):
        expected = expected_event(row, TZ, ("identity", "email", "phone"))
        del expected["eventName"]  # the first line holds it
        assert got == expected
        assert isinstance(got["ts"], int)
    assert any(isinstance(v, float) for r in records for v in r["eventProps"].values())


def test_xml_round_trip(staged, lake_rows, tmp_path):
    path = _write(staged, tmp_path, "xml")
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Events>')
    root = ET.parse(path).getroot()
    assert root.tag == "Events"
    assert len(root) == len(lake_rows)
    for element, row in zip(root, lake_rows, strict=True):
        assert element.tag == "Event"
        assert [c.tag for c in element][:2] == ["ts", "eventName"]
        got = read_xml_record(element, "eventProps")
        assert got == xml_view(expected_event(row, TZ), "eventProps")
    assert any("?" in (e.text or "") for e in root.iter("url"))  # the bell became '?'
    assert any("\r\n" in (e.text or "") for e in root.iter("url"))  # CR survived the parser


def test_csv_round_trip(staged, lake_rows, tmp_path):
    path = _write(staged, tmp_path, "csv")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        records = list(reader)
        header = reader.fieldnames
    keys = sorted({k for row in lake_rows for k in json.loads(row["payload"] or "{}")})
    assert header == [
        "ts",
        *[n for n, _ in EVENT_SCALARS],
        "profile.identity",
        *[f"{g}.{n}" for g, fields in EVENT_GROUPS.items() for n, _ in fields],
        *[f"eventProps.{k}" for k in keys],
    ]
    assert len(records) == len(lake_rows)
    for got, row in zip(records, lake_rows, strict=True):
        view = as_text_view(expected_event(row, TZ), "eventProps")
        expected = dict.fromkeys(header, "")  # absent values read back as empty fields
        expected.update({n: view[n] for n in ("ts", *[n for n, _ in EVENT_SCALARS]) if n in view})
        for group in ("profile", "deviceInfo", "eventProps"):
            expected.update({f"{group}.{k}": v for k, v in view[group].items()})
        assert got == expected


def test_csv_tells_an_empty_string_from_an_absent_value(staged, tmp_path):
    text = _write(staged, tmp_path, "csv").read_text(encoding="utf-8")
    assert ',"",' in text  # the empty string
    assert ",," in text  # absent values


def test_parquet_round_trip_keeps_types(staged, lake_rows, tmp_path):
    path = _write(staged, tmp_path, "parquet")
    assert path.name.endswith(".parquet.gzip")
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.row_group(0).column(0).compression == "GZIP"
    table = parquet.read()
    assert table.schema.field("ts").type.tz == TZ
    props_type = table.schema.field("eventProps").type
    assert str(props_type.field("mixed").type) == "string"  # 1 in one row, "text now" in another
    assert str(props_type.field("big").type) == "int64"
    records = table.to_pylist()
    assert len(records) == len(lake_rows)
    for got, row in zip(records, lake_rows, strict=True):
        assert got["ts"] == row["ts"]
        for name, col in EVENT_SCALARS:
            assert got[name] == row[col], name
        expected = expected_event(row, TZ)
        assert {k: v for k, v in got["profile"].items() if v is not None} == expected["profile"]
        assert {k: v for k, v in got["deviceInfo"].items() if v is not None} == expected[
            "deviceInfo"
        ]
        lake_props = expected["eventProps"]
        for key, value in got["eventProps"].items():
            source = lake_props.get(key)
            if source is None or isinstance(source, dict | list) or key == "mixed":
                assert value == text_of(source), key
            else:
                assert value == source and type(value) is type(source), key


def test_values_as_strings_applies_to_every_property(staged, lake_rows, tmp_path):
    json_path = _write(staged, tmp_path / "j", "json", values_as_strings=True)
    records = [json.loads(line) for line in json_path.read_text("utf-8").splitlines()[1:]]
    for got, row in zip(records, lake_rows, strict=True):
        assert got["eventProps"] == expected_event(row, TZ, as_strings=True)["eventProps"]
        assert all(isinstance(v, str) for v in got["eventProps"].values() if v is not None)
        assert isinstance(got["ts"], int)  # the timestamp is not a property
    table = pq.read_table(_write(staged, tmp_path / "p", "parquet", values_as_strings=True))
    assert {str(f.type) for f in table.schema.field("eventProps").type} == {"string"}


def _profile_records(fmt: str, body: bytes) -> list[dict]:
    """A profile file, gunzipped, read back into the shape of `as_text_view` (text formats) or
    of the JSON object (json, parquet)."""
    if fmt == "json":
        return [json.loads(line) for line in body.decode("utf-8").splitlines()]
    if fmt == "xml":
        root = ET.fromstring(body)
        assert root.tag == "Profiles"
        return [read_xml_record(e, "profileProps") for e in root]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
        out = []
        for row in rows:
            record: dict = {"profile": {}, "profileProps": {}}
            for key, value in row.items():
                group, _, field = key.partition(".")
                if field:
                    record[group][field] = value
                else:
                    record[key] = value
            out.append(record)
        return out
    return pq.read_table(io.BytesIO(body)).to_pylist()


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "parquet"])
def test_profile_snapshot_round_trip(tmp_path, demo_day, fmt):
    snapshot = generate_profiles(demo_day, 400)
    path = tmp_path / "profiles.parquet"
    pq.write_table(snapshot, path)
    priority = ("phone", "email", "identity")
    options = Options(timezone=TZ, identity_priority=priority)
    [chunk] = write_series(str(path), fmt, PROFILES, options, Output(tmp_path / "o", gzip=True))
    records = _profile_records(fmt, gzip.decompress(Path(chunk.path).read_bytes()))
    lake_rows = snapshot.to_pylist()
    assert len(records) == len(lake_rows) == chunk.rows
    for got, row in zip(records, lake_rows, strict=True):
        expected = expected_profile(row, TZ, priority)
        if fmt == "json":
            assert got == expected
        elif fmt == "parquet":
            assert got["firstSeen"] == row["first_seen"]
            assert {k: v for k, v in got["profile"].items() if v is not None} == expected["profile"]
            props = {k: v for k, v in got["profileProps"].items() if v is not None}
            assert props == {
                k: v if not isinstance(v, dict | list) else text_of(v)
                for k, v in expected["profileProps"].items()
            }
        else:
            view = (xml_view if fmt == "xml" else as_text_view)(expected, "profileProps")
            if fmt == "csv":  # a CSV row has every column; absent values read back as ""
                got = {
                    k: {f: v for f, v in g.items() if v != "" or f in view[k]}
                    if isinstance(g, dict)
                    else g
                    for k, g in got.items()
                }
            assert got == view
