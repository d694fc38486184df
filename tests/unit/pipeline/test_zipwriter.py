"""The zip of pre-deflated members: readable by zipfile and unzip, byte-identical whatever the
threads, read sizes or load, with its SHA-256 taken while it is written."""

import hashlib
import itertools
import os
import random
import shutil
import subprocess
import sys
import threading
import zipfile
import zlib

import pytest
from event_export.pipeline import deflate, zipwriter
from event_export.pipeline.deflate import DeflateWriter
from event_export.pipeline.stages.package import build_zip
from event_export.pipeline.zipwriter import Member, assemble_zip
from isal import isal_zlib


@pytest.fixture
def sources(tmp_path):
    """(entry name, file) pairs: compressible, empty, incompressible, a block and a byte."""
    rng = random.Random(5)
    words = ["नमस्ते", "مرحبا", "🎉", "plain", '"quoted"', "a,b", "line\nbreak"]
    csv = "\n".join(",".join(rng.choice(words) for _ in range(8)) for _ in range(60_000))
    files = {
        "add to cart_01112026.csv": csv.encode(),  # several blocks, compressible
        "empty_01112026.csv": b"",
        "खरीदारी पूरी_01112026.csv": rng.randbytes(deflate.BLOCK),  # one block, incompressible
        "tail_01112026.csv": os.urandom(10) + b"x" * (deflate.BLOCK + 1),  # a block and a byte
    }
    out = []
    for i, (name, data) in enumerate(files.items()):
        path = tmp_path / f"m{i}.csv"
        path.write_bytes(data)
        out.append((name, path))
    return out


def _deflate_file(path, target, read_size=deflate.BLOCK, threads=2):
    with path.open("rb") as source, target.open("wb") as out:
        writer = DeflateWriter(out, threads=threads)
        while data := source.read(read_size):
            writer.write(data)
        return writer.close()


def _members(sources, folder, **kwargs):
    folder.mkdir(exist_ok=True)
    return [
        Member(
            name, folder / f"{i}.deflate", _deflate_file(path, folder / f"{i}.deflate", **kwargs)
        )
        for i, (name, path) in enumerate(sources)
    ]


def _unzip_test(path):
    assert shutil.which("unzip"), "unzip is installed by scripts/setup.sh"
    done = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors detected" in done.stdout


def _read_back(path, sources):
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [name for name, _ in sources]
        for info, (name, source) in zip(zf.infolist(), sources, strict=True):
            assert zf.read(info) == source.read_bytes(), name
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert bool(info.flag_bits & 0x800) == (not name.isascii())  # UTF-8 names flagged


def test_zip_reads_back_with_zipfile_and_unzip_and_its_sha256_is_the_files(sources, tmp_path):
    target = tmp_path / "day.zip"
    sha256 = assemble_zip(_members(sources, tmp_path / "members"), target)
    _read_back(target, sources)
    _unzip_test(target)
    assert target.stat().st_size < sum(p.stat().st_size for _, p in sources)
    assert sha256 == hashlib.sha256(target.read_bytes()).hexdigest()


def test_deflate_stream_is_what_zlib_inflates_with_the_crc_and_sizes_it_reports(sources, tmp_path):
    for _, path in sources:
        facts = _deflate_file(path, tmp_path / "one.deflate")
        data, stream = path.read_bytes(), (tmp_path / "one.deflate").read_bytes()
        assert zlib.decompress(stream, wbits=-15) == data
        assert (facts.crc, facts.size, facts.compressed) == (
            zlib.crc32(data),
            len(data),
            len(stream),
        )


def _hammer(stop: threading.Event) -> None:
    """Concurrent load: other deflate work on other threads, all the time."""
    rng = random.Random(1)
    while not stop.is_set():
        isal_zlib.compress(rng.randbytes(rng.randint(1, 3 << 20)), level=1)


def _hash_load(stop: threading.Event) -> None:
    """Concurrent load of another kind: SHA-256 of large buffers (outside the GIL), all the time."""
    data = random.Random(2).randbytes(8 << 20)
    while not stop.is_set():
        hashlib.sha256(data).digest()


