"""gcp_export's writers with properties read in native code write, byte for byte, what the Python
reference writes (`records.NATIVE = False`: each distinct text parsed and rendered in Python).

Every format (JSON lines, XML, CSV, Parquet) and the options that change how properties are
written (values as strings, Excel-safe CSV, a locked schema that drops keys) run over the hostile
payload corpus (tests/payload_corpus.py) in one batch, both ways payloads are read (once per
distinct text, or row by row); each text the reference refuses must fail the native path too.
"""

from pathlib import Path

import pyarrow as pa
import pytest
from event_export.formats import EVENTS, WRITERS, Options, Output, records
from event_export.formats.base import FormatWriter
from event_export.formats.records import PropsSchema, Rows, scan_props
from event_export.formats.text import json_text
from event_export.pipeline import payload, payload_cells
from event_export.pipeline.lake import EVENT_SCHEMA
from event_export.pipeline.payload import kinds_of
from payload_corpus import HOSTILE, ORDINARY


@pytest.fixture(autouse=True)
def _native_for_every_batch(monkeypatch):
    """The corpus batches are small: without this they would go to the Python reference whole
    (`payload._NATIVE_MIN_ROWS`) and the native code would go untested."""
    monkeypatch.setattr(payload, "_NATIVE_MIN_ROWS", 0)


FORMATS = ["json", "xml", "csv", "parquet"]
OPTIONS = {
    "plain": Options(timezone="Asia/Kolkata"),
    "as strings": Options(values_as_strings=True),
    "excel": Options(csv_for_excel=True),
}


def _batch(texts: list[str | None], members: bool = False) -> pa.RecordBatch:
    """Event rows around the given properties texts (every other field simple and fixed); with
    `members`, each payload's member count as extract stages it (payload.MEMBERS)."""
    n = len(texts)
    columns = []
    for field in EVENT_SCHEMA:
        if field.name == "payload":
            columns.append(pa.array(texts, pa.string()))
        elif pa.types.is_timestamp(field.type):
            columns.append(pa.array([1_793_000_000_000 + i for i in range(n)]).cast(field.type))
        elif pa.types.is_string(field.type):
            columns.append(pa.array([f"{field.name}-{i % 3}" for i in range(n)], field.type))
        else:
            columns.append(pa.array(range(n)).cast(field.type))
    batch = pa.RecordBatch.from_arrays(columns, schema=EVENT_SCHEMA)
    if not members:
        return batch
    _, counts = payload.keys_by_group(batch.column("payload"), pa.array([0] * n, pa.int32()))
    return batch.append_column(payload.MEMBERS, counts)


def _written(fmt: str, options: Options, props: PropsSchema, texts, out: Path, batch=None) -> bytes:
    writer: FormatWriter = WRITERS[fmt](EVENTS, options, props, Output(out), "purchase")
    writer.write(Rows(_batch(texts) if batch is None else batch, EVENTS, options, props))
    chunks = writer.close()
    return b"".join(Path(c.path).read_bytes() for c in chunks)


def _outcome(fmt, options, props, texts, out: Path, native: bool, monkeypatch):
    monkeypatch.setattr(records, "NATIVE", native)
    try:
        return _written(fmt, options, props, texts, out / f"{fmt}-{native}")
    except Exception as error:  # the reference raising is part of what must match
        return type(error)


def _schema(texts, options: Options, fmt: str) -> PropsSchema:
    return scan_props([pa.array(texts, pa.string())], options.values_as_strings, fmt == "parquet")


def _good() -> list[str]:
    """The hostile texts the reference writes in every format (one raising text fails a batch)."""
    good = []
    for text in HOSTILE:
        try:
            kinds_of([pa.array([text])])
            payload.parse(text)
            json_text(payload.parse(text)).encode()
        except Exception:
            continue
        good.append(text)
    return good


