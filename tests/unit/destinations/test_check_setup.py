"""The destination check's set-up answers that need no server: an Azure connection without a
credential (the hook would fall back to the worker's own identity), and an export's OpenPGP key
(present, a public key, able to encrypt) checked after the probe of a local folder."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from conftest import set_local_connection
from event_export.config.model import Encrypt
from event_export.destinations.check import KEY_STEP, check_before_run, check_destination
from event_export.destinations.errors import SetupError
from pgp_keys import KeyPair, make_key, set_key_connection

PROBE_STEPS = ["credentials accepted", "folder exists", "probe written", "probe deleted"]


def _wasb(conn_id: str, **fields) -> str:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "wasb", **fields})
    return conn_id


ACCOUNT_URL = "https://acct.blob.core.windows.net"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"host": ACCOUNT_URL}, "no account key or SAS token"),
        ({"login": "acct", "extra": {"tenant_id": "t-1"}}, "a tenant_id but no client id"),
        ({"login": "acct", "extra": {"sas_token": ""}}, "no account key or SAS token"),
        ({"password": "k3y-value"}, "no storage account (login) or account URL"),
    ],
    ids=["account_url_only", "tenant_without_secret", "empty_sas_token", "key_without_account"],
)
def test_an_azure_connection_without_credentials_is_a_setup_error(fields, missing):
    conn_id = _wasb("chk_azure_bare", **fields)
    result = check_destination({"type": "azure", "conn_id": conn_id, "container": "client-box"})
    assert (result.ok, result.code) == (False, "credentials_missing")
    assert missing in result.explanation and conn_id in result.explanation
    assert "extra sas_token" in result.fix
    assert isinstance(result.error, SetupError)
    assert "k3y-value" not in json.dumps(result.to_dict())


@pytest.fixture(scope="module")
def client_key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pgp-check")
    pair = make_key(folder, "client")
    signer = make_key(folder, "signer", "sign")
    yield pair, signer
    for home in folder.iterdir():
        KeyPair(home, "").stop_agent()


@pytest.fixture
def local(tmp_path):
    set_local_connection("chk_pgp_local", tmp_path / "client")
    (tmp_path / "client" / "acme").mkdir()
    return {"type": "local", "conn_id": "chk_pgp_local", "path": "acme"}


def test_a_usable_key_adds_a_passed_step_and_says_until_when(client_key, local):
    set_key_connection("chk_pgp", client_key[0].public)
    result = check_destination(local, encrypt=Encrypt(pgp_public_key_conn_id="chk_pgp"))
    assert result.ok, result.to_dict()
    assert result.steps == [*((s, True) for s in PROBE_STEPS), (KEY_STEP, True)]
    assert "encrypted to the client's OpenPGP key, valid until 20" in result.explanation
    plain = check_destination(local)
    assert [s for s, _ in plain.steps] == PROBE_STEPS  # no key step without `encrypt`


def test_a_key_about_to_expire_passes_and_asks_for_a_renewed_one(local, tmp_path):
    """Its encryption subkey ends in 10 days, before the primary key's year: that date counts."""
    soon = make_key(tmp_path / "gnupg", "soon", subkey_days=10)
    try:
        set_key_connection("chk_pgp_soon", soon.public)
        result = check_destination(local, encrypt=Encrypt(pgp_public_key_conn_id="chk_pgp_soon"))
    finally:
        soon.stop_agent()
    assert result.ok and result.steps[-1] == (KEY_STEP, True)
    in_ten_days = (datetime.now(UTC) + timedelta(days=10)).date()
    assert f"valid until {in_ten_days:%Y-%m-%d}" in result.explanation
    assert "renewed key" in result.fix


def test_an_unusable_key_fails_the_check_after_a_good_probe(client_key, local):
    set_key_connection("chk_pgp", client_key[1].public)
    encrypt = Encrypt(pgp_public_key_conn_id="chk_pgp")
    result = check_destination(local, encrypt=encrypt)
    assert (result.ok, result.code) == (False, "encryption_key_unusable")
    assert result.steps == [*((s, True) for s in PROBE_STEPS), (KEY_STEP, False)]
    assert result.blocks_delivery
    with pytest.raises(SetupError) as raised:  # the run's first task: on-call, no client email
        check_before_run(local, encrypt)
    assert raised.value.code == "encryption_key_unusable"


def test_a_missing_key_connection_is_named(local):
    os.environ.pop("AIRFLOW_CONN_CHK_PGP_NONE", None)
    result = check_destination(local, encrypt=Encrypt(pgp_public_key_conn_id="chk_pgp_none"))
    assert (result.ok, result.code) == (False, "connection_missing")
    assert "'chk_pgp_none'" in result.explanation


def test_the_destinations_own_failure_comes_first(client_key):
    os.environ["AIRFLOW_CONN_CHK_PGP_NOPATH"] = json.dumps({"conn_type": "fs", "extra": {}})
    set_key_connection("chk_pgp", client_key[1].public)
    broken = {"type": "local", "conn_id": "chk_pgp_nopath", "path": "acme"}
    result = check_destination(broken, encrypt=Encrypt(pgp_public_key_conn_id="chk_pgp"))
    assert result.code == "credentials_missing"  # the destination's answer, then the key's step
    assert result.steps == [*((s, False) for s in PROBE_STEPS), (KEY_STEP, False)]
