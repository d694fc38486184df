"""sFTP delivery against OpenSSH's sshd on 127.0.0.1, as a real user, host key checked."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from event_export.destinations import ClientSideError, DeliveryError
from event_export.destinations.base import is_temp
from event_export.destinations.sftp import SFTPDestination
from hostile_names import check_templated_delivery, templated_export_files, upload_longest_names
from servers.delivery import deliver, export_files, make_file, manifest_came_last
from servers.net import set_connection
from servers.proxy import CutoffProxy
from servers.sshd import keygen
from servers.watch import Watcher, on_disk

MiB = 1024 * 1024


@pytest.fixture
def home(sshd) -> Path:
    """The test user's home, emptied: the sFTP session starts there."""
    for entry in sshd.home.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    set_connection("it_sftp", sshd.connection())
    return sshd.home


def test_multi_file_export_is_delivered_into_new_folders_and_verified(sshd, home, tmp_path):
    files = export_files(tmp_path / "staging")
    target = home / "acme" / "daily"
    with Watcher(on_disk(target)) as watcher:
        assert deliver(SFTPDestination("it_sftp", "acme/daily"), files, tmp_path) == []
    delivered = {p.name: p for p in target.iterdir()}
    assert set(delivered) == {f["name"] for f in files} | {"export_01112026.manifest"}
    for f in files:
        assert hashlib.sha256(delivered[f["name"]].read_bytes()).hexdigest() == f["sha256"]
        assert delivered[f["name"]].stat().st_uid != 0  # written by the sFTP user, not root
    for f in files:  # under its final name a file only ever had its full size
        assert watcher.seen[f["name"]] == {f["size"]}
    assert manifest_came_last(watcher.listings, files)


def test_private_key_login_delivers(sshd, home, tmp_path):
    connection = sshd.connection(private_key=sshd.client_private_key)
    del connection["password"]
    set_connection("it_sftp_key", connection)
    local = make_file(tmp_path / "day.zip", 3000)
    destination = SFTPDestination("it_sftp_key", "acme")
    destination.upload(local, "day.zip")
    assert (home / "acme" / "day.zip").read_bytes() == local.read_bytes()
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert destination.verify("day.zip", 3000, sha256, local) == []


def test_a_rerun_replaces_the_file_atomically(sshd, home, tmp_path):
    destination = SFTPDestination("it_sftp", "acme")
    first = make_file(tmp_path / "one" / "day.zip", 2 * MiB, seed=1)
    second = make_file(tmp_path / "two" / "day.zip", 3 * MiB, seed=2)
    destination.upload(first, "day.zip")
    with Watcher(on_disk(home / "acme")) as watcher:
        destination.upload(second, "day.zip")
    assert watcher.seen["day.zip"] == {2 * MiB, 3 * MiB}  # the old whole file, then the new
    assert (home / "acme" / "day.zip").read_bytes() == second.read_bytes()
    assert sorted(p.name for p in (home / "acme").iterdir()) == ["day.zip"]


def test_interrupted_upload_leaves_only_a_hidden_part_and_a_retry_completes(sshd, home, tmp_path):
    proxy = CutoffProxy(sshd.port)
    set_connection("it_sftp_proxy", sshd.connection(port=proxy.port))
    local = make_file(tmp_path / "day.zip", 6 * MiB)
    folder = home / "acme"
    proxy.cut_after(3 * MiB)  # the connection drops halfway through the file
    with Watcher(on_disk(folder)) as watcher, pytest.raises(DeliveryError) as err:
        SFTPDestination("it_sftp_proxy", "acme").upload(local, "day.zip")
    assert not isinstance(err.value, ClientSideError)
    assert proxy.cuts == 1
    assert "day.zip" not in watcher.seen  # never visible under its final name
    parts = [name for name in watcher.seen if is_temp(name)]
    assert parts and all(max(watcher.seen[p]) < 6 * MiB for p in parts)  # written, hidden
    assert SFTPDestination("it_sftp", "acme").list() == {}

    proxy.heal()
    with Watcher(on_disk(folder)) as watcher:
        SFTPDestination("it_sftp_proxy", "acme").upload(local, "day.zip")
    assert watcher.seen["day.zip"] == {6 * MiB}
    assert sorted(p.name for p in folder.iterdir()) == ["day.zip"]  # the old part is gone
    assert (folder / "day.zip").read_bytes() == local.read_bytes()
    proxy.close()


