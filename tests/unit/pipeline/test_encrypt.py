"""OpenPGP encryption (config `encrypt`), checked by decrypting with GnuPG as a client does: the
daily zip and gcp_export files in-process, the manifest over the delivered bytes, the bad-key
corpus through the key check, names that must still fit."""

import errno
import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from conftest import set_local_connection
from event_export.config.model import ExportConfig
from event_export.destinations.errors import SetupError
from event_export.pipeline import encrypt
from event_export.pipeline.naming import MAX_FINAL_BYTES
from event_export.pipeline.run import ExportRun, run_export
from pgp_keys import KeyPair, bad_keys, make_key, set_key_connection

KEY_CONN = "unit_client_pgp"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The client's key pair and the bad-key corpus, made once; agents stopped afterwards."""
    folder = tmp_path_factory.mktemp("pgp")
    client = make_key(folder, "client")
    corpus = bad_keys(folder, client)
    yield client, corpus
    for home in folder.iterdir():
        KeyPair(home, "").stop_agent()


@pytest.fixture
def client(keys):
    set_key_connection(KEY_CONN, keys[0].public)
    return keys[0]


def _config(lake, tmp_path, **fields) -> ExportConfig:
    set_local_connection("pgp_local", tmp_path / "client")
    base = {
        "client_id": "acme",
        "export_id": "pgp_unit",
        "source": str(lake),
        "schedule": {"timezone": "Asia/Kolkata"},
        "destination": {"type": "local", "conn_id": "pgp_local", "path": "out"},
        "encrypt": {"pgp_public_key_conn_id": KEY_CONN},
    }
    return ExportConfig.model_validate(base | fields)


def _delivered(tmp_path) -> dict[str, Path]:
    return {p.name: p for p in sorted((tmp_path / "client" / "out").iterdir())}


def test_the_daily_zip_is_one_encrypted_file_and_a_rerun_new_ciphertext_of_it(
    client, kolkata_lake, demo_day, tmp_path
):
    """The client decrypts the zip; the manifest describes the delivered (encrypted) bytes. The
    session key is random: a rerun's bytes differ (and its manifest's checksum with them), its
    plaintext does not."""
    config = _config(kolkata_lake, tmp_path)
    run_export(config, demo_day)  # validate included: sizes and checksums compared
    delivered = _delivered(tmp_path)
    assert sorted(delivered) == ["acme_01112026.manifest", "acme_01112026.zip.pgp"]
    sealed = delivered["acme_01112026.zip.pgp"]
    first = sealed.read_bytes()
    assert b"PK" not in first[:64]  # no zip (nor CSV) in the clear
    plain = client.decrypt(sealed, tmp_path / "1.zip")
    with zipfile.ZipFile(plain) as zf:
        assert zf.testzip() is None
        members = zf.namelist()
    manifest = json.loads(delivered["acme_01112026.manifest"].read_bytes())
    [entry] = manifest["files"]
    assert entry["name"] == "acme_01112026.zip.pgp"
    assert (entry["size"], entry["sha256"]) == (len(first), hashlib.sha256(first).hexdigest())
    assert sorted(entry["members"]) == sorted(members)
    assert manifest["total_rows"] == entry["rows"] > 0

    run_export(config, demo_day)
    second = sealed.read_bytes()
    assert second != first
    assert client.decrypt(sealed, tmp_path / "2.zip").read_bytes() == plain.read_bytes()
    manifest = json.loads(delivered["acme_01112026.manifest"].read_bytes())
    assert manifest["files"][0]["sha256"] == hashlib.sha256(second).hexdigest()


def test_gcp_export_files_are_encrypted_each_and_decrypt_to_the_plain_export(
    client, kolkata_lake, demo_day, tmp_path
):
    fields = {"profile": "gcp_export", "format": "json", "chunk_size_mb": 0.2}
    encrypted = _config(kolkata_lake, tmp_path / "sealed", **fields)
    run_export(encrypted, demo_day)
    plain = encrypted.model_copy(update={"encrypt": None})
    set_local_connection("pgp_local", tmp_path / "plain" / "client")
    run_export(plain, demo_day)
    sealed, clear = _delivered(tmp_path / "sealed"), _delivered(tmp_path / "plain")
    data = [n for n in clear if not n.endswith(".manifest")]
    assert len(data) > 3
    manifests = [n for n in clear if n not in data]
    assert sorted(sealed) == sorted([f"{n}.pgp" for n in data] + manifests)
    manifest_name = next(n for n in sealed if n.endswith(".manifest"))
    manifest = json.loads(sealed[manifest_name].read_bytes())
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == {f"{n}.pgp" for n in data}
    for name in data:
        path = sealed[f"{name}.pgp"]
        body = path.read_bytes()
        assert (listed[path.name]["size"], listed[path.name]["sha256"]) == (
            len(body),
            hashlib.sha256(body).hexdigest(),
        )
        decrypted = client.decrypt(path, tmp_path / "decrypted" / name)
        assert decrypted.read_bytes() == clear[name].read_bytes(), name
    plain_manifest = json.loads(clear[manifest_name].read_bytes())
    assert manifest["rows_per_event"] == plain_manifest["rows_per_event"]


