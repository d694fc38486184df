"""GCS delivery against gcp-storage-emulator on 127.0.0.1, with real service-account keys."""

from __future__ import annotations

import hashlib

import pytest
from event_export.destinations import ClientSideError, DeliveryError
from event_export.destinations.gcs import GCSDestination
from google.api_core import exceptions as api
from hostile_names import check_templated_delivery, templated_export_files
from servers.delivery import deliver, export_files, make_file, manifest_came_last
from servers.gcs import gcp_connection
from servers.net import set_connection
from servers.proxy import CutoffProxy
from servers.watch import Watcher

BUCKET = "client-bucket"
MiB = 1024 * 1024
CHUNK = 1 * MiB  # resumable chunks must be multiples of 256 KiB


@pytest.fixture
def bucket(gcs):
    """An empty bucket and a connection whose key the token endpoint accepts."""
    return gcs.empty_bucket(BUCKET, "it_gcs")


def listing(bucket):
    """What the bucket shows, straight from the emulator."""
    return lambda: {b.name: b.size for b in bucket.client.list_blobs(BUCKET)}


def test_multi_file_export_is_delivered_verified_and_the_manifest_comes_last(gcs, bucket, tmp_path):
    files = export_files(tmp_path / "staging", {"big.csv": 9 * MiB + 7, "small.csv": 1234})
    files += export_files(tmp_path / "staging2")
    grants = gcs.tokens.grants
    destination = GCSDestination("it_gcs", BUCKET, "acme/daily", chunk_size=CHUNK)
    with Watcher(listing(bucket), interval=0.01) as watcher:
        assert deliver(destination, files, tmp_path) == []
    assert gcs.tokens.grants > grants  # the key was traded for a token at the key's token_uri
    stored = {b.name: b for b in bucket.client.list_blobs(BUCKET)}
    assert set(stored) == {f"acme/daily/{f['name']}" for f in files} | {
        "acme/daily/export_01112026.manifest"
    }
    for f in files:
        blob = stored[f"acme/daily/{f['name']}"]
        assert blob.size == f["size"]
        assert hashlib.sha256(blob.download_as_bytes()).hexdigest() == f["sha256"]
    assert watcher.seen["acme/daily/big.csv"] == {9 * MiB + 7}  # resumable: never a part
    assert manifest_came_last(watcher.listings, files)


def test_a_changed_object_of_the_same_size_fails_verification(bucket, tmp_path):
    destination = GCSDestination("it_gcs", BUCKET, "acme")
    local = make_file(tmp_path / "day.zip", 5000, seed=1)
    destination.upload(local, "day.zip")
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert destination.verify("day.zip", 5000, sha256, local) == []
    changed = make_file(tmp_path / "changed.zip", 5000, seed=2)
    bucket.blob("acme/day.zip").upload_from_filename(str(changed))
    assert destination.verify("day.zip", 5000, sha256, local) == [
        "day.zip: checksum differs from the manifest"
    ]


def test_interrupted_resumable_upload_shows_nothing_and_a_retry_completes(
    gcs, bucket, tmp_path, monkeypatch
):
    proxy = CutoffProxy(gcs.emulator.port)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{proxy.port}")
    local = make_file(tmp_path / "day.zip", 9 * MiB + 5)
    # The client resumes a dropped session for up to retry_seconds; the server stays away longer.
    destination = GCSDestination("it_gcs", BUCKET, "acme", chunk_size=CHUNK, retry_seconds=1)
    proxy.cut_after(4 * MiB)
    with Watcher(listing(bucket), interval=0.01) as watcher, pytest.raises(DeliveryError) as err:
        destination.upload(local, "day.zip")
    assert not isinstance(err.value, ClientSideError)
    assert proxy.cuts >= 1
    assert "acme/day.zip" not in listing(bucket)()
    assert watcher.seen.get("acme/day.zip", set()) == set()

    proxy.heal()
    retry = GCSDestination("it_gcs", BUCKET, "acme", chunk_size=CHUNK, retry_seconds=1)
    with Watcher(listing(bucket), interval=0.01) as watcher:
        retry.upload(local, "day.zip")
    assert watcher.seen["acme/day.zip"] == {9 * MiB + 5}
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert retry.verify("day.zip", 9 * MiB + 5, sha256, local) == []
    proxy.close()


def test_missing_bucket_is_the_clients_problem(bucket, tmp_path):
    destination = GCSDestination("it_gcs", "no-such-bucket", "acme")
    with pytest.raises(ClientSideError) as err:
        destination.upload(make_file(tmp_path / "day.zip", 10), "day.zip")
    assert err.value.code == "bucket_missing"
    with pytest.raises(ClientSideError, match="no-such-bucket does not exist"):
        destination.list()


def test_a_rejected_service_account_key_is_the_clients_problem(gcs, bucket, tmp_path, caplog):
    """A key the token endpoint does not know (deleted in the console) gets invalid_grant."""
    from servers.gcs import service_account_key

    revoked, _ = service_account_key(gcs.tokens.uri, key_id="deleted-key")
    set_connection("it_gcs_revoked", gcp_connection(revoked))
    destination = GCSDestination("it_gcs_revoked", BUCKET, "acme")
    with pytest.raises(ClientSideError) as err:
        destination.upload(make_file(tmp_path / "day.zip", 10), "day.zip")
    assert err.value.code == "auth_failed"
    secret_line = revoked["private_key"].splitlines()[1]
    assert secret_line not in str(err.value) and secret_line not in caplog.text
    assert listing(bucket)() == {}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        # What the JSON API answers when a locked retention policy keeps an object.
        (
            api.Forbidden(
                "POST https://storage.googleapis.com/upload/storage/v1/b/client-bucket/o: "
                "Object 'acme/day.zip' is subject to bucket's retention policy or object "
                "retention and cannot be deleted or overwritten until 2026-12-01",
                errors=[{"reason": "retentionPolicyNotMet", "domain": "global"}],
            ),
            "retention_policy",
        ),
        # A resumable upload's error carries the reason in its body text only.
        (
            api.from_http_status(
                403,
                'PUT https://storage.googleapis.com/upload/...: {"error": {"code": 403, '
                '"errors": [{"reason": "retentionPolicyNotMet"}]}}',
            ),
            "retention_policy",
        ),
        (api.Forbidden("caller does not have storage.objects.create access"), "permission_denied"),
        (api.Unauthorized("Invalid Credentials"), "auth_failed"),
        (api.NotFound("The specified bucket does not exist."), "bucket_missing"),
    ],
)
def test_client_side_errors_the_emulator_cannot_produce_are_classified(error, code):
    """The emulator has no IAM, no retention policies: the provider's exception types stand in."""
    classified = GCSDestination("it_gcs", BUCKET, "acme").classify(error, "upload of day.zip")
    assert isinstance(classified, ClientSideError)
    assert classified.code == code
    assert classified.fix


def test_other_failures_are_internal():
    classified = GCSDestination("it_gcs", BUCKET).classify(
        api.ServiceUnavailable("backend error"), "upload of day.zip"
    )
    assert type(classified) is DeliveryError


def test_path_template_objects_are_delivered_listed_per_folder_and_verified(bucket, tmp_path):
    files = templated_export_files(tmp_path / "staging")
    check_templated_delivery(GCSDestination("it_gcs", BUCKET, "acme"), files, tmp_path)
    stored = listing(bucket)()
    assert {f"acme/{f['name']}": f["size"] for f in files}.items() <= stored.items()