GOOD = _good()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_every_format_writes_the_hostile_corpus_as_the_reference(
    fmt, option, payload_read_path, tmp_path, monkeypatch
):
    assert len(GOOD) > 50  # the corpus is mostly texts the reference writes
    texts = [*GOOD, *ORDINARY, None, "", *GOOD[::-1], *ORDINARY]
    options = OPTIONS[option]
    props = _schema(texts, options, fmt)
    reference = _outcome(fmt, options, props, texts, tmp_path, False, monkeypatch)
    assert isinstance(reference, bytes) and len(reference) > 1000
    assert _outcome(fmt, options, props, texts, tmp_path, True, monkeypatch) == reference


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_staged_member_counts_write_the_hostile_corpus_as_the_reference(
    fmt, option, payload_read_path, tmp_path, monkeypatch
):
    """A file staged with the payloads' member counts (extract's, for the formats that collect
    keys) is written with them, to the reference's bytes: format's DuckDB reader (where the
    scanner is not built) skips its own raw-text test."""
    from event_export.pipeline import payload_native

    monkeypatch.setattr(payload_cells, "available", lambda: False)

    good = [t for t in GOOD if '"":' not in t.replace(" ", "")]  # an empty key: all to Python
    texts = [*good, *ORDINARY, None, "", *good[::-1], *ORDINARY]
    options = OPTIONS[option]
    props = _schema(texts, options, fmt)
    assert "" not in props.keys
    reference = _outcome(fmt, options, props, texts, tmp_path, False, monkeypatch)
    assert isinstance(reference, bytes) and len(reference) > 1000
    monkeypatch.setattr(records, "NATIVE", True)
    staged = _batch(texts, members=True)
    tested, given = [], []
    own_tests, flatten_native = payload_native._suspect_texts, payload.flatten_native
    monkeypatch.setattr(
        payload_native, "_suspect_texts", lambda t: tested.append(1) or own_tests(t)
    )
    monkeypatch.setattr(
        payload,
        "flatten_native",
        lambda t, k, m: given.append(m is not None) or flatten_native(t, k, m),
    )
    assert _written(fmt, options, props, texts, tmp_path / "members", staged) == reference
    assert not tested
    assert given == ([] if fmt == "json" else [True])  # JSON renders properties in Python


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_locked_schema_drops_the_same_keys(fmt, tmp_path, monkeypatch):
    texts = [*GOOD, *ORDINARY, None]
    options = OPTIONS["plain"]
    props = _schema(texts, options, fmt).only(["a", "b", "price", "missing"])
    assert props.drops
    reference = _outcome(fmt, options, props, texts, tmp_path, False, monkeypatch)
    assert isinstance(reference, bytes)
    assert _outcome(fmt, options, props, texts, tmp_path, True, monkeypatch) == reference


def test_each_text_the_reference_refuses_fails_the_native_path_too(tmp_path, monkeypatch):
    refused = [text for text in HOSTILE if text not in GOOD]  # GOOD ones: the batch tests
    assert len(refused) > 10
    for text in refused:
        texts = [*ORDINARY, text, None]
        for fmt in FORMATS:
            options = OPTIONS["plain"]
            try:  # the pre-pass's own error (the same on both paths: see test_payload_native)
                props = _schema(texts, options, fmt)
            except Exception:
                continue
            out = tmp_path / str(HOSTILE.index(text))
            reference = _outcome(fmt, options, props, texts, out, False, monkeypatch)
            native = _outcome(fmt, options, props, texts, out, True, monkeypatch)
            assert native == reference, (fmt, text)


@pytest.mark.parametrize(
    "values",
    [
        ["1.5", "2", "9007199254740992", "-0.0", "1e-7", "null"],  # float64, exact integers
        ["1.5", "9007199254740993"],  # an integer a double cannot hold: pyarrow refuses it
        ["1", "-9223372036854775808", "9223372036854775807"],  # int64 bounds
        ["9223372036854775808", "1"],  # past int64: text
        ["true", "false", "null"],  # boolean
        ["18446744073709551616", "1.5"],  # past 64 bits: text
    ],
)
def test_typed_parquet_columns_match_the_reference(values, tmp_path, monkeypatch):
    texts = [f'{{"p": {v}, "q": "x"}}' for v in values]
    options = OPTIONS["plain"]
    props = _schema(texts, options, "parquet")
    reference = _outcome("parquet", options, props, texts, tmp_path, False, monkeypatch)
    assert _outcome("parquet", options, props, texts, tmp_path, True, monkeypatch) == reference


def test_the_text_formats_need_only_the_keys_found_natively():
    texts = pa.array([*GOOD, *ORDINARY], pa.string())
    keys_only = scan_props([texts], typed=False)
    typed = scan_props([texts])
    assert keys_only.keys == typed.keys
    assert set(keys_only.types) == {pa.string()} != set(typed.types)
