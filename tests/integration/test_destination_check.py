"""The destination check ("Save Credentials") against each real local server on 127.0.0.1.

Good credentials pass; a wrong key or password, a missing bucket or folder and a read-only place
each give their own code, and the very explanation and fix that a failed upload gives, which is
what the failure emails carry.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from event_export.alerts import emails
from event_export.destinations import ClientSideError, base, destination_for
from event_export.destinations.base import PROBE_PREFIX, PROBE_STALE, probe_name
from event_export.destinations.check import check_before_run, check_destination, validated
from event_export.destinations.errors import SetupError
from servers.delivery import make_file
from servers.gcs import RefusingProxy, gcp_connection, service_account_key
from servers.net import set_connection
from servers.s3 import aws_connection, boto_client, empty_bucket
from servers.sshd import keygen

BUCKET = "client-bucket"
SECRET = "check-secret-never-shown"
ALL_PASSED = [True, True, True, True]


def passed(result) -> list[bool]:
    return [ok for _, ok in result.steps]


def assert_same_as_the_failure_email(result, destination: dict, tmp_path) -> None:
    """The check answers with the upload's own ClientSideError, the one the emails quote."""
    with pytest.raises(ClientSideError) as err:
        destination_for(validated(destination)).upload(make_file(tmp_path / "day.zip", 10), "d")
    assert (result.code, result.explanation, result.fix) == (
        err.value.code,
        err.value.explanation,
        err.value.fix,
    )
    now = datetime(2026, 11, 2, tzinfo=UTC)
    email = emails.client_failure(["c@x.example"], 1, "acme_daily", *result_text(result), now, now)
    assert f"What went wrong: {result.explanation}" in email.paragraphs
    assert f"How to fix it: {result.fix}" in email.paragraphs


def result_text(result) -> tuple[str, str]:
    return result.explanation, result.fix


def assert_secret_free(result, *secrets: str) -> None:
    text = json.dumps(result.to_dict())
    for secret in secrets:
        assert secret not in text


# S3: moto accepts any key; the auth_moto process checks keys and has a read-only user.


@pytest.fixture
def s3(moto_s3):
    return empty_bucket(moto_s3, BUCKET, "chk_s3", SECRET)


def s3_destination(conn_id: str = "chk_s3", bucket: str = BUCKET) -> dict:
    return {"type": "s3", "conn_id": conn_id, "bucket": bucket, "path": "acme/daily"}


CLIENT_FILE = "acme/daily/acme_01112026.zip"


def test_s3_good_credentials_pass_and_the_probe_leaves_nothing_behind(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"first", b"second"):
        s3.put_object(Bucket=BUCKET, Key=CLIENT_FILE, Body=body)
    result = check_destination(s3_destination())
    assert result.ok and result.code == "ok"
    assert result.steps == [
        ("credentials accepted", True),
        ("bucket exists", True),
        ("probe written", True),
        ("probe deleted", True),
    ]
    assert result.to_dict()["steps"][2] == {"step": "probe written", "passed": True}
    # The bucket is versioned: the probe's versions went too, no delete marker stays behind,
    # and the client's own file under the prefix keeps both of its versions.
    versions = s3.list_object_versions(Bucket=BUCKET)
    assert [v["Key"] for v in versions.get("Versions", [])] == [CLIENT_FILE, CLIENT_FILE]
    assert versions.get("DeleteMarkers", []) == []


def test_s3_a_missing_bucket_must_match_exactly(s3, tmp_path):
    destination = s3_destination(bucket="client-bucket-typo")
    result = check_destination(destination)
    assert not result.ok and result.code == "bucket_missing"
    assert result.explanation == "The bucket client-bucket-typo does not exist."
    assert "bucket names need to be an exact match" in result.fix
    assert passed(result) == [True, False, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)


def test_s3_a_wrong_key_must_be_generated_again(auth_moto, tmp_path):
    set_connection(
        "chk_s3_wrong", aws_connection(auth_moto.endpoint, "AKIANOSUCHKEY0000000", SECRET)
    )
    destination = s3_destination("chk_s3_wrong", auth_moto.bucket)
    result = check_destination(destination)
    assert not result.ok and result.code == "auth_failed"
    assert "InvalidAccessKeyId" in result.explanation and "expired" in result.explanation
    assert result.fix.startswith("Generate a new access key")
    assert passed(result) == [False, False, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)
    assert_secret_free(result, SECRET)


