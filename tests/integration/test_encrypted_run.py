"""A real DAG run (dag.test) of an export with `encrypt`: the key is checked first, the `chunk`
task encrypts the day's zip, upload and validate see only the encrypted file, and the client
decrypts it with GnuPG. Staged locally, and on S3 (moto) without host copies, where the zip the
encryption reads is rebuilt from its staged recipe (staging.S3Staging.publish_assembled)."""

import hashlib
import json
import zipfile
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags, set_local_connection
from event_export.pipeline.staging import S3Staging
from pgp_keys import make_key, set_key_connection
from servers.net import set_connection
from servers.s3 import aws_connection, boto_client

CONFIG = """\
client_id: acme
export_id: it_pgp
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_pgp_local, path: acme}}
encrypt: {{pgp_public_key_conn_id: it_pgp_key}}
"""


@pytest.fixture(params=["local", "s3"])
def staging(request, tmp_path, monkeypatch):
    """Where the run stages (`kind`) and, on S3, the keys rebuilt from their recipes (`rebuilt`,
    recorded around the real S3Staging._assemble)."""
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "staging"))
    state = SimpleNamespace(kind=request.param, rebuilt=[])
    if request.param == "s3":
        assemble = S3Staging._assemble

        def recorded(store, key, *args):
            state.rebuilt.append(key)
            return assemble(store, key, *args)

        monkeypatch.setattr(S3Staging, "_assemble", recorded)
        moto_s3 = request.getfixturevalue("moto_s3")
        moto_s3.reset()
        boto_client(moto_s3.endpoint).create_bucket(Bucket="ees-pgp-staging")
        set_connection("it_pgp_staging", aws_connection(moto_s3.endpoint, "AKIAPGP", "secret"))
        monkeypatch.setenv("EES_STAGING_URI", "s3://ees-pgp-staging/runs")
        monkeypatch.setenv("EES_STAGING_CONN_ID", "it_pgp_staging")
        monkeypatch.setenv("EES_STAGING_HOST_COPIES", "off")  # every fetch from S3
    return state


@pytest.fixture
def client_key(tmp_path):
    pair = make_key(tmp_path / "gnupg", "client")
    set_key_connection("it_pgp_key", pair.public)
    yield pair
    pair.stop_agent()


def test_an_encrypted_daily_zip_is_delivered_validated_and_decrypts(
    tmp_path, monkeypatch, kolkata_lake, airflow_db, client_key, demo_day, staging
):
    dags = export_dags(tmp_path, monkeypatch, {"it_pgp": CONFIG.format(lake=kolkata_lake)})
    set_local_connection("it_pgp_local", tmp_path / "client")
    logical = datetime.combine(
        demo_day + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
    run = dags["export_it_pgp"].test(logical_date=logical)
    assert run.state == "success"
    checked = run.get_task_instance("check_destination").xcom_pull(task_ids="check_destination")
    assert checked["steps"][-1] == {"step": "encryption key usable", "passed": True}
    delivered = tmp_path / "client" / "acme"
    assert sorted(p.name for p in delivered.iterdir()) == [
        "acme_01112026.manifest",
        "acme_01112026.zip.pgp",
    ]
    sealed = (delivered / "acme_01112026.zip.pgp").read_bytes()
    manifest = json.loads((delivered / "acme_01112026.manifest").read_text())
    [entry] = manifest["files"]
    assert (entry["size"], entry["sha256"]) == (len(sealed), hashlib.sha256(sealed).hexdigest())
    plain = client_key.decrypt(delivered / "acme_01112026.zip.pgp", tmp_path / "day.zip")
    with zipfile.ZipFile(plain) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(entry["members"])
    assert manifest["total_rows"] == entry["rows"] > 0
    assert list((tmp_path / "staging").rglob("*.pgp")) == []  # released after validate
    if staging.kind == "s3":  # what was encrypted: the zip rebuilt from the staged members
        assert "it_pgp/2026-11-01/package/acme_01112026.zip" in staging.rebuilt
