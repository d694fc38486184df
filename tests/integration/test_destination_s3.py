"""S3 delivery against moto on 127.0.0.1: atomic uploads, multipart, checksums, client errors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from event_export.destinations import ClientSideError, DeliveryError
from event_export.destinations.s3 import S3Destination
from hostile_names import check_templated_delivery, templated_export_files
from servers.delivery import deliver, export_files, make_file, manifest_came_last
from servers.net import set_connection
from servers.proxy import CutoffProxy
from servers.s3 import aws_connection, boto_client, empty_bucket
from servers.watch import Watcher

BUCKET = "client-bucket"
MiB = 1024 * 1024
SECRET = "s3-secret-never-shown"


@pytest.fixture
def s3(moto_s3):
    """An empty bucket and a connection to it; the client to look at it directly."""
    return empty_bucket(moto_s3, BUCKET, "it_s3", SECRET)


def small_parts(**kwargs) -> S3Destination:
    """S3's smallest part size (5 MiB), so a multipart upload takes a few MB, not hundreds."""
    return S3Destination(
        "it_s3", BUCKET, "acme/daily", multipart_threshold=5 * MiB, part_size=5 * MiB, **kwargs
    )


def keys(client) -> dict[str, int]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: o["Size"] for o in listed}


def test_multi_file_export_is_delivered_verified_and_the_manifest_comes_last(s3, tmp_path):
    files = export_files(tmp_path / "staging")
    destination = S3Destination("it_s3", BUCKET, "acme/daily", sse="s3")
    with watch(destination) as watcher:
        assert deliver(destination, files, tmp_path) == []
    assert keys(s3) == {
        **{f"acme/daily/{f['name']}": f["size"] for f in files},
        "acme/daily/export_01112026.manifest": (tmp_path / "export_01112026.manifest")
        .stat()
        .st_size,
    }
    for f in files:
        body = s3.get_object(Bucket=BUCKET, Key=f"acme/daily/{f['name']}")
        assert hashlib.sha256(body["Body"].read()).hexdigest() == f["sha256"]
        assert body["ServerSideEncryption"] == "AES256"
    assert manifest_came_last(watcher.listings, files)


def destination_listing(destination: S3Destination):
    return lambda: {name: f.size for name, f in destination.list().items()}


def watch(destination: S3Destination) -> Watcher:
    """Listings every 20 ms: moto runs in this process, so polling competes with the upload."""
    return Watcher(destination_listing(destination), interval=0.02)


def test_multipart_upload_with_kms_is_verified_by_its_composite_checksum(s3, tmp_path):
    kms_key = boto_client(s3.meta.endpoint_url, "kms").create_key()["KeyMetadata"]["KeyId"]
    local = make_file(tmp_path / "big.zip", 11 * MiB + 123)
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    destination = small_parts(sse="kms", kms_key_id=kms_key)
    destination.upload(local, "big.zip")

    head = s3.head_object(Bucket=BUCKET, Key="acme/daily/big.zip")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 5 + 5 + 1 MiB
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(kms_key)
    assert destination.verify("big.zip", local.stat().st_size, sha256, local) == []
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_changed_object_of_the_same_size_fails_verification(s3, tmp_path):
    """moto does not reject a wrong checksum on upload, so the object is changed afterwards."""
    destination = small_parts()
    for name, size in (("one.zip", 1000), ("parts.zip", 6 * MiB)):
        local = make_file(tmp_path / name, size, seed=1)
        destination.upload(local, name)
        sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
        assert destination.verify(name, size, sha256, local) == []
        changed = make_file(tmp_path / f"changed-{name}", size, seed=2)
        s3.put_object(Bucket=BUCKET, Key=f"acme/daily/{name}", Body=changed.read_bytes())
        assert destination.verify(name, size, sha256, local) == [
            f"{name}: checksum differs from the manifest"
        ]


def test_etag_is_compared_when_the_store_keeps_no_checksum(s3, tmp_path):
    """An S3-compatible store without checksums: a plain PUT's ETag is the MD5."""
    local = make_file(tmp_path / "plain.zip", 4000)
    s3.put_object(Bucket=BUCKET, Key="acme/daily/plain.zip", Body=local.read_bytes())
    assert "ChecksumSHA256" not in s3.head_object(
        Bucket=BUCKET, Key="acme/daily/plain.zip", ChecksumMode="ENABLED"
    )
    destination = small_parts()
    assert destination.checksum_matches("plain.zip", "0" * 64, lambda: local) is True
    other = make_file(tmp_path / "other.zip", 4000, seed=9)
    assert destination.checksum_matches("plain.zip", "0" * 64, lambda: other) is False


def test_interrupted_multipart_upload_shows_nothing_and_a_retry_completes(moto_s3, s3, tmp_path):
    proxy = CutoffProxy(moto_s3.port)
    set_connection(
        "it_s3_proxy",
        aws_connection(
            f"http://127.0.0.1:{proxy.port}",
            "AKIATESTKEY",
            SECRET,
            config_kwargs={"retries": {"mode": "standard", "total_max_attempts": 2}},
        ),
    )
    through_proxy = S3Destination(
        "it_s3_proxy", BUCKET, "acme", multipart_threshold=5 * MiB, part_size=5 * MiB
    )
    local = make_file(tmp_path / "day.zip", 11 * MiB)
    direct = S3Destination("it_s3", BUCKET, "acme")
    proxy.cut_after(6 * MiB)  # the connection drops during the second part
    with watch(direct) as watcher, pytest.raises(DeliveryError) as err:
        through_proxy.upload(local, "day.zip")
    assert not isinstance(err.value, ClientSideError)  # a dropped connection is ours to retry
    assert proxy.cuts >= 1
    assert "day.zip" not in direct.list()
    assert watcher.seen.get("day.zip", set()) == set()

    proxy.heal()
    with watch(direct) as watcher:
        through_proxy.upload(local, "day.zip")
    assert watcher.seen["day.zip"] == {11 * MiB}  # absent, then whole: never a part
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert direct.verify("day.zip", 11 * MiB, sha256, local) == []
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    proxy.close()


