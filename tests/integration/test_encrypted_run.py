"""A real DAG run (dag.test) of an export with `encrypt`: the key is checked first, the `chunk`
task encrypts the day's zip, upload and validate see only the encrypted file, and the client
decrypts it with GnuPG."""

import hashlib
import json
import zipfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags, set_local_connection
from pgp_keys import make_key, set_key_connection

CONFIG = """\
client_id: acme
export_id: it_pgp
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_pgp_local, path: acme}}
encrypt: {{pgp_public_key_conn_id: it_pgp_key}}
"""


@pytest.fixture
def client_key(tmp_path):
    pair = make_key(tmp_path / "gnupg", "client")
    set_key_connection("it_pgp_key", pair.public)
    yield pair
    pair.stop_agent()


def test_an_encrypted_daily_zip_is_delivered_validated_and_decrypts(
    tmp_path, monkeypatch, kolkata_lake, airflow_db, client_key, demo_day
):
    dags = export_dags(tmp_path, monkeypatch, {"it_pgp": CONFIG.format(lake=kolkata_lake)})
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "staging"))
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
