"""Staged Arrow IPC files: a row range reads its own batches, not the whole file."""

import os
from pathlib import Path

import pyarrow as pa
import pytest
from event_export.pipeline import ipc

BATCHES, ROWS = 8, 2_000


def _staged(path: Path, with_number: bool) -> pa.Table:
    """A compressed staged file of 8 batches whose text does not compress (random bytes as hex)."""
    batches = []
    for b in range(BATCHES):
        text = pa.array([os.urandom(48).hex() for _ in range(ROWS)])
        columns = {"payload": text}
        if with_number:
            columns["pts"] = pa.array(range(b * ROWS, (b + 1) * ROWS), pa.int32())
        batches.append(pa.RecordBatch.from_pydict(columns))
    with ipc.open_writer(path, batches[0].schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return pa.Table.from_batches(batches)


def _read_chars() -> int:
    """Bytes this process's read() calls returned so far (all threads), from the kernel."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["rchar"])


@pytest.mark.parametrize("with_number", [True, False], ids=["fixed-width column", "text only"])
@pytest.mark.parametrize(
    "start, stop", [(0, 10), (1_999, 2_001), (5_000, 16_000), (15_999, 16_000)]
)
def test_a_range_yields_exactly_its_rows(tmp_path, with_number, start, stop):
    path = tmp_path / "event.arrow"
    whole = _staged(path, with_number)
    read = pa.Table.from_batches(list(ipc.read_staged(str(path), rows=(start, stop))))
    assert read.equals(whole.slice(start, stop - start))


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
def test_a_range_of_one_batch_reads_a_fraction_of_the_file(tmp_path):
    """A cut event's shard asks for its rows; learning the batches' lengths used to read (and
    decompress) every column of every batch first, so each shard of an event paid for all of it."""
    path = tmp_path / "event.arrow"
    _staged(path, with_number=True)
    size = path.stat().st_size
    before = _read_chars()
    rows = sum(b.num_rows for b in ipc.read_staged(str(path), rows=(2 * ROWS, 3 * ROWS)))
    read = _read_chars() - before
    assert rows == ROWS
    assert read < size / 3, (
        f"read {read:,} bytes of a {size:,}-byte file for one batch of {BATCHES}"
    )


def _coded(values: list, order: list) -> pa.DictionaryArray:
    """`values` as a dictionary array whose dictionary lists `order` (a lake row group's own)."""
    index = {v: i for i, v in enumerate(order)}
    codes = pa.array([None if v is None else index[v] for v in values], pa.int32())
    return pa.DictionaryArray.from_arrays(codes, pa.array(order, pa.string()))


def test_dictionary_columns_are_staged_with_one_growing_dictionary_per_file(tmp_path):
    """Each lake row group brings its own dictionary (other values, another order); an IPC file
    holds one per column, grown by deltas: every batch reads back as it was written."""
    groups = [
        (["ios", "android", None, "ios"], ["ios", "android"]),
        (["web", "ios", "web", ""], ["web", "", "ios"]),  # a new order and two new values
        (["android", "android"], ["android"]),
        (["linux", None, "ios"], ["ios", "linux", "android", "web"]),
    ]
    schema = pa.schema([("os", pa.dictionary(pa.int32(), pa.string())), ("n", pa.int32())])
    batches = [
        pa.RecordBatch.from_arrays(
            [_coded(v, o), pa.array(range(len(v)), pa.int32())], schema=schema
        )
        for v, o in groups
    ]
    path = tmp_path / "event.arrow"
    with ipc.open_writer(path, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    read = list(ipc.read_staged(str(path)))
    assert [ipc.decoded(b).column("os").to_pylist() for b in read] == [v for v, _ in groups]
    assert read[-1].column("os").dictionary.to_pylist() == ["ios", "android", "web", "", "linux"]
    whole = pa.Table.from_batches([ipc.decoded(b) for b in read])
    assert whole.column("os").type == pa.string()
    assert whole.num_rows == sum(len(v) for v, _ in groups)
    tail = list(ipc.read_staged(str(path), ["os"], rows=(10, 13)))
    assert [ipc.decoded(b).column("os").to_pylist() for b in tail] == [["linux", None, "ios"]]


def test_a_dictionary_that_outgrows_its_bound_is_restaged_as_text(tmp_path, monkeypatch):
    """A lake whose low-cardinality column holds free text (a device model per row, say) must not
    cost a growing dictionary per batch: past ipc.MAX_DICTIONARY values the file is rewritten once
    with that column as text, and the other dictionary columns stay as they were."""
    monkeypatch.setattr(ipc, "MAX_DICTIONARY", 50)
    schema = pa.schema(
        [
            ("model", pa.dictionary(pa.int32(), pa.string())),
            ("os", pa.dictionary(pa.int32(), pa.string())),
        ]
    )
    written = []
    path = tmp_path / "event.arrow"
    with ipc.open_writer(path, schema) as writer:
        for b in range(6):
            models = [f"model {b}-{i}" for i in range(20)]  # 20 new values a batch
            oses = ["ios", "android"] * 10
            batch = pa.RecordBatch.from_arrays(
                [_coded(models, models), _coded(oses, ["ios", "android"])], schema=schema
            )
            writer.write_batch(batch)
            written.append(ipc.decoded(batch))
    staged = ipc.schema_of(str(path))
    assert staged.field("model").type == pa.string()
    assert pa.types.is_dictionary(staged.field("os").type)
    read = pa.Table.from_batches([ipc.decoded(b) for b in ipc.read_staged(str(path))])
    assert read.equals(pa.Table.from_batches(written))
    assert [p.name for p in tmp_path.iterdir()] == ["event.arrow"]  # no rewrite left behind


def test_a_low_cardinality_column_staged_as_a_dictionary_is_a_fraction_of_its_text(
    tmp_path, monkeypatch
):
    """What the dictionaries are for: under LZ4, repeated text and its 32-bit offsets compress
    poorly; codes into one dictionary do not."""
    monkeypatch.setenv("EES_STAGING_COMPRESSION", "lz4")
    models = ["SM-G991B", "iPhone14,2", "Pixel 8", "Redmi Note 12", "CPH2381"]
    values = [models[(i * 7919) % 5 if i % 3 else i % 2] for i in range(40_000)]
    sizes = {}
    for name, column in (("text", pa.array(values)), ("dictionary", _coded(values, models))):
        path = tmp_path / f"{name}.arrow"
        batch = pa.RecordBatch.from_arrays([column], names=["model"])
        with ipc.open_writer(path, batch.schema) as writer:
            writer.write_batch(batch)
        assert ipc.decoded(next(ipc.read_staged(str(path)))).column(0).to_pylist() == values
        sizes[name] = path.stat().st_size
    assert sizes["dictionary"] < sizes["text"] / 3, sizes


def test_a_batch_stages_only_the_dictionary_values_its_rows_use(tmp_path):
    """A batch cut per event from a lake row group carries the row group's whole dictionary: an
    event whose rows use three device models of 40,000 stages those three, and stays a
    dictionary, where collecting every value would pass ipc.MAX_DICTIONARY and restage it as
    text."""
    row_group = pa.array([f"model {n}" for n in range(40_000)])
    schema = pa.schema([("model", pa.dictionary(pa.int32(), pa.string()))])
    path = tmp_path / "event.arrow"
    with ipc.open_writer(path, schema) as writer:
        for start in (7, 19_000):  # two batches of one event: other rows, other models
            codes = pa.array([start, None, start + 2, start + 4, start] * 50, pa.int32())
            column = pa.DictionaryArray.from_arrays(codes, row_group)
            writer.write_batch(pa.RecordBatch.from_arrays([column], schema=schema))
    assert pa.types.is_dictionary(ipc.schema_of(str(path)).field("model").type)
    read = list(ipc.read_staged(str(path)))
    assert read[-1].column(0).dictionary.to_pylist() == [
        f"model {n}" for n in (7, 9, 11, 19_000, 19_002, 19_004)
    ]
    assert ipc.decoded(read[1]).column(0).to_pylist()[:5] == [
        "model 19000", None, "model 19002", "model 19004", "model 19000",
    ]  # fmt: skip
