"""The ISA-L zip writer: readable by zipfile and unzip, and byte-identical whatever the threads."""

import os
import random
import shutil
import subprocess
import zipfile

import pytest
from event_export.pipeline import zipwriter
from event_export.pipeline.stages.package import build_zip


@pytest.fixture
def members(tmp_path):
    rng = random.Random(5)
    words = ["नमस्ते", "مرحبا", "🎉", "plain", '"quoted"', "a,b", "line\nbreak"]
    csv = "\n".join(",".join(rng.choice(words) for _ in range(8)) for _ in range(60_000))
    files = {
        "add to cart_01112026.csv": csv.encode(),  # several blocks, compressible
        "empty_01112026.csv": b"",
        "खरीदारी पूरी_01112026.csv": rng.randbytes(zipwriter.BLOCK),  # one block, incompressible
        "tail_01112026.csv": os.urandom(10) + b"x" * (zipwriter.BLOCK + 1),  # a block and a byte
    }
    out = []
    for i, (name, data) in enumerate(files.items()):
        path = tmp_path / f"m{i}.csv"
        path.write_bytes(data)
        out.append((name, path))
    return out


def _unzip_test(path):
    assert shutil.which("unzip"), "unzip is installed by scripts/setup.sh"
    done = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors detected" in done.stdout


def _read_back(path, members):
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [name for name, _ in members]
        for info, (name, source) in zip(zf.infolist(), members, strict=True):
            assert zf.read(info) == source.read_bytes(), name
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert bool(info.flag_bits & 0x800) == (not name.isascii())  # UTF-8 names flagged


def test_zip_reads_back_with_zipfile_and_unzip(members, tmp_path):
    target = tmp_path / "day.zip"
    zipwriter.write_zip(members, target)
    _read_back(target, members)
    _unzip_test(target)
    assert target.stat().st_size < sum(p.stat().st_size for _, p in members)


def test_zip_bytes_do_not_depend_on_threads_or_runs(members, tmp_path):
    outputs = []
    for i, threads in enumerate([1, 2, 2, 3]):
        target = tmp_path / f"run{i}.zip"
        zipwriter.write_zip(members, target, threads=threads)
        outputs.append(target.read_bytes())
    assert all(o == outputs[0] for o in outputs)


def test_zip64_records_when_sizes_offsets_and_count_need_them(members, tmp_path, monkeypatch):
    monkeypatch.setattr(zipwriter, "ZIP64_LIMIT", 1_000)  # every member and offset is "large"
    monkeypatch.setattr(zipwriter, "MAX_ENTRIES", 2)
    target = tmp_path / "big.zip"
    zipwriter.write_zip(members, target)
    assert b"PK\x06\x06" in target.read_bytes()[-200:]  # zip64 end of central directory
    _read_back(target, members)
    _unzip_test(target)


def test_build_zip_sorts_entries_and_replaces_the_target_atomically(members, tmp_path):
    target = tmp_path / "out" / "acme_01112026.zip"
    build_zip(list(reversed(members)), target)
    with zipfile.ZipFile(target) as zf:
        assert zf.namelist() == sorted(name for name, _ in members)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
