"""The temp-name-then-rename upload (local, sFTP, FTP share it), on a real local folder.

sFTP and FTP run the same steps against real servers in tests/integration; here the folder is
the local destination's, so each rule is seen without a server.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from event_export.destinations.base import is_temp, temp_name
from event_export.destinations.errors import DeliveryError
from event_export.destinations.local import LocalDestination
from hostile_names import check_templated_delivery, templated_export_files


class CutShort(LocalDestination):
    """A store whose write loses the file's tail, as a data channel closed early would."""

    def _write(self, at: Path, local: Path, entry: str) -> None:
        (at / entry).write_bytes(local.read_bytes()[:-1])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "a.zip"
    path.write_bytes(b"x" * 1000)
    return path


def test_an_upload_renames_into_place_and_leaves_no_temporary(tmp_path, source, caplog):
    root = tmp_path / "root"
    root.mkdir()
    destination = LocalDestination(root, "acme/in")
    with caplog.at_level(logging.INFO, logger="event_export.destinations.base"):
        destination.upload(source, "a.zip")
    folder = root / "acme" / "in"
    assert [p.name for p in folder.iterdir()] == ["a.zip"]
    assert (folder / "a.zip").read_bytes() == source.read_bytes()
    assert f"Uploaded a.zip (1000 bytes) to {folder} in" in caplog.text


def test_a_retry_removes_what_an_interrupted_try_of_the_same_file_left(tmp_path, source):
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    left = root / "in" / temp_name("a.zip")
    other = root / "in" / temp_name("b.zip")  # another file's try may still be running
    left.write_bytes(b"part")
    other.write_bytes(b"part")
    LocalDestination(root, "in").upload(source, "a.zip")
    assert sorted(p.name for p in (root / "in").iterdir()) == sorted(["a.zip", other.name])


def test_a_file_cut_short_never_gets_its_final_name(tmp_path, source):
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    (root / "in" / "a.zip").write_bytes(b"yesterday's whole file")
    with pytest.raises(DeliveryError, match="stored 999 of 1000 bytes; not renamed into place"):
        CutShort(root, "in").upload(source, "a.zip")
    assert (root / "in" / "a.zip").read_bytes() == b"yesterday's whole file"
    assert not any(is_temp(p.name) for p in (root / "in").iterdir())


def test_path_template_folders_are_created_in_a_local_folder(tmp_path):
    """gcp_export's path_template on the local destination: nested names, folders made."""
    root = tmp_path / "root"
    root.mkdir()
    files = templated_export_files(tmp_path / "staging")
    check_templated_delivery(LocalDestination(root, "acme/in"), files, tmp_path)
    for f in files:
        assert (root / "acme" / "in" / f["name"]).read_bytes() == Path(f["path"]).read_bytes()
    assert not [p for p in root.rglob("*") if is_temp(p.name)]