def test_s3_a_read_only_user_is_denied_writing(auth_moto, tmp_path):
    set_connection(
        "chk_s3_reader", aws_connection(auth_moto.endpoint, auth_moto.key_id, auth_moto.secret)
    )
    destination = s3_destination("chk_s3_reader", auth_moto.bucket)
    result = check_destination(destination)
    assert not result.ok and result.code == "permission_denied"
    assert result.explanation.startswith("Permission denied at s3://ees-auth/acme/daily")
    assert "s3:PutObject" in result.fix
    assert passed(result) == [True, True, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)
    assert_secret_free(result, auth_moto.secret)


def test_s3_a_writer_without_rights_on_versions_still_passes(auth_moto):
    """The probe's thorough deletion lists and deletes versions; without those rights a plain
    delete removes it, and the check passes as before."""
    set_connection("chk_s3_writer", aws_connection(auth_moto.endpoint, *auth_moto.writer))
    result = check_destination(s3_destination("chk_s3_writer", auth_moto.bucket))
    assert result.ok, result.to_dict()
    assert passed(result) == [True, True, True, True]
    writer = boto_client(auth_moto.endpoint, "s3", *auth_moto.writer)
    assert writer.list_objects_v2(Bucket=auth_moto.bucket).get("KeyCount") == 0
    with pytest.raises(ClientError, match="AccessDenied"):  # so the plain delete did it
        writer.list_object_versions(Bucket=auth_moto.bucket)


# GCS: the emulator checks no credentials, but keys are traded for tokens at a local endpoint.


@pytest.fixture
def gcs_bucket(gcs):
    return gcs.empty_bucket(BUCKET, "chk_gcs")


def gcs_destination(conn_id: str = "chk_gcs", bucket: str = BUCKET) -> dict:
    return {"type": "gcs", "conn_id": conn_id, "bucket": bucket, "path": "acme"}


def test_gcs_good_key_passes_and_leaves_nothing(gcs_bucket):
    result = check_destination(gcs_destination())
    assert result.ok and passed(result) == ALL_PASSED
    assert result.steps[1] == ("bucket exists", True)
    assert list(gcs_bucket.client.list_blobs(BUCKET)) == []


def test_gcs_a_missing_bucket_must_match_exactly(gcs_bucket, tmp_path):
    destination = gcs_destination(bucket="client-bucket-typo")
    result = check_destination(destination)
    assert result.code == "bucket_missing"
    assert "the same as in Google Cloud" in result.fix and "exact match" in result.fix
    assert passed(result) == [True, False, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)


def test_gcs_a_deleted_key_must_be_generated_again(gcs, gcs_bucket, tmp_path):
    revoked, _ = service_account_key(gcs.tokens.uri, key_id="deleted-key")
    set_connection("chk_gcs_revoked", gcp_connection(revoked))
    destination = gcs_destination("chk_gcs_revoked")
    result = check_destination(destination)
    assert result.code == "auth_failed"
    assert result.fix.startswith("Generate the service account key again")
    assert passed(result) == [False, False, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)
    assert_secret_free(result, revoked["private_key"].splitlines()[1])


# sFTP: OpenSSH's sshd with a real throw-away user.


@pytest.fixture
def sftp_home(sshd):
    for entry in sshd.home.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    set_connection("chk_sftp", sshd.connection())
    return sshd.home


def test_sftp_good_login_passes_and_leaves_only_the_export_folder(sftp_home):
    result = check_destination({"type": "sftp", "conn_id": "chk_sftp", "path": "acme"})
    assert result.ok and passed(result) == ALL_PASSED
    assert result.steps[1] == ("folder exists", True)
    assert [p.name for p in sftp_home.iterdir()] == ["acme"]  # created, as the first run would
    assert list((sftp_home / "acme").iterdir()) == []


