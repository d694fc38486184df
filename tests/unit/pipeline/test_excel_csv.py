"""`csv_for_excel`: a UTF-8 BOM and formula-like cells made text (OWASP's CSV-injection advice),
in both profiles' CSV files; off by default, where every value goes out as it is. Also: profile
`.gz` files carry their own name in the gzip header."""

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import set_local_connection
from event_export.config.model import ExportConfig
from event_export.formats import EVENTS, PROFILES, Options, Output, write_series
from event_export.generator import generate_profiles
from event_export.pipeline.lake import EVENT_SCHEMA
from event_export.pipeline.run import run_export
from event_export.pipeline.stages.csv_format import format_csv
from hostile_names import write_hostile_lake

BOM = b"\xef\xbb\xbf"
HOSTILE_CELLS = {  # value -> what Excel-safe CSV holds
    '=HYPERLINK("http://evil.example","x")': '\'=HYPERLINK("http://evil.example","x")',
    "@SUM(1,1)": "'@SUM(1,1)",
    "+1+1": "'+1+1",
    "-2+3": "'-2+3",
    "\tTAB": "'\tTAB",
    "\rCR": "'\rCR",
    "a=b": "a=b",
    "plain": "plain",
    "": "",
}


def _staged(tmp_path: Path) -> str:
    ts = datetime(2026, 11, 1, 6, tzinfo=UTC)
    rows = []
    for i, value in enumerate(HOSTILE_CELLS):
        row = {name: None for name in EVENT_SCHEMA.names}
        row.update(
            event_name="=evil()",
            event_id=f"e{i}",
            ts=ts,
            identity=value,
            pts=-5,
            payload=json.dumps({"cell": value, "n": -7}),
        )
        rows.append(row)
    path = tmp_path / "staged.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), path)
    return str(path)


def _records(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("excel", [True, False])
def test_daily_zip_csv(tmp_path, excel):
    target = tmp_path / "out.csv"
    format_csv(_staged(tmp_path), "k", "Asia/Kolkata", target, excel)
    data = target.read_bytes()
    assert data.startswith(BOM) is excel
    records = _records(data)
    for (value, safe), record in zip(HOSTILE_CELLS.items(), records, strict=True):
        expected = safe if excel else value
        assert record["Identity"] == expected and record["payload.cell"] == expected
        assert record["pts"] == ("'-5" if excel else "-5")
        assert record["payload.n"] == ("'-7" if excel else "-7")


@pytest.mark.parametrize("excel", [True, False])
def test_gcp_csv_every_chunk(tmp_path, excel):
    options = Options(timezone="Asia/Kolkata", csv_for_excel=excel)
    output = Output(tmp_path / "o", limit=700)
    chunks = write_series(_staged(tmp_path), "csv", EVENTS, options, output, "=evil()")
    assert len(chunks) > 1
    records = []
    for chunk in chunks:
        data = Path(chunk.path).read_bytes()
        assert data.startswith(BOM) is excel
        records += _records(data)
    assert len(records) == len(HOSTILE_CELLS)
    for (value, safe), record in zip(HOSTILE_CELLS.items(), records, strict=True):
        expected = safe if excel else value
        assert record["profile.identity"] == expected
        assert record["eventProps.cell"] == expected
        assert record["eventName"] == ("'=evil()" if excel else "=evil()")


def test_the_option_is_off_by_default_and_reaches_both_profiles(tmp_path):
    day = date(2026, 11, 2)
    lake = write_hostile_lake(tmp_path / "lake", day, "Asia/Kolkata")
    set_local_connection("excel_local", tmp_path / "client")
    base = {
        "client_id": "acme",
        "export_id": "excel",
        "source": str(tmp_path / "lake"),
        "schedule": {"timezone": "Asia/Kolkata"},
        "destination": {"type": "local", "conn_id": "excel_local"},
    }
    assert ExportConfig.model_validate(base).csv_for_excel is False
    for fields in ({}, {"profile": "gcp_export"}):
        folder = "gcp" if fields else "zip"
        destination = {**base["destination"], "path": folder}
        config = ExportConfig.model_validate(
            base | fields | {"csv_for_excel": True, "destination": destination}
        )
        result = run_export(config, day)
        assert sum(result["rows_per_event"].values()) == sum(lake.values())
        files = [p for p in (tmp_path / "client" / folder).iterdir() if p.suffix != ".manifest"]
        bodies = []
        for path in files:
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    bodies += [zf.read(n) for n in zf.namelist()]
            else:
                bodies.append(path.read_bytes())
        assert len(bodies) == len(lake) and all(b.startswith(BOM) for b in bodies)
        if fields:
            names = {r["eventName"] for b in bodies for r in _records(b)}
            assert '\'=HYPERLINK("http://x")' in names and '=HYPERLINK("http://x")' not in names


def _gzip_name(data: bytes) -> bytes | None:
    """The FNAME field of a gzip member's header (RFC 1952), or None."""
    assert data[:3] == b"\x1f\x8b\x08"
    if not data[3] & 0x08:
        return None
    return data[10 : data.index(b"\x00", 10)]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_gzip_headers_carry_the_file_name(tmp_path, demo_day, fmt):
    path = tmp_path / "profiles.parquet"
    pq.write_table(generate_profiles(demo_day, 20), path)
    name = f"42-1234567890-1793557800-db1-{fmt}.gz"
    output = Output(tmp_path / "o", gzip=True, gzip_name=name)
    [chunk] = write_series(str(path), fmt, PROFILES, Options(), output)
    assert _gzip_name(Path(chunk.path).read_bytes()) == name.removesuffix(".gz").encode()


def test_delivered_profile_gz_names_itself(kolkata_lake, demo_day, tmp_path):
    set_local_connection("gz_local", tmp_path / "client")
    config = ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "gz",
            "source": str(kolkata_lake),
            "profile": "gcp_export",
            "kind": "user_profiles",
            "account_id": 42,
            "destination": {"type": "local", "conn_id": "gz_local"},
        }
    )
    [delivered] = [f["name"] for f in run_export(config, demo_day)["files"]]
    data = (tmp_path / "client" / delivered).read_bytes()
    assert _gzip_name(data) == delivered.removesuffix(".gz").encode()
