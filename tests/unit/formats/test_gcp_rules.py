"""Table-driven rules of the GCP export: identity fallback, values as strings, file names."""

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from event_export.formats import EVENTS, Options, Output, write_series
from event_export.formats.records import resolve_identity
from event_export.formats.text import csv_field, csv_field_py, json_member, xml_element
from event_export.pipeline import naming
from event_export.pipeline.lake import EVENT_SCHEMA
from gcp_reference import XML_ILLEGAL


@pytest.mark.parametrize(
    ("identity", "email", "phone", "priority", "expected"),
    [
        ("id-1", "a@x.example", "+91 1", ["identity", "email", "phone"], "id-1"),
        (None, "a@x.example", "+91 1", ["identity", "email", "phone"], "a@x.example"),
        ("", "a@x.example", "+91 1", ["identity", "email", "phone"], "a@x.example"),
        (None, None, "+91 1", ["identity", "email", "phone"], "+91 1"),
        (None, "", "", ["identity", "email", "phone"], ""),
        (None, None, None, ["identity", "email", "phone"], ""),
        ("id-1", "a@x.example", "+91 1", ["email", "identity"], "a@x.example"),
        ("id-1", None, "+91 1", ["email", "phone"], "+91 1"),
        ("id-1", "a@x.example", None, ["phone", "email", "identity"], "a@x.example"),
        ("id-1", "a@x.example", "+91 1", ["phone"], "+91 1"),
        (None, "a@x.example", "+91 1", ["identity"], ""),
        ("ग्राहक-१", None, None, ["identity"], "ग्राहक-१"),
    ],
)
def test_identity_takes_the_first_present_identifier(identity, email, phone, priority, expected):
    columns = {
        "identity": pa.array([identity], pa.string()),
        "email": pa.array([email], pa.string()),
        "phone": pa.array([phone], pa.string()),
    }
    assert resolve_identity(columns, priority).to_pylist() == [expected]


VALUES = [
    # value, as written in JSON with the switch off, and on
    (59.99, 59.99, "59.99"),
    (3, 3, "3"),
    (2**62, 2**62, str(2**62)),
    (True, True, "true"),
    (False, False, "false"),
    (None, None, None),
    ("text", "text", "text"),
    ("", "", ""),
    ({"a": [1, "b"]}, {"a": [1, "b"]}, '{"a":[1,"b"]}'),
    ([1, 2.5], [1, 2.5], "[1,2.5]"),
    ("नमस्ते 🎉", "नमस्ते 🎉", "नमस्ते 🎉"),
]


def _staged(tmp_path, payloads: list[dict]) -> str:
    rows = [
        {
            **dict.fromkeys(EVENT_SCHEMA.names),
            "event_name": "e",
            "event_id": str(i),
            "ts": datetime(2026, 11, 1, tzinfo=UTC),
            "payload": json.dumps(p),
        }
        for i, p in enumerate(payloads)
    ]
    path = tmp_path / "staged.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), path)
    return str(path)


@pytest.mark.parametrize(("value", "off", "on"), VALUES)
@pytest.mark.parametrize("as_strings", [False, True])
def test_values_as_strings_switch_in_json(tmp_path, value, off, on, as_strings):
    staged = _staged(tmp_path, [{"v": value}])
    options = Options(values_as_strings=as_strings)
    [chunk] = write_series(staged, "json", EVENTS, options, Output(tmp_path / "out"), "e")
    record = json.loads(Path(chunk.path).read_text(encoding="utf-8").splitlines()[1])
    assert record["eventProps"] == {"v": on if as_strings else off}


@pytest.mark.parametrize(
    ("values", "parquet_type"),
    [
        ([1, 2], "int64"),
        ([1, 2.5], "double"),
        ([True, False], "bool"),
        (["a", "b"], "string"),
        ([1, "a"], "string"),
        ([{"a": 1}, None], "string"),
        ([None, None], "string"),
    ],
)
@pytest.mark.parametrize("as_strings", [False, True])
def test_values_as_strings_switch_in_parquet(tmp_path, values, parquet_type, as_strings):
    staged = _staged(tmp_path, [{"v": v} for v in values])
    options = Options(values_as_strings=as_strings)
    [chunk] = write_series(staged, "parquet", EVENTS, options, Output(tmp_path / "out"))
    table = pq.read_table(chunk.path)
    assert str(table.schema.field("eventProps").type.field("v").type) == (
        "string" if as_strings else parquet_type
    )