def test_sftp_a_wrong_password(sshd, sftp_home, tmp_path):
    wrong = "Wrong-Passw0rd-never-shown"
    set_connection("chk_sftp_wrong", {**sshd.connection(), "password": wrong})
    destination = {"type": "sftp", "conn_id": "chk_sftp_wrong", "path": "acme"}
    result = check_destination(destination)
    assert result.code == "auth_failed"
    assert result.explanation.startswith("The sFTP server rejected the login")
    assert passed(result) == [False, False, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)
    assert_secret_free(result, wrong, sshd.password)


def test_sftp_a_missing_folder_must_match_exactly(sshd, sftp_home, tmp_path):
    set_connection("chk_sftp_root", sshd.connection(path="/srv/no/such/folder"))
    destination = {"type": "sftp", "conn_id": "chk_sftp_root", "path": "acme"}
    result = check_destination(destination)
    assert result.code == "path_missing"
    assert result.explanation == "The folder /srv/no/such/folder does not exist on the sFTP server."
    assert "folder names need to be an exact match" in result.fix
    assert passed(result) == [True, False, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)


def test_sftp_a_read_only_folder_is_denied_writing(sftp_home, tmp_path):
    (sftp_home / "locked").mkdir(mode=0o755)  # owned by root: the user may read, not write
    destination = {"type": "sftp", "conn_id": "chk_sftp", "path": "locked"}
    result = check_destination(destination)
    assert result.code == "permission_denied"
    assert "locked on the sFTP server" in result.explanation
    assert passed(result) == [True, True, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)
    assert list((sftp_home / "locked").iterdir()) == []


# FTP: pyftpdlib with a writer, a read-only reader and a keeper that may not delete.


@pytest.fixture
def ftp(ftp_server):
    for entry in ftp_server.root.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    set_connection("chk_ftp", ftp_server.connection())
    return ftp_server


def ftp_destination(conn_id: str = "chk_ftp") -> dict:
    return {"type": "ftp", "conn_id": conn_id, "path": "acme"}


def test_ftp_good_login_passes_and_leaves_nothing(ftp):
    result = check_destination(ftp_destination())
    assert result.ok and passed(result) == ALL_PASSED
    assert list((ftp.root / "acme").iterdir()) == []


def test_ftps_good_login_passes_with_the_certificate_checked(ftps_server):
    set_connection("chk_ftps", ftps_server.connection())
    result = check_destination({**ftp_destination("chk_ftps"), "ftps": True})
    assert result.ok and passed(result) == ALL_PASSED
    assert list((ftps_server.root / "acme").iterdir()) == []


def test_ftp_a_wrong_password(ftp, tmp_path):
    wrong = "Wrong-Passw0rd-never-shown"
    set_connection("chk_ftp_wrong", ftp.connection(password=wrong))
    result = check_destination(ftp_destination("chk_ftp_wrong"))
    assert result.code == "auth_failed" and "(530)" in result.explanation
    assert passed(result) == [False, False, False, False]
    assert_same_as_the_failure_email(result, ftp_destination("chk_ftp_wrong"), tmp_path)
    assert_secret_free(result, wrong, ftp.password)


def test_ftp_a_missing_folder(ftp, tmp_path):
    set_connection("chk_ftp_root", ftp.connection(path="/no/such/folder"))
    result = check_destination(ftp_destination("chk_ftp_root"))
    assert result.code == "path_missing"
    assert result.explanation == "The folder /no/such/folder does not exist on the FTP server."
    assert passed(result) == [True, False, False, False]
    assert_same_as_the_failure_email(result, ftp_destination("chk_ftp_root"), tmp_path)


def test_ftp_a_read_only_user_is_denied_writing(ftp, tmp_path):
    (ftp.root / "acme").mkdir()
    set_connection("chk_ftp_reader", ftp.connection(login="reader"))
    result = check_destination(ftp_destination("chk_ftp_reader"))
    assert result.code == "permission_denied"
    assert passed(result) == [True, True, False, False]
    assert_same_as_the_failure_email(result, ftp_destination("chk_ftp_reader"), tmp_path)
    assert list((ftp.root / "acme").iterdir()) == []


