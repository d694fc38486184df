"""Destinations built from configs, temporary names, and S3's multipart checksum arithmetic."""

import hashlib

import pytest
from event_export.config.model import ExportConfig
from event_export.destinations import ClientSideError, DeliveryError, destination_for
from event_export.destinations.azure import AzureBlobDestination, block_id
from event_export.destinations.base import is_temp, is_temp_of, temp_name
from event_export.destinations.ftp import FTPDestination
from event_export.destinations.gcs import GCSDestination
from event_export.destinations.s3 import S3Destination, _part_digests
from event_export.destinations.sftp import SFTPDestination


def destination(**fields):
    config = ExportConfig.model_validate(
        {"client_id": "a", "export_id": "a", "destination": {"conn_id": "c", **fields}}
    )
    return destination_for(config.destination)


def test_each_type_builds_its_destination_without_connecting():
    s3 = destination(type="s3", bucket="b-1", path="x/y", sse="kms", kms_key_id="alias/k")
    assert isinstance(s3, S3Destination)
    assert (s3.bucket, s3.key("f.zip")) == ("b-1", "x/y/f.zip")
    assert s3.extra_args == {
        "ChecksumAlgorithm": "SHA256",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/k",
    }
    assert destination(type="s3", bucket="b-1", sse="s3").extra_args["ServerSideEncryption"] == (
        "AES256"
    )
    gcs = destination(type="gcs", bucket="b_1")
    assert isinstance(gcs, GCSDestination) and gcs.key("f.zip") == "f.zip"
    assert isinstance(destination(type="sftp", path="out"), SFTPDestination)
    azure = destination(type="azure", container="box-1", path="in/")
    assert isinstance(azure, AzureBlobDestination)
    assert (azure.bucket, azure.key("f.zip"), azure.location) == (
        "box-1",
        "in/f.zip",
        "az://box-1/in",
    )
    ftp = destination(type="ftp", ftps=True)
    assert isinstance(ftp, FTPDestination) and ftp.ftps


def test_azure_block_ids_have_one_length_and_differ_between_tries():
    ids = {block_id(t, i) for t in ("a" * 16, "b" * 16) for i in (0, 1, 49_999)}
    assert len(ids) == 6 and len({len(i) for i in ids}) == 1


def test_temporary_names_are_hidden_unique_and_traceable_to_their_file():
    first, second = temp_name("add to cart_01112026.csv"), temp_name("add to cart_01112026.csv")
    assert first != second and first.startswith(".")
    assert is_temp(first) and is_temp_of(first, "add to cart_01112026.csv")
    assert not is_temp_of(first, "cart_01112026.csv")
    assert not is_temp("add to cart_01112026.csv")


def test_part_digests_follow_the_part_size(tmp_path):
    data = bytes(range(256)) * 41  # 10,496 bytes: parts of 4,096, 4,096 and 2,304
    path = tmp_path / "f"
    path.write_bytes(data)
    parts = list(_part_digests(path, 4096))
    chunks = [data[:4096], data[4096:8192], data[8192:]]
    assert parts == [(hashlib.sha256(c).digest(), hashlib.md5(c).digest()) for c in chunks]
    whole = (hashlib.sha256(data).digest(), hashlib.md5(data).digest())
    assert list(_part_digests(path, len(data))) == [whole]


def test_client_side_error_carries_code_explanation_and_fix():
    err = ClientSideError("The bucket b does not exist.", "Create it.", code="bucket_missing")
    assert isinstance(err, DeliveryError)
    assert (err.code, err.explanation, err.fix) == (
        "bucket_missing",
        "The bucket b does not exist.",
        "Create it.",
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("InvalidAccessKeyId", 403, "auth_failed"),
        ("SignatureDoesNotMatch", 403, "auth_failed"),
        ("ExpiredToken", 400, "auth_failed"),
        ("NoSuchBucket", 404, "bucket_missing"),
        ("AccessDenied", 403, "permission_denied"),
        ("KMS.NotFoundException", 400, "permission_denied"),
    ],
)
def test_s3_client_errors_are_classified_from_botocores_exception(code, status, expected):
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )
    wrapped = S3UploadFailedError(f"Failed to upload: {error}")
    wrapped.__context__ = error  # boto3's transfer manager raises it while handling the ClientError
    classified = S3Destination("c", "b-1").classify(wrapped, "upload")
    assert isinstance(classified, ClientSideError)
    assert classified.code == expected


def test_s3_server_errors_are_internal():
    from botocore.exceptions import ClientError, EndpointConnectionError

    busy = ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
    )
    for exc in (busy, EndpointConnectionError(endpoint_url="http://127.0.0.1:1")):
        assert type(S3Destination("c", "b-1").classify(exc, "upload")) is DeliveryError