def test_wrong_password_is_the_clients_problem_and_stays_secret(sshd, home, tmp_path, caplog):
    wrong = "Wrong-Passw0rd-never-shown"
    set_connection("it_sftp_wrong", {**sshd.connection(), "password": wrong})
    with pytest.raises(ClientSideError) as err:
        SFTPDestination("it_sftp_wrong", "acme").upload(make_file(tmp_path / "a", 1), "a")
    assert err.value.code == "auth_failed"
    assert wrong not in str(err.value) and wrong not in caplog.text
    assert sshd.password not in str(err.value) and sshd.password not in caplog.text


def test_a_different_host_key_is_refused_before_anything_is_sent(sshd, home, tmp_path):
    impostor = keygen(tmp_path / "impostor")
    set_connection("it_sftp_impostor", sshd.connection(host_key=impostor))
    with pytest.raises(DeliveryError, match="host key is not the one") as err:
        SFTPDestination("it_sftp_impostor", "acme").upload(make_file(tmp_path / "a", 1), "a")
    assert not isinstance(err.value, ClientSideError)  # on-call checks it, not the client
    assert err.value.code == "host_key_mismatch"
    assert list(home.iterdir()) == []


def test_host_key_checking_is_off_only_when_asked_explicitly(sshd, home, tmp_path):
    connection = sshd.connection()
    del connection["extra"]["host_key"]
    set_connection("it_sftp_nokey", connection)
    with pytest.raises(DeliveryError, match="has no host_key"):
        SFTPDestination("it_sftp_nokey", "acme").upload(make_file(tmp_path / "a", 1), "a")
    assert list(home.iterdir()) == []

    connection["extra"]["no_host_key_check"] = True
    set_connection("it_sftp_unchecked", connection)
    SFTPDestination("it_sftp_unchecked", "acme").upload(make_file(tmp_path / "a", 1), "a")
    assert (home / "acme" / "a").exists()


def test_missing_root_folder_is_the_clients_problem(sshd, home, tmp_path):
    set_connection("it_sftp_root", sshd.connection(path="/srv/no/such/folder"))
    with pytest.raises(ClientSideError) as err:
        SFTPDestination("it_sftp_root", "acme").upload(make_file(tmp_path / "a", 1), "a")
    assert err.value.code == "path_missing"
    assert "/srv/no/such/folder" in err.value.explanation


def test_a_folder_the_user_may_not_write_is_the_clients_problem(sshd, home, tmp_path):
    locked = home / "locked"
    locked.mkdir(mode=0o755)  # owned by root: the sFTP user may read, not write
    with pytest.raises(ClientSideError) as err:
        SFTPDestination("it_sftp", "locked").upload(make_file(tmp_path / "a", 1), "a")
    assert err.value.code == "permission_denied"
    assert list(locked.iterdir()) == []


def test_the_longest_names_upload_under_their_temporary_names(home, tmp_path):
    """211-byte names (ASCII and multi-byte) from hostile event names: the temporary name
    `.uploading-<32 hex>-<name>` is 255 bytes, the most the server's file system takes."""
    upload_longest_names(SFTPDestination("it_sftp", "acme"), make_file(tmp_path / "day.bin", 100))


def test_path_template_folders_are_created_and_verified(sshd, home, tmp_path):
    """gcp_export's path_template: nested names, their folders made with their parents."""
    files = templated_export_files(tmp_path / "staging")
    check_templated_delivery(SFTPDestination("it_sftp", "acme/daily"), files, tmp_path)
    root = home / "acme" / "daily"
    for f in files:
        assert hashlib.sha256((root / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    assert not [p for p in root.rglob("*") if is_temp(p.name)]