def test_ftp_a_user_who_may_write_but_not_delete_fails_at_the_probes_deletion(ftp):
    """Reruns replace files, so a store that keeps what it got fails the check, and the probe it
    kept shows where and under which name it was written."""
    set_connection("chk_ftp_keeper", ftp.connection(login="keeper"))
    result = check_destination(ftp_destination("chk_ftp_keeper"))
    assert result.code == "permission_denied"
    assert passed(result) == [True, True, True, False]
    (kept,) = (ftp.root / "acme").iterdir()
    assert kept.name.startswith(PROBE_PREFIX) and len(kept.name) == len(PROBE_PREFIX) + 16 + 1 + 32

    # A check by a user who may delete leaves it while it may be a check's in flight, and clears
    # it once it is an hour old (renamed here as an hour's wait would leave it).
    assert check_destination(ftp_destination()).ok
    assert list((ftp.root / "acme").iterdir()) == [kept]
    old = kept.with_name(probe_name(datetime.now(UTC) - PROBE_STALE))
    kept.rename(old)
    assert check_destination(ftp_destination()).ok
    assert list((ftp.root / "acme").iterdir()) == []


# Local folders, through an `fs` connection.


def set_fs_connection(conn_id: str, root) -> None:
    set_connection(conn_id, {"conn_type": "fs", "extra": {"path": str(root)}})


def test_local_folder_passes_and_a_missing_root_does_not(tmp_path):
    set_fs_connection("chk_local", tmp_path / "client")
    (tmp_path / "client").mkdir()
    result = check_destination({"type": "local", "conn_id": "chk_local"}, prefix_hint="acme/in")
    assert result.ok and passed(result) == ALL_PASSED
    assert list((tmp_path / "client" / "acme" / "in").iterdir()) == []

    set_fs_connection("chk_local_gone", tmp_path / "gone")
    destination = {"type": "local", "conn_id": "chk_local_gone", "path": "acme"}
    result = check_destination(destination)
    assert result.code == "path_missing" and str(tmp_path / "gone") in result.explanation
    assert passed(result) == [True, False, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)


@pytest.fixture
def read_only_mount(tmp_path):
    """A read-only tmpfs: root bypasses file modes, not a read-only mount."""
    folder = tmp_path / "ro"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
    (folder / "acme").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_local_read_only_folder_is_denied_writing(read_only_mount, tmp_path):
    set_fs_connection("chk_local_ro", read_only_mount)
    destination = {"type": "local", "conn_id": "chk_local_ro", "path": "acme"}
    result = check_destination(destination)
    assert result.code == "permission_denied"
    assert passed(result) == [True, True, False, False]
    assert_same_as_the_failure_email(result, destination, tmp_path)


def test_a_missing_connection_and_a_silent_server_are_not_the_clients(tmp_path):
    result = check_destination({"type": "local", "conn_id": "chk_no_such_connection"})
    assert (result.code, result.ok) == ("connection_missing", False)
    assert not isinstance(result.error, ClientSideError)

    nobody = {"conn_type": "ftp", "host": "127.0.0.1", "port": 9, "login": "u", "password": "p"}
    set_connection("chk_ftp_nobody", nobody)
    result = check_destination(ftp_destination("chk_ftp_nobody"))
    assert result.code == "unreachable"
    assert passed(result) == [False, False, False, False]
    with pytest.raises(Exception) as err:
        result.raise_if_failed()
    assert err.value is result.error and not isinstance(err.value, ClientSideError)


@pytest.fixture
def refusing_gcs(gcs, gcs_bucket, monkeypatch):
    """Google's client talks to the emulator through a proxy that answers some requests as the
    JSON API does under IAM and retention policies, which the emulator does not have."""
    proxy = RefusingProxy(gcs.emulator.port)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
    yield proxy
    proxy.stop()


