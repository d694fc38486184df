"""FTP and FTPS delivery against pyftpdlib on 127.0.0.1: temporary name, rename, client errors."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from event_export.destinations import ClientSideError, DeliveryError
from event_export.destinations.base import is_temp
from event_export.destinations.ftp import FTPDestination
from hostile_names import check_templated_delivery, templated_export_files, upload_longest_names
from servers.delivery import deliver, export_files, make_file, manifest_came_last
from servers.ftp import self_signed_certificate
from servers.net import set_connection
from servers.watch import Watcher, on_disk

MiB = 1024 * 1024


@pytest.fixture(params=["ftp", "ftps"])
def server(request):
    """Each test runs against plain FTP and against FTPS (explicit TLS, certificate checked)."""
    server = request.getfixturevalue(f"{request.param}_server")
    for entry in server.root.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    server.drop_after(None)
    set_connection("it_ftp", server.connection())
    return server


def destination(server, folder: str = "acme", conn_id: str = "it_ftp") -> FTPDestination:
    return FTPDestination(conn_id, folder, ftps=server.tls)


def test_multi_file_export_is_delivered_into_new_folders_and_verified(server, tmp_path):
    files = export_files(tmp_path / "staging")
    target = server.root / "acme" / "daily"
    with Watcher(on_disk(target)) as watcher:
        assert deliver(destination(server, "acme/daily"), files, tmp_path) == []
    delivered = {p.name: p for p in target.iterdir()}
    assert set(delivered) == {f["name"] for f in files} | {"export_01112026.manifest"}
    for f in files:
        assert hashlib.sha256(delivered[f["name"]].read_bytes()).hexdigest() == f["sha256"]
        assert watcher.seen[f["name"]] == {f["size"]}
    assert manifest_came_last(watcher.listings, files)


def test_verification_catches_a_short_file(server, tmp_path):
    local = make_file(tmp_path / "day.zip", 5000)
    target = destination(server)
    target.upload(local, "day.zip")
    (server.root / "acme" / "day.zip").write_bytes(local.read_bytes()[:4000])
    assert target.verify("day.zip", 5000, "unused: FTP has no checksum", local) == [
        "day.zip: size 4000 at the destination, 5000 expected"
    ]


def test_dropped_session_leaves_only_a_hidden_part_and_a_retry_completes(server, tmp_path):
    local = make_file(tmp_path / "day.zip", 4 * MiB)
    folder = server.root / "acme"
    server.drop_after(1 * MiB)  # the server goes away a quarter into the file
    with Watcher(on_disk(folder)) as watcher, pytest.raises(DeliveryError) as err:
        destination(server).upload(local, "day.zip")
    assert not isinstance(err.value, ClientSideError)
    assert server.drops >= 1
    assert "day.zip" not in watcher.seen
    parts = [name for name in watcher.seen if is_temp(name)]
    assert parts and all(max(watcher.seen[p]) < 4 * MiB for p in parts)
    assert destination(server).list() == {}

    server.drop_after(None)
    with Watcher(on_disk(folder)) as watcher:
        destination(server).upload(local, "day.zip")
    assert watcher.seen["day.zip"] == {4 * MiB}
    assert sorted(p.name for p in folder.iterdir()) == ["day.zip"]  # the old part is gone
    assert (folder / "day.zip").read_bytes() == local.read_bytes()


def test_a_rerun_replaces_the_file(server, tmp_path):
    target = destination(server)
    target.upload(make_file(tmp_path / "one" / "day.zip", 3000, seed=1), "day.zip")
    second = make_file(tmp_path / "two" / "day.zip", 2000, seed=2)
    target.upload(second, "day.zip")
    assert (server.root / "acme" / "day.zip").read_bytes() == second.read_bytes()
    assert target.list() == {"day.zip": target.list()["day.zip"]}


def test_wrong_password_is_the_clients_problem_and_stays_secret(server, tmp_path, caplog):
    wrong = "Wrong-Passw0rd-never-shown"
    set_connection("it_ftp_wrong", server.connection(password=wrong))
    with pytest.raises(ClientSideError) as err:
        destination(server, conn_id="it_ftp_wrong").upload(make_file(tmp_path / "a", 1), "a")
    assert err.value.code == "auth_failed"
    assert wrong not in str(err.value) and wrong not in caplog.text


def test_missing_root_folder_is_the_clients_problem(server, tmp_path):
    set_connection("it_ftp_root", server.connection(path="/no/such/folder"))
    with pytest.raises(ClientSideError) as err:
        destination(server, conn_id="it_ftp_root").upload(make_file(tmp_path / "a", 1), "a")
    assert err.value.code == "path_missing"


def test_a_read_only_user_is_the_clients_problem(server, tmp_path):
    (server.root / "acme").mkdir()
    set_connection("it_ftp_reader", server.connection(login="reader"))
    with pytest.raises(ClientSideError) as err:
        destination(server, conn_id="it_ftp_reader").upload(make_file(tmp_path / "a", 1), "a")
    assert err.value.code == "permission_denied"
    assert list((server.root / "acme").iterdir()) == []


def test_ftps_refuses_a_certificate_it_does_not_trust(ftps_server, tmp_path, monkeypatch):
    other_authority, _ = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(other_authority))
    set_connection("it_ftps_untrusted", ftps_server.connection())
    with pytest.raises(DeliveryError, match="could not be verified") as err:
        FTPDestination("it_ftps_untrusted", "acme", ftps=True).list()
    assert not isinstance(err.value, ClientSideError)
    assert err.value.code == "certificate_untrusted"


def test_the_longest_names_upload_under_their_temporary_names(server, tmp_path):
    """211-byte names (ASCII and multi-byte) from hostile event names: the temporary name
    `.uploading-<32 hex>-<name>` is 255 bytes, the most the server's file system takes."""
    upload_longest_names(destination(server), make_file(tmp_path / "day.bin", 100))


def test_path_template_folders_are_created_and_verified(server, tmp_path):
    """gcp_export's path_template: nested names, each folder made (MKD) on the way down."""
    files = templated_export_files(tmp_path / "staging")
    check_templated_delivery(destination(server, "acme/daily"), files, tmp_path)
    root = server.root / "acme" / "daily"
    for f in files:
        assert hashlib.sha256((root / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    assert not [p for p in root.rglob("*") if is_temp(p.name)]
