"""A real Airflow DAG run (dag.test) delivering a day to the sFTP server, through its connection."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import export_dags
from event_export.pipeline.lake import read_window
from event_export.scheduling.windows import day_window
from servers.net import set_connection

CONFIG = """\
client_id: acme
export_id: it_sftp_acme
source: {lake}
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: sftp, conn_id: it_sftp_dag, path: exports/acme}}
"""


def test_dag_run_delivers_the_day_to_sftp(
    sshd, tmp_path, monkeypatch, kolkata_lake, airflow_db, demo_day, capfd
):
    config = CONFIG.format(lake=kolkata_lake)
    dags = export_dags(tmp_path, monkeypatch, {"it_sftp_acme": config})
    root = sshd.home / "dag-run"
    root.mkdir()
    root.chmod(0o777)
    set_connection("it_sftp_dag", sshd.connection(path=str(root)))
    dag = dags["export_it_sftp_acme"]
    assert "destination:sftp" in dag.tags

    kolkata = ZoneInfo("Asia/Kolkata")
    logical = datetime.combine(demo_day + timedelta(days=1), datetime.min.time(), kolkata)
    assert dag.test(logical_date=logical).state == "success"

    delivered = root / "exports" / "acme"
    assert sorted(p.name for p in delivered.iterdir()) == [
        "acme_01112026.manifest",
        "acme_01112026.zip",
    ]
    manifest = json.loads((delivered / "acme_01112026.manifest").read_text())
    zip_bytes = (delivered / "acme_01112026.zip").read_bytes()
    assert manifest["files"][0]["sha256"] == hashlib.sha256(zip_bytes).hexdigest()
    assert manifest["files"][0]["size"] == len(zip_bytes)
    window = day_window(demo_day, kolkata)
    lake_rows = sum(batch.num_rows for batch in read_window(str(kolkata_lake), window))
    assert manifest["total_rows"] == lake_rows > 0
    output = capfd.readouterr()
    assert sshd.password not in output.out + output.err