def test_gcs_a_read_only_service_account_is_denied_writing(refusing_gcs, gcs_bucket):
    refusing_gcs.refuse(
        "POST",
        f"/upload/storage/v1/b/{BUCKET}/o",
        403,
        "forbidden",
        "exporter@ees-test.iam.gserviceaccount.com does not have storage.objects.create access "
        "to the Google Cloud Storage object.",
    )
    result = check_destination(gcs_destination())
    assert result.code == "permission_denied"
    assert result.explanation == f"Permission denied at gs://{BUCKET}/acme."
    assert "roles/storage.objectAdmin" in result.fix
    assert passed(result) == [True, True, False, False]
    assert refusing_gcs.refused >= 1
    assert list(gcs_bucket.client.list_blobs(BUCKET)) == []
    assert result.blocks_delivery
    with pytest.raises(ClientSideError, match="Permission denied"):
        check_before_run(gcs_destination())


def test_gcs_a_retention_policy_shows_when_the_probe_cannot_be_deleted(
    refusing_gcs, gcs_bucket, monkeypatch
):
    """A new object may be created under a retention policy, but not deleted or replaced: the
    probe's deletion is what finds it, and the probe stays (GCS deletes it when it may)."""
    refusing_gcs.refuse(
        "DELETE",
        f"/storage/v1/b/{BUCKET}/o/acme%2F{PROBE_PREFIX}",
        403,
        "retentionPolicyNotMet",
        "Object is subject to bucket's retention policy or object retention and cannot be "
        "deleted or overwritten until 2026-12-01",
    )
    result = check_destination(gcs_destination())
    assert result.code == "retention_policy"
    assert "retention policy" in result.explanation and "locked" in result.fix
    assert passed(result) == [True, True, True, False]
    (kept,) = gcs_bucket.client.list_blobs(BUCKET)
    assert kept.name.startswith(f"acme/{PROBE_PREFIX}")

    # An export run goes on: new files can still be written; only reruns cannot replace them.
    assert not result.blocks_delivery
    assert check_before_run(gcs_destination())["code"] == "retention_policy"
    assert len(list(gcs_bucket.client.list_blobs(BUCKET))) == 2
    # Once the policy lets them go, the next check deletes the probes earlier checks left, when
    # they are an hour old (never a probe younger: it may be a concurrent check's in flight).
    refusing_gcs.rules.clear()
    assert check_destination(gcs_destination()).ok
    assert len(list(gcs_bucket.client.list_blobs(BUCKET))) == 2
    monkeypatch.setattr(base, "PROBE_STALE", timedelta(0))  # as an hour later
    assert check_destination(gcs_destination()).ok
    assert list(gcs_bucket.client.list_blobs(BUCKET)) == []


# The Airflow connection itself: missing, without credentials, unreadable, or unable to verify the
# server. Every type answers with a plain explanation naming the connection and a fix naming the
# field to set: never "on our side", never the client's fault (no client email), no secret.


def connection_problem(destination: dict, code: str, *secrets: str):
    """Check `destination`, assert it fails as the connection problem `code`, return the result."""
    result = check_destination(destination)
    conn_id = destination["conn_id"]
    assert (result.ok, result.code) == (False, code), result.to_dict()
    assert isinstance(result.error, SetupError) and not isinstance(result.error, ClientSideError)
    assert result.error.code == code
    assert f"{conn_id!r}" in result.explanation + result.fix
    assert "on our side" not in result.explanation and "on-call" not in result.fix
    assert result.fix.endswith(".") and result.blocks_delivery
    with pytest.raises(SetupError):  # an export run stops at its first task with these words
        check_before_run(destination)
    assert_secret_free(result, *secrets)
    return result


MISSING = {
    "s3": {"bucket": BUCKET},
    "gcs": {"bucket": BUCKET},
    "sftp": {"path": "acme"},
    "ftp": {"path": "acme"},
    "local": {"path": "acme"},
}