def test_a_key_with_two_recipients_encrypts_to_both(keys, tmp_path):
    client = keys[0]
    other = make_key(tmp_path, "partner")
    try:
        set_key_connection(KEY_CONN, client.public + other.public)
        source = tmp_path / "plain.bin"
        source.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
        with encrypt.keyring(KEY_CONN) as ring:
            assert len(ring.key.fingerprints) == 2
            size, sha256 = encrypt.encrypt_file(ring, source, tmp_path / "x.pgp")
        sealed = (tmp_path / "x.pgp").read_bytes()
        assert (size, sha256) == (len(sealed), hashlib.sha256(sealed).hexdigest())
        for pair in (client, other):
            out = pair.decrypt(tmp_path / "x.pgp", tmp_path / f"{pair.home.name}.out")
            assert out.read_bytes() == source.read_bytes()
    finally:
        other.stop_agent()


def _children() -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found |= {int(pid) for pid in (task / "children").read_text().split()}
    return found


def test_a_disk_full_while_encrypting_leaves_no_gpg_and_no_partial_file(client, tmp_path):
    """Our disk fills mid-stream (the partial file is /dev/full): the error is raised as it is,
    gpg is killed and reaped, and neither a partial nor a final file is left."""
    source = tmp_path / "plain.bin"
    source.write_bytes(os.urandom(4 * 1024 * 1024))
    target = tmp_path / "out" / "x.pgp"
    target.parent.mkdir()
    partial = target.with_name(f".{target.name}.partial")
    partial.symlink_to("/dev/full")
    before = _children()
    with encrypt.keyring(KEY_CONN) as ring, pytest.raises(OSError) as raised:
        encrypt.encrypt_file(ring, source, target)
    assert raised.value.errno == errno.ENOSPC
    assert not partial.is_symlink() and not target.exists()
    assert _children() <= before  # no gpg left running or unreaped


def test_the_keyring_is_removed_and_starts_no_agent(client):
    with encrypt.keyring(KEY_CONN) as ring:
        home = ring.home
        assert oct(home.stat().st_mode & 0o777) == "0o700"
        assert not any(p.name.startswith("S.gpg-agent") for p in home.iterdir())
    assert not home.exists()


@pytest.mark.parametrize(
    "case",
    [
        "no_public_key",
        "empty",
        "not_text",
        "an_ssh_key",
        "private_key",
        "cut_block",
        "garbled",
        "signing_only",
        "expired",
        "revoked",
    ],
)
def test_every_bad_key_is_a_setup_error_that_quotes_no_key(keys, case):
    text, code = keys[1][case]
    set_key_connection(KEY_CONN, text)
    with pytest.raises(SetupError) as raised:
        encrypt.check_key(KEY_CONN)
    assert raised.value.code == code, raised.value
    said = f"{raised.value.explanation} {raised.value.fix}"
    assert KEY_CONN in said
    if isinstance(text, str) and len(text) > 40:
        body = [line for line in text.splitlines() if len(line) > 20 and "-----" not in line]
        assert not any(line in said for line in body)  # no key material in the message


def test_a_missing_key_connection_stops_the_run_before_anything_is_delivered(
    kolkata_lake, demo_day, tmp_path
):
    os.environ.pop(f"AIRFLOW_CONN_{KEY_CONN.upper()}_GONE", None)
    gone = {"pgp_public_key_conn_id": f"{KEY_CONN}_gone"}
    config = _config(kolkata_lake, tmp_path, encrypt=gone)
    run = ExportRun(config, demo_day)
    shards = run.split(run.extract())
    with pytest.raises(SetupError) as raised:
        run.package(run.format_shards(shards))
    assert raised.value.code == "connection_missing"
    assert not (tmp_path / "client" / "out").exists()


def test_an_oversized_or_private_key_text_never_reaches_gpg():
    """Checked on the text (a huge value in a connection's extra would also slow Airflow's
    secrets masker, which masks every extra, for the whole process: no test puts one there)."""
    block = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n"
    assert encrypt._refusal(block) is None
    assert "KiB" in encrypt._refusal(block + "x" * encrypt.MAX_KEY_BYTES)
    assert "private key" in encrypt._refusal(block.replace("PUBLIC", "PRIVATE"))
    assert "BEGIN PGP PUBLIC KEY BLOCK" in encrypt._refusal("mDMEZ")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("acme_01112026.zip", "acme_01112026.zip.pgp"),
        ("1-2-buy-20261101-0-db1.parquet.gzip", "1-2-buy-20261101-0-db1.parquet.gzip.pgp"),
    ],
)
def test_pgp_is_added_to_the_name(name, expected):
    assert encrypt.encrypted_name(name) == expected


def test_a_name_at_the_limit_keeps_its_extension_and_stays_apart():
    stem = "1234567890-1793557800-" + "é" * 90
    names = [f"{stem}{tail}-20261101-{i}-db1.json" for tail in "ab" for i in (0, 1)]
    assert all(len(n.encode()) > MAX_FINAL_BYTES - len(".pgp") for n in names)
    sealed = [encrypt.encrypted_name(n) for n in names]
    assert all(len(s.encode()) <= MAX_FINAL_BYTES for s in sealed)
    assert all(s.endswith(".json.pgp") for s in sealed)
    assert len({s.casefold() for s in sealed}) == len(names)