@pytest.mark.parametrize(
    ("event", "part"),
    [
        ("add to cart", "add-to-cart"),
        ("a/b\\c", "a-b-c"),
        ("tab\there\nnew\r", "tab-here-new-"),
        ("nul\x00byte", "nul-byte"),
        ("bell\x07 esc\x1b del\x7f", "bell_-esc_-del_"),
        ("no\u00a0break\u3000wide", "no-break-wide"),
        ("../../etc/passwd", "-..-etc-passwd"),
        ("..", "-"),
        ("", "-"),
        ("खरीदारी पूरी 🛒", "खरीदारी-पूरी-🛒"),
        ("مرحبا بالعالم", "مرحبا-بالعالم"),
    ],
)
def test_event_names_in_gcp_file_names(event, part):
    assert naming.safe_component(event, keep_spaces=False) == part
    name = naming.gcp_event_file_name("1", "2", part, date(2026, 11, 1), 0, "db", "json")
    assert name == f"1-2-{part}-20261101-0-db.json"
    assert "/" not in name and "\x00" not in name and not name.startswith(".")


def test_colliding_event_names_get_distinct_stable_parts():
    def names(events: dict[str, int]) -> dict[str, list[str]]:
        return naming.gcp_event_file_names(events, "1", "2", date(2026, 11, 1), "db", "csv")

    chunks = {"a b": 1, "a/b": 2, "a\tb": 1, "c": 1}
    out = names(chunks)
    assert out["c"] == ["1-2-c-20261101-0-db.csv"]
    assert out["a\tb"] == ["1-2-a-b-20261101-0-db.csv"]  # first in name order: no hash
    assert len({n for files in out.values() for n in files}) == 5
    assert all(f.startswith("1-2-a-b-") for e, fs in out.items() if e != "c" for f in fs)
    assert out == names(dict(reversed(list(chunks.items()))))


def test_request_id_and_run_timestamp_are_stable():
    day = "2026-11-01_2026-11-01"
    assert naming.request_id_for("acme", "x", day) == naming.request_id_for("acme", "x", day)
    assert naming.request_id_for("acme", "x", day) != naming.request_id_for("acme", "y", day)
    other_day = "2026-11-02_2026-11-02"
    assert naming.request_id_for("acme", "x", day) != naming.request_id_for("acme", "x", other_day)
    assert naming.request_id_for("acme", "x", day).isdigit()
    end = datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
    assert naming.run_timestamp(end) == "1793557800"
    profile = naming.gcp_profile_file_name(42, "0123456789", "1793557800", "db1", "parquet")
    assert profile == "42-0123456789-1793557800-db1-parquet.gz"


HOSTILE = ["plain", 'q"uote', "back\\slash", "nl\nx", "cr\rx", "bell\x07", "nul\x00",
           "ls\u2028ps\u2029nel\u0085", "<&>", "  pad ", "", "a,b", "नमस्ते 🎉", None]  # fmt: skip


@pytest.mark.parametrize("repeat", [1, 8])  # unique values, and few distinct ones (by value)
def test_text_escaping_matches_the_standard_encoders(repeat):
    column = pa.array(HOSTILE * repeat, pa.string())
    encoded = zip(
        column.to_pylist(),
        json_member(column, "k").to_pylist(),
        xml_element(column, "v").to_pylist(),
        csv_field(column).to_pylist(),
        strict=True,
    )
    for value, member, element, field in encoded:
        if value is None:
            assert member is element is field is None
            continue
        assert json.loads("{" + member + "}") == {"k": value}
        assert "\u2028" not in member and "\n" not in member
        assert (ET.fromstring(element).text or "") == XML_ILLEGAL.sub("?", value)
        assert next(csv.reader(io.StringIO(field + "\n", newline=""))) == [value]
        assert field == csv_field_py(value)