def test_deflate_bytes_depend_on_the_data_alone(sources, tmp_path):
    """Issue 19.7: the same member compressed with other read sizes (so other write sizes and
    block fill orders), thread counts and under concurrent load gives the same bytes."""
    path = sources[0][1]  # several blocks
    reference = tmp_path / "reference.deflate"
    _deflate_file(path, reference, threads=1)
    expected = reference.read_bytes()
    stop = threading.Event()
    load = [threading.Thread(target=work, args=(stop,)) for work in (_hammer, _hammer, _hash_load)]
    for thread in load:
        thread.start()
    try:
        cases = [(1, 7), (2, 4096), (3, 65_537), (4, deflate.BLOCK - 1), (2, 3 * deflate.BLOCK)]
        cases.append((2, 2 * deflate.BLOCK + 3))  # whole blocks cut from a write after a part
        for i, (threads, read_size) in enumerate(cases):
            target = tmp_path / f"run{i}.deflate"
            _deflate_file(path, target, read_size=read_size, threads=threads)
            assert target.read_bytes() == expected, (threads, read_size)
    finally:
        stop.set()
        for thread in load:
            thread.join()


def test_two_members_deflated_side_by_side_give_their_own_bytes(sources, tmp_path):
    """As `format` runs two events at once in one process: two writers, each on its own threads,
    interleaved, each with its own read size; each stream equals its member deflated alone."""
    pair = [sources[0][1], sources[3][1]]
    expected = []
    for i, path in enumerate(pair):
        _deflate_file(path, tmp_path / f"alone{i}.deflate", threads=1)
        expected.append((tmp_path / f"alone{i}.deflate").read_bytes())
    for round_ in range(3):
        targets = [tmp_path / f"side{round_}-{i}.deflate" for i in range(2)]
        threads = [
            threading.Thread(target=_deflate_file, args=(path, target, size, n))
            for path, target, size, n in zip(pair, targets, (5_003, 300_007), (2, 3), strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [t.read_bytes() for t in targets] == expected, round_


def test_a_fresh_process_gives_the_same_bytes(sources, tmp_path):
    """Per process state (which CPU code path ISA-L picked at load, memory layout) must not reach
    the bytes: a rerun is a new process. The CPU stays the same here; docs/file-layouts.md says
    what was measured across CPU feature sets."""
    path = sources[0][1]
    _deflate_file(path, tmp_path / "here.deflate")
    code = (
        "import sys; from pathlib import Path; from event_export.pipeline.deflate import "
        "DeflateWriter\n"
        "with open(sys.argv[1], 'rb') as src, open(sys.argv[2], 'wb') as out:\n"
        "    writer = DeflateWriter(out, threads=3)\n"
        "    while data := src.read(77_777): writer.write(data)\n"
        "    writer.close()\n"
    )
    there = tmp_path / "there.deflate"
    subprocess.run([sys.executable, "-c", code, str(path), str(there)], check=True)
    assert there.read_bytes() == (tmp_path / "here.deflate").read_bytes()


def test_a_compressor_keeps_nothing_from_its_earlier_blocks(sources):
    """The per-thread compressors are reused: a block's bytes must not depend on what the same
    compressor deflated before (ISA-L resets its state, hash table included, for each block)."""
    data = sources[0][1].read_bytes()[: deflate.BLOCK]
    history = data[-deflate.WINDOW :]
    for dictionary in (b"", history):
        fresh = deflate._Compressors(deflate.LEVEL)(data, memoryview(dictionary))
        used = deflate._Compressors(deflate.LEVEL)
        for earlier in (sources[2][1].read_bytes(), data[::-1], b"x" * 1000):
            used(earlier, memoryview(earlier[-deflate.WINDOW :]))
            assert used(data, memoryview(dictionary)) == fresh


def test_zip64_records_when_sizes_offsets_and_count_need_them(sources, tmp_path, monkeypatch):
    monkeypatch.setattr(zipwriter, "ZIP64_LIMIT", 1_000)  # every member and offset is "large"
    monkeypatch.setattr(zipwriter, "MAX_ENTRIES", 2)
    target = tmp_path / "big.zip"
    assemble_zip(_members(sources, tmp_path / "members"), target)
    assert b"PK\x06\x06" in target.read_bytes()[-200:]  # zip64 end of central directory
    _read_back(target, sources)
    _unzip_test(target)


def test_a_member_whose_stream_is_not_its_stated_size_is_refused(sources, tmp_path):
    members = _members(sources[:1], tmp_path / "members")
    with members[0].path.open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ValueError, match="expected"):
        assemble_zip(members, tmp_path / "bad.zip")


def test_build_zip_sorts_entries_and_replaces_the_target_atomically(sources, tmp_path):
    target = tmp_path / "out" / "acme_01112026.zip"
    members = _members(sources, tmp_path / "members")
    sha256 = build_zip(list(reversed(members)), target)
    with zipfile.ZipFile(target) as zf:
        assert zf.namelist() == sorted(name for name, _ in sources)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert sha256 == hashlib.sha256(target.read_bytes()).hexdigest()


def _deflate_pieces(data: bytes, cuts: list[int], folder, threads=2) -> list:
    """`data` deflated as pieces cut at `cuts`, as the shards of a cut event write them."""
    bounds = [0, *cuts, len(data)]
    pieces = []
    for i in range(len(bounds) - 1):
        target = folder / f"piece{i}.deflate"
        with target.open("wb") as out:
            writer = DeflateWriter(out, threads=threads, final=i == len(bounds) - 2)
            writer.write(data[bounds[i] : bounds[i + 1]])
            pieces.append((target, writer.close()))
    return pieces


def test_crc32_combine_equals_zlib_over_the_joined_bytes():
    rng = random.Random(18)
    for _ in range(50):
        a, b = (
            rng.randbytes(rng.randint(0, 5000)),
            rng.randbytes(rng.randint(0, 3 << 20 if rng.random() < 0.1 else 5000)),
        )
        assert deflate.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_deflate_pieces_join_into_one_stream_zlib_and_zip_readers_accept(sources, tmp_path):
    """A cut event's member: pieces ending byte-aligned, only the last with the final block,
    concatenated, with the CRC-32 combined and sizes summed; zipfile and unzip -t accept it."""
    data = sources[0][1].read_bytes()  # several blocks
    cuts = [1, deflate.BLOCK + 17, len(data) // 2, len(data) // 2]  # an empty piece, too
    pieces = _deflate_pieces(data, cuts, tmp_path)
    stream = b"".join(p.read_bytes() for p, _ in pieces)
    joined = deflate.join([facts for _, facts in pieces])
    assert zlib.decompress(stream, wbits=-15) == data
    assert (joined.crc, joined.size, joined.compressed) == (
        zlib.crc32(data),
        len(data),
        len(stream),
    )
    for path, _ in pieces[:-1]:  # no piece but the last ends the stream
        inflater = zlib.decompressobj(wbits=-15)
        inflater.decompress(path.read_bytes())
        assert not inflater.eof
    member = Member("cut_01112026.csv", tuple(p for p, _ in pieces), joined)
    others = _members(sources[1:], tmp_path / "members")
    target = tmp_path / "cut.zip"
    sha256 = build_zip([member, *others], target)
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None
        assert zf.read("cut_01112026.csv") == data
    _unzip_test(target)
    again = tmp_path / "again.zip"
    pieces = _deflate_pieces(data, cuts, tmp_path, threads=1)
    member = Member("cut_01112026.csv", tuple(p for p, _ in pieces), joined)
    assert build_zip([member, *others], again) == sha256
    assert again.read_bytes() == target.read_bytes()


def test_pieces_are_the_zip_as_written_bytes_and_member_files(sources, tmp_path):
    """What S3 staging keeps instead of the zip (staging.publish_assembled): runs of bytes the
    writer made and the members' files, which joined in order give the zip byte for byte."""
    members = _members(sources, tmp_path / "members")
    many = members + [  # thousands of entries: a central directory of many small writes
        Member(f"e{i:05d}_01112026.csv", members[1].path, members[1].deflated) for i in range(3000)
    ]
    pieces = []
    assemble_zip(many, tmp_path / "day.zip", pieces)
    assert all(type(p) is bytes or p in {m.path for m in members} for p in pieces)
    assert not any(type(a) is type(b) is bytes for a, b in itertools.pairwise(pieces))
    joined = b"".join(p if type(p) is bytes else p.read_bytes() for p in pieces)
    assert joined == (tmp_path / "day.zip").read_bytes()
    assert sum(type(p) is not bytes for p in pieces) == len(many)
