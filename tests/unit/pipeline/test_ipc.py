"""Staged Arrow IPC files: a row range reads its own batches, not the whole file."""

import os
from pathlib import Path

import pyarrow as pa
import pytest
from event_export.pipeline import ipc

BATCHES, ROWS = 8, 2_000


def _staged(path: Path, with_number: bool) -> pa.Table:
    """A ZSTD-staged file of 8 batches whose text does not compress (random bytes as hex)."""
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