def test_a_multipart_upload_left_by_a_killed_worker_is_aborted_by_the_next_try(s3, tmp_path):
    """A worker killed mid-upload cannot abort: the next try of the same file does."""
    key = "acme/daily/day.zip"
    stale = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key=key, UploadId=stale, PartNumber=1, Body=b"x" * 5 * MiB)
    assert "day.zip" not in small_parts().list()  # a pending upload is invisible

    local = make_file(tmp_path / "day.zip", 6 * MiB)
    small_parts().upload(local, "day.zip")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert keys(s3) == {key: 6 * MiB}


def test_missing_bucket_is_the_clients_problem(s3, tmp_path):
    local = make_file(tmp_path / "day.zip", 10)
    destination = S3Destination("it_s3", "no-such-bucket", "acme")
    with pytest.raises(ClientSideError) as err:
        destination.upload(local, "day.zip")
    assert err.value.code == "bucket_missing"
    assert "no-such-bucket" in err.value.explanation
    with pytest.raises(ClientSideError, match="does not exist"):
        destination.list()


@pytest.mark.parametrize(
    ("which", "code"),
    [("wrong secret", "SignatureDoesNotMatch"), ("unknown key", "InvalidAccessKeyId")],
)
def test_rejected_credentials_are_the_clients_problem(auth_moto, tmp_path, caplog, which, code):
    """A moto process that checks signatures (INITIAL_NO_AUTH_ACTION_COUNT) rejects the key."""
    key_id = auth_moto.key_id if which == "wrong secret" else "AKIANOSUCHKEY0000000"
    set_connection("it_s3_auth", aws_connection(auth_moto.endpoint, key_id, SECRET))
    destination = S3Destination("it_s3_auth", auth_moto.bucket, "acme")
    with pytest.raises(ClientSideError) as err:
        destination.upload(make_file(tmp_path / "day.zip", 10), "day.zip")
    assert err.value.code == "auth_failed"
    assert code in err.value.explanation
    assert SECRET not in str(err.value) and SECRET not in caplog.text


def test_a_user_without_write_permission_is_the_clients_problem(auth_moto, tmp_path):
    set_connection(
        "it_s3_reader", aws_connection(auth_moto.endpoint, auth_moto.key_id, auth_moto.secret)
    )
    destination = S3Destination("it_s3_reader", auth_moto.bucket, "acme")
    assert destination.list() == {}  # the key works: it may list
    with pytest.raises(ClientSideError) as err:
        destination.upload(make_file(tmp_path / "day.zip", 10), "day.zip")
    assert err.value.code == "permission_denied"
    assert auth_moto.secret not in str(err.value)


def test_checksum_header_is_the_base64_sha256_the_manifest_holds(s3, tmp_path):
    """The manifest's hex SHA-256 and S3's ChecksumSHA256 describe the same bytes."""
    local = make_file(tmp_path / "m.json", 321)
    small_parts().upload(local, "m.json")
    head = s3.head_object(Bucket=BUCKET, Key="acme/daily/m.json", ChecksumMode="ENABLED")
    assert (
        head["ChecksumSHA256"]
        == base64.b64encode(hashlib.sha256(Path(local).read_bytes()).digest()).decode()
    )


def test_the_pipeline_delivers_a_day_to_s3(s3, kolkata_lake, demo_day):
    """The export config names the bucket; destination_for builds the S3 destination from it."""
    from event_export.config.model import ExportConfig
    from event_export.pipeline.run import run_export

    config = ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "it_s3_day",
            "source": str(kolkata_lake),
            "schedule": {"timezone": "Asia/Kolkata"},
            "destination": {"type": "s3", "conn_id": "it_s3", "bucket": BUCKET, "path": "in/"},
        }
    )
    result = run_export(config, demo_day)
    assert result["manifest"] == "acme_01112026.manifest"
    assert set(keys(s3)) == {"in/acme_01112026.zip", "in/acme_01112026.manifest"}
    head = s3.head_object(Bucket=BUCKET, Key="in/acme_01112026.zip", ChecksumMode="ENABLED")
    manifest = s3.get_object(Bucket=BUCKET, Key="in/acme_01112026.manifest")["Body"].read()
    sha256 = json.loads(manifest)["files"][0]["sha256"]
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(sha256)).decode()


def test_path_template_keys_are_delivered_listed_per_folder_and_verified(s3, tmp_path):
    """gcp_export's path_template: keys with folders, listed per folder by verification."""
    files = templated_export_files(tmp_path / "staging")
    check_templated_delivery(S3Destination("it_s3", BUCKET, "acme/daily"), files, tmp_path)
    for f in files:
        body = s3.get_object(Bucket=BUCKET, Key=f"acme/daily/{f['name']}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == f["sha256"]
