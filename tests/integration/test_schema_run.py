"""The schema contract through real DAG runs (dag.test on the session's metadata database): two
deliveries of a `schema: locked` export whose second day gains a key and loses one
(tests/schema_days.py), after a day without events that is no base. The second run finds the
first's record in Airflow's XCom, its manifest lists the changes and the dropped key, and a
signed schema_changed event reaches the receiver; a rerun of the first day compares with what it
compared with before, not with the later day."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import export_dags, set_local_connection
from event_export.pipeline.naming import event_label
from schema_days import CART, HOSTILE, HOSTILE_KEY, write_schema_days

CONFIG = """\
client_id: acme
export_id: it_schema
source: {lake}
schema: locked
schedule: {{timezone: Asia/Kolkata}}
destination: {{type: local, conn_id: it_schema_local, path: acme}}
notify:
  webhooks:
    - {{url: "{url}", secret_conn_id: ees_webhook_secret}}
"""


@pytest.fixture
def export(tmp_path, monkeypatch, webhook_receiver, airflow_db):
    webhook_receiver.reset()
    days = write_schema_days(tmp_path / "lake", date(2026, 10, 1), "Asia/Kolkata")
    url = webhook_receiver.url("/hooks/schema")
    config = CONFIG.format(lake=tmp_path / "lake", url=url)
    dag = export_dags(tmp_path, monkeypatch, {"it_schema": config})["export_it_schema"]
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "staging"))
    set_local_connection("it_schema_local", tmp_path / "client")
    return dag, days, tmp_path / "client" / "acme"


def run_day(dag, day):
    logical = datetime.combine(
        day + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Kolkata")
    )
    return dag.test(logical_date=logical)


def manifest_of(folder, day) -> dict:
    return json.loads((folder / f"acme_{day:%d%m%Y}.manifest").read_text())


def test_a_new_and_a_vanished_key_are_listed_dropped_and_sent_signed(export, webhook_receiver):
    dag, (day1, day2), folder = export
    # a day without events first: delivered (chunk reads no format result), no base after it
    quiet = day1 - timedelta(days=1)
    assert run_day(dag, quiet).state == "success"
    assert manifest_of(folder, quiet)["total_rows"] == 0
    assert run_day(dag, day1).state == "success"
    first = manifest_of(folder, day1)
    assert first["schema_changes"]["compared_with"] is None  # the empty day was no base
    assert run_day(dag, day2).state == "success"
    second = manifest_of(folder, day2)

    changes = second["schema_changes"]
    assert changes["compared_with"]["period"] == day1.isoformat()
    assert changes["compared_with"]["fingerprint"] == first["schema"]["fingerprint"]
    assert changes["columns"][CART] == {"new": ["payload.coupon"], "vanished": ["payload.sku"]}
    assert changes["columns"][HOSTILE] == {"new": [f"payload.{HOSTILE_KEY}"], "vanished": []}
    assert second["schema"]["dropped"][CART] == ["payload.coupon"]
    assert second["schema"]["columns"] == first["schema"]["columns"]  # locked
    with zipfile.ZipFile(folder / f"acme_{day2:%d%m%Y}.zip") as zf:
        [member] = [m for m, e in second["files"][0]["members"].items() if e == CART]
        header = next(csv.reader(io.TextIOWrapper(zf.open(member), "utf-8", newline="")))
    assert header == second["schema"]["columns"][CART] and "payload.coupon" not in header

    got = webhook_receiver.wait_for(4)
    assert all(r.verified for r in got)
    events = [r.json() for r in got]
    assert sorted(e["event"] for e in events) == ["delivered"] * 3 + ["schema_changed"]
    [changed] = [e for e in events if e["event"] == "schema_changed"]
    assert changed["period"] == day2.isoformat() and changed["mode"] == "locked"
    assert changed["manifest"] == f"acme_{day2:%d%m%Y}.manifest"
    assert changed["schema_fingerprint"] == second["schema"]["fingerprint"]
    sent = changed["changes"]
    assert sent["dropped"] == {CART: 1, event_label(HOSTILE): 1}
    assert sent["columns"][CART] == {"new": ["payload.coupon"], "vanished": ["payload.sku"]}
    assert event_label(HOSTILE) in sent["columns"]
    assert "\x00" not in json.dumps(changed, ensure_ascii=False)  # labels only, no raw name

    # a rerun of the first day, after the second: the same base (none), the same manifest
    before = (folder / f"acme_{day1:%d%m%Y}.manifest").read_bytes()
    assert run_day(dag, day1).state == "success"
    assert (folder / f"acme_{day1:%d%m%Y}.manifest").read_bytes() == before