@pytest.mark.parametrize("kind", sorted(MISSING))
def test_a_missing_connection_is_named_for_every_type(kind, moto_s3, monkeypatch):
    """For S3 the worker's own AWS credentials and endpoint are set: the S3 hook would fall back
    to them (and moto would accept them); the check refuses instead of using ours."""
    moto_s3.reset()
    boto_client(moto_s3.endpoint).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWORKERSOWNKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "workers-own-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3.endpoint)
    conn_id = f"chk_{kind}_nowhere"
    result = connection_problem(
        {"type": kind, "conn_id": conn_id, **MISSING[kind]}, "connection_missing"
    )
    assert (
        result.explanation == f"There is no Airflow connection {conn_id!r}, so nothing can be sent."
    )
    assert "Admin > Connections" in result.fix
    assert passed(result) == [False, False, False, False]
    assert boto_client(moto_s3.endpoint).list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_s3_a_connection_without_a_key_does_not_use_the_workers_own(moto_s3, monkeypatch):
    moto_s3.reset()
    boto_client(moto_s3.endpoint).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWORKERSOWNKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "workers-own-secret")
    keyless = aws_connection(moto_s3.endpoint, "", "")
    set_connection(
        "chk_s3_keyless", {k: v for k, v in keyless.items() if k not in ("login", "password")}
    )
    result = connection_problem(s3_destination("chk_s3_keyless"), "credentials_missing")
    assert result.explanation == "The Airflow connection 'chk_s3_keyless' has no access key for S3."
    assert "access key id as its login and the secret as its password" in result.fix

    set_connection("chk_s3_halfkey", aws_connection(moto_s3.endpoint, "AKIATESTKEY", ""))
    result = connection_problem(s3_destination("chk_s3_halfkey"), "credentials_missing")
    assert "an access key id but no secret" in result.explanation


