"""Azure Blob Storage delivery against Azurite on 127.0.0.1, through the provider's WasbHook.

Azurite checks Shared Key signatures, keeps uncommitted blocks out of listings and stores the
Content-MD5 a commit sets, as Azure does; what it cannot hold (immutability policies, RBAC roles)
is classified from the error codes Azure documents.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from event_export.destinations import ClientSideError, DeliveryError
from event_export.destinations.azure import AzureBlobDestination, block_size_for
from event_export.destinations.check import check_destination
from hostile_names import check_templated_delivery, templated_export_files, upload_longest_names
from servers.azurite import ACCOUNT, ACCOUNT_KEY, wrong_key
from servers.delivery import deliver, export_files, make_file, manifest_came_last
from servers.net import set_connection
from servers.proxy import CutoffProxy
from servers.watch import Watcher

CONTAINER = "client-box"
CONN = "it_azure"
MiB = 1024 * 1024
BLOCK = 1 * MiB


@pytest.fixture
def container(azurite):
    """An empty container and a connection holding the account key."""
    service = azurite.client()
    for existing in service.list_containers():
        service.delete_container(existing.name)
    set_connection(CONN, azurite.connection())
    return service.create_container(CONTAINER)


def listing(container):
    """What the container shows, straight from Azurite: committed blobs only."""
    return lambda: {b.name: b.size for b in container.list_blobs()}


def test_multi_file_export_is_delivered_verified_and_the_manifest_comes_last(container, tmp_path):
    files = export_files(tmp_path / "staging", {"big.csv": 5 * MiB + 7, "small.csv": 1234})
    files += export_files(tmp_path / "staging2")
    destination = AzureBlobDestination(CONN, CONTAINER, "acme/daily", block_size=BLOCK)
    with Watcher(listing(container), interval=0.05) as watcher:
        assert deliver(destination, files, tmp_path) == []
    stored = {b.name: b for b in container.list_blobs()}
    assert set(stored) == {f"acme/daily/{f['name']}" for f in files} | {
        "acme/daily/export_01112026.manifest"
    }
    for f in files:
        data = container.download_blob(f"acme/daily/{f['name']}").readall()
        assert len(data) == f["size"]
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
    blocks = container.get_blob_client("acme/daily/big.csv").get_block_list("all")
    assert [len(blocks[0]), len(blocks[1])] == [6, 0]  # 6 committed 1 MiB blocks, none left over
    assert watcher.seen["acme/daily/big.csv"] == {5 * MiB + 7}  # never a part of it
    assert manifest_came_last(watcher.listings, files)
    assert set(destination.list()) == {f["name"] for f in files} | {"export_01112026.manifest"}


def test_an_empty_file_and_a_replaced_file(container, tmp_path):
    destination = AzureBlobDestination(CONN, CONTAINER, "acme", block_size=BLOCK)
    empty = make_file(tmp_path / "empty.csv", 0)
    destination.upload(empty, "empty.csv")
    assert destination.verify("empty.csv", 0, hashlib.sha256(b"").hexdigest(), empty) == []
    first, second = make_file(tmp_path / "a", 3 * MiB, 1), make_file(tmp_path / "b", MiB + 1, 2)
    destination.upload(first, "day.zip")
    destination.upload(second, "day.zip")  # a rerun: the commit replaces it whole
    sha256 = hashlib.sha256(second.read_bytes()).hexdigest()
    assert destination.verify("day.zip", MiB + 1, sha256, second) == []
    assert listing(container)()["acme/day.zip"] == MiB + 1


def test_a_changed_blob_of_the_same_size_fails_verification(container, tmp_path):
    destination = AzureBlobDestination(CONN, CONTAINER, "acme")
    local = make_file(tmp_path / "day.zip", 5000, seed=1)
    destination.upload(local, "day.zip")
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert destination.verify("day.zip", 5000, sha256, local) == []
    changed = make_file(tmp_path / "changed.zip", 5000, seed=2)
    container.upload_blob("acme/day.zip", changed.read_bytes(), overwrite=True)
    assert destination.verify("day.zip", 5000, sha256, local) == [
        "day.zip: checksum differs from the manifest"
    ]
    assert destination.verify("gone.zip", 1, sha256, local) == [
        "gone.zip: missing at the destination"
    ]


def test_an_interrupted_upload_shows_nothing_and_a_retry_completes(azurite, container, tmp_path):
    proxy = CutoffProxy(azurite.port)
    endpoint = f"http://127.0.0.1:{proxy.port}/{ACCOUNT}"
    cut = azurite.connection_string().replace(azurite.endpoint, endpoint)
    # the SDK's own retries (15 s backoff and up) are for production; the test needs the failure
    extra = {"connection_string": cut, "retry_total": 0}
    set_connection("it_azure_cut", {"conn_type": "wasb", "extra": extra})
    local = make_file(tmp_path / "day.zip", 6 * MiB + 5)
    # one block at a time: the blocks before the cut arrive whole, whatever the load
    destination = AzureBlobDestination(
        "it_azure_cut", CONTAINER, "acme", block_size=BLOCK, threads=1
    )
    proxy.cut_after(int(2.5 * MiB))
    with Watcher(listing(container), interval=0.01) as watcher, pytest.raises(DeliveryError) as err:
        destination.upload(local, "day.zip")
    assert not isinstance(err.value, ClientSideError)
    assert proxy.cuts >= 1
    assert "acme/day.zip" not in listing(container)()
    assert watcher.seen.get("acme/day.zip", set()) == set()
    # the blocks that did arrive wait uncommitted, invisible
    assert container.get_blob_client("acme/day.zip").get_block_list("uncommitted")[1]

    proxy.heal()
    with Watcher(listing(container), interval=0.01) as watcher:
        destination.upload(local, "day.zip")
    assert watcher.seen["acme/day.zip"] == {6 * MiB + 5}
    committed, uncommitted = container.get_blob_client("acme/day.zip").get_block_list("all")
    assert len(committed) == 7 and uncommitted == []  # the dead try's blocks were dropped
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert destination.verify("day.zip", 6 * MiB + 5, sha256, local) == []
    proxy.close()


def test_hostile_and_longest_names_arrive_under_their_names(container, tmp_path):
    destination = AzureBlobDestination(CONN, CONTAINER, "acme")
    upload_longest_names(destination, make_file(tmp_path / "day.bin", 100))
    # what naming.safe_component lets through (slashes and backslashes became '-' before)
    odd = ["a b%20c.csv", "q?x=1#frag&y.csv", "खरीदारी पूरी.csv", "🛒 cart.csv", "e\u0301 'q'.csv"]
    for name in odd:
        destination.upload(tmp_path / "day.bin", name)
    assert set(odd) <= set(destination.list())
    assert {f"acme/{n}" for n in odd} <= set(listing(container)())


def test_a_missing_container_is_the_clients_problem(container, tmp_path):
    destination = AzureBlobDestination(CONN, "no-such-box", "acme")
    with pytest.raises(ClientSideError) as err:
        destination.upload(make_file(tmp_path / "day.zip", 10), "day.zip")
    assert err.value.code == "bucket_missing"
    assert "container no-such-box does not exist" in err.value.explanation
    with pytest.raises(ClientSideError, match="no-such-box does not exist"):
        destination.list()


def test_a_wrong_account_key_is_the_clients_problem(azurite, container, tmp_path, caplog):
    key = wrong_key()
    set_connection("it_azure_wrong", azurite.connection(key))
    destination = AzureBlobDestination("it_azure_wrong", CONTAINER, "acme")
    with pytest.raises(ClientSideError) as err:
        destination.upload(make_file(tmp_path / "day.zip", 10), "day.zip")
    assert err.value.code == "auth_failed"
    assert key not in str(err.value) and key not in caplog.text
    assert ACCOUNT_KEY not in caplog.text
    assert listing(container)() == {}


def test_a_read_only_sas_token_is_denied_writing(azurite, container, tmp_path):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    sas = generate_container_sas(
        ACCOUNT,
        CONTAINER,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    extra = {"sas_token": sas}
    set_connection("it_azure_ro", {"conn_type": "wasb", "host": azurite.endpoint, "extra": extra})
    result = check_destination({"type": "azure", "conn_id": "it_azure_ro", "container": CONTAINER})
    assert (result.ok, result.code) == (False, "permission_denied")
    assert [ok for _, ok in result.steps] == [True, True, False, False]
    assert "Storage Blob Data Contributor" in result.fix
    assert sas not in str(result.to_dict())


def test_the_check_passes_and_leaves_nothing_behind(container):
    config = {"type": "azure", "conn_id": CONN, "container": CONTAINER, "path": "acme/daily"}
    result = check_destination(config)
    assert result.ok, result.to_dict()
    assert [label for label, _ in result.steps][1] == "container exists"
    assert listing(container)() == {}
    missing = check_destination({**config, "container": "other-box"})
    assert (missing.ok, missing.code) == (False, "bucket_missing")


def test_an_unreachable_account_is_not_the_clients_problem(container):
    from servers.net import free_port

    dead = f"http://127.0.0.1:{free_port()}/{ACCOUNT}"
    conn = f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
    extra = {"connection_string": f"{conn}BlobEndpoint={dead};", "retry_total": 0}
    set_connection("it_azure_dead", {"conn_type": "wasb", "extra": extra})
    result = check_destination({"type": "azure", "conn_id": "it_azure_dead", "container": "x-box"})
    assert (result.ok, result.code) == (False, "unreachable")


def _storage_error(status: int, code: str, message: str, kind=HttpResponseError):
    error = kind(message=f"{message}\nErrorCode:{code}")
    error.status_code, error.error_code = status, code
    return error


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            _storage_error(
                409,
                "BlobImmutableDueToPolicy",
                "This operation is not permitted as the blob is immutable due to a policy.",
                ResourceExistsError,
            ),
            "retention_policy",
        ),
        (
            _storage_error(
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ),
            "permission_denied",
        ),
        (
            _storage_error(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Signature not valid in the "
                "specified time frame",
            ),
            "auth_failed",
        ),
        (
            _storage_error(403, "AuthorizationSourceIPMismatch", "not authorized from this IP"),
            "permission_denied",
        ),
    ],
)
def test_client_side_errors_azurite_cannot_produce_are_classified(error, code):
    """No immutability policies or RBAC in Azurite: the SDK's exception types stand in."""
    classified = AzureBlobDestination(CONN, CONTAINER, "acme").classify(error, "upload of d.zip")
    assert isinstance(classified, ClientSideError)
    assert classified.code == code
    assert classified.fix


def test_a_server_error_is_ours():
    error = _storage_error(503, "ServerBusy", "The server is busy.")
    classified = AzureBlobDestination(CONN, CONTAINER).classify(error, "upload of d.zip")
    assert type(classified) is DeliveryError


def test_block_size_grows_only_for_huge_files():
    assert block_size_for(10 * MiB) == 8 * MiB
    assert block_size_for(1000 * 1024 * MiB) * 50_000 >= 1000 * 1024 * MiB


def test_path_template_blobs_are_delivered_listed_per_folder_and_verified(container, tmp_path):
    files = templated_export_files(tmp_path / "staging")
    check_templated_delivery(AzureBlobDestination(CONN, CONTAINER, "acme"), files, tmp_path)
    stored = listing(container)()
    assert {f"acme/{f['name']}": f["size"] for f in files}.items() <= stored.items()