def test_s3_no_credentials_at_all_is_credentials_missing_not_a_traceback(moto_s3, monkeypatch):
    """A role_arn without any base credentials on the worker: boto finds none (NoCredentialsError),
    which reads as the missing key it is."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    connection = aws_connection(moto_s3.endpoint, "", "", role_arn="arn:aws:iam::1:role/x")
    set_connection("chk_s3_role", {k: v for k, v in connection.items() if k != "password"})
    result = connection_problem(s3_destination("chk_s3_role"), "credentials_missing")
    assert "NoCredentialsError" not in result.explanation


def test_gcs_a_connection_without_a_key_and_an_unreadable_key(gcs, gcs_bucket):
    set_connection(
        "chk_gcs_keyless", {"conn_type": "google_cloud_platform", "extra": {"project": "ees-test"}}
    )
    result = connection_problem(gcs_destination("chk_gcs_keyless"), "credentials_missing")
    assert "no service account key for Google Cloud Storage" in result.explanation
    assert "keyfile_dict" in result.fix

    key, _ = service_account_key(gcs.tokens.uri)
    cut = json.dumps(key)[:-40]  # pasted with its end cut off
    set_connection(
        "chk_gcs_cut",
        {"conn_type": "google_cloud_platform", "extra": {"keyfile_dict": cut, "project": "p"}},
    )
    result = connection_problem(
        gcs_destination("chk_gcs_cut"), "credentials_unreadable", key["private_key"].splitlines()[1]
    )
    assert result.explanation.startswith("The service account key in the Airflow connection")
    assert "whole, nothing added or cut" in result.fix

    # a store that takes no key says so explicitly (the compose demo's stand-in does)
    for anonymous, code in ((True, "ok"), ("false", "credentials_missing")):
        extra = {"is_anonymous": anonymous, "project": "ees-test"}
        set_connection("chk_gcs_anon", {"conn_type": "google_cloud_platform", "extra": extra})
        assert check_destination(gcs_destination("chk_gcs_anon")).code == code

    del key["private_key"]
    set_connection("chk_gcs_half", gcp_connection(key))
    connection_problem(gcs_destination("chk_gcs_half"), "credentials_unreadable")
    assert list(gcs_bucket.client.list_blobs(BUCKET)) == []


def test_sftp_connections_without_credentials(sshd, sftp_home):
    connection = sshd.connection()
    del connection["password"]
    set_connection("chk_sftp_nopass", connection)
    result = connection_problem(
        {"type": "sftp", "conn_id": "chk_sftp_nopass", "path": "acme"}, "credentials_missing"
    )
    assert "no password and no private key for the sFTP server" in result.explanation
    assert "extra private_key" in result.fix

    connection = sshd.connection()
    del connection["login"]
    set_connection("chk_sftp_nologin", connection)
    result = connection_problem(
        {"type": "sftp", "conn_id": "chk_sftp_nologin", "path": "acme"},
        "credentials_missing",
        sshd.password,
    )
    assert "no login (username)" in result.explanation
    assert list(sftp_home.iterdir()) == []


def test_sftp_host_keys_missing_different_or_unreadable(sshd, sftp_home, tmp_path):
    connection = sshd.connection()
    del connection["extra"]["host_key"]
    set_connection("chk_sftp_nohostkey", connection)
    result = connection_problem(
        {"type": "sftp", "conn_id": "chk_sftp_nohostkey", "path": "acme"},
        "host_key_missing",
        sshd.password,
    )
    assert "ssh-keyscan" in result.fix and "no_host_key_check" in result.fix

    set_connection("chk_sftp_impostor", sshd.connection(host_key=keygen(tmp_path / "impostor")))
    result = connection_problem(
        {"type": "sftp", "conn_id": "chk_sftp_impostor", "path": "acme"},
        "host_key_mismatch",
        sshd.password,
    )
    assert "Confirm the server's new public host key with the client" in result.fix

    set_connection("chk_sftp_badhostkey", sshd.connection(host_key="ssh-ed25519 AAAA-not-base64"))
    result = connection_problem(
        {"type": "sftp", "conn_id": "chk_sftp_badhostkey", "path": "acme"}, "host_key_unreadable"
    )
    assert list(sftp_home.iterdir()) == []


def test_sftp_an_unreadable_private_key(sshd, sftp_home):
    secret_line = sshd.client_private_key.splitlines()[1]
    cut = "\n".join(sshd.client_private_key.splitlines()[:-3]) + "\n"  # the end cut off
    connection = sshd.connection(private_key=cut)
    del connection["password"]
    set_connection("chk_sftp_badkey", connection)
    result = connection_problem(
        {"type": "sftp", "conn_id": "chk_sftp_badkey", "path": "acme"},
        "credentials_unreadable",
        secret_line,
    )
    assert result.explanation.startswith("The private key in the Airflow connection")


def test_ftp_connections_without_a_login_or_password(ftp):
    connection = ftp.connection()
    del connection["login"]
    set_connection("chk_ftp_nologin", connection)
    result = connection_problem(
        ftp_destination("chk_ftp_nologin"), "credentials_missing", ftp.password
    )
    assert "no login (username) for the FTP server" in result.explanation

    set_connection("chk_ftp_nopass", ftp.connection(password=""))
    result = connection_problem(ftp_destination("chk_ftp_nopass"), "credentials_missing")
    assert "login as its login and the password as its password" in result.fix.replace(
        "username", "login"
    )
    assert list(ftp.root.iterdir()) == []


def test_ftps_asked_of_a_server_without_tls(ftp):
    result = connection_problem({**ftp_destination(), "ftps": True}, "tls_refused", ftp.password)
    assert "does not offer TLS" in result.explanation and "AUTH" in result.explanation
    assert "ftps: false" in result.fix and "unencrypted" in result.fix
    assert "on our side" not in result.explanation


def test_ftps_with_a_certificate_the_workers_do_not_trust(ftps_server, tmp_path, monkeypatch):
    from servers.ftp import self_signed_certificate

    other_authority, _ = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(other_authority))
    set_connection("chk_ftps_untrusted", ftps_server.connection())
    untrusted = {**ftp_destination("chk_ftps_untrusted"), "ftps": True}
    result = connection_problem(untrusted, "certificate_untrusted", ftps_server.password)
    assert "could not be verified" in result.explanation
    assert "self-signed" in result.explanation or "issuer" in result.explanation
    assert "SSL_CERT_FILE" in result.fix


def test_local_a_connection_without_a_folder_writes_nowhere(tmp_path, monkeypatch):
    """The FS hook reads a missing path as "": the probe would land in the current folder."""
    monkeypatch.chdir(tmp_path)
    set_connection("chk_local_nopath", {"conn_type": "fs"})
    result = connection_problem(
        {"type": "local", "conn_id": "chk_local_nopath", "path": "acme"}, "credentials_missing"
    )
    assert "no extra path (the folder exports go to)" in result.explanation
    assert "the export folder as its extra path" in result.fix
    assert list(tmp_path.iterdir()) == []
