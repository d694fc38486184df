"""The schema contract (pipeline/schema.py): fingerprint, comparison, lock and the record, as pure
functions, then two deliveries in-process (the stages chained, no scheduler) whose payload keys
change, for both profiles and both modes; the files delivered are read back as a client would."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from conftest import set_local_connection
from event_export.config.model import ExportConfig
from event_export.pipeline import schema
from event_export.pipeline.naming import event_label, staging_key
from event_export.pipeline.run import ExportRun, run_export
from schema_days import CART, HOSTILE, HOSTILE_KEY, write_schema_days

SEED = ["appVersion", "ts"]


def test_fingerprint_ignores_order_and_sees_every_column():
    one = schema.fingerprint({"a": ["x", "y"], HOSTILE: ["z"]})
    assert one == schema.fingerprint({HOSTILE: ["z"], "a": ["y", "x"]})
    assert one != schema.fingerprint({"a": ["x", "y"], HOSTILE: ["z", "w"]})
    assert one != schema.fingerprint({"a": ["x", "y"], "nul\x00\u202eevi1": ["z"]})
    assert one != schema.fingerprint({"a": ["x"], HOSTILE: ["z", "y"]})  # a column moved event
    assert len(one) == 64 and int(one, 16) >= 0


def test_evolve_keeps_every_key_and_a_lock_only_its_keys():
    assert schema.apply_lock(["b", "a", "b"], None) == schema.Lock(["a", "b"])
    lock = schema.apply_lock(["price", "coupon", HOSTILE_KEY], ["price", "sku"])
    assert lock.keys == ["price", "sku"]  # sku: vanished, kept as an empty column
    assert lock.dropped == sorted(["coupon", HOSTILE_KEY])
    assert lock.empty == ["sku"]


def test_the_first_delivery_has_no_changes_and_later_ones_list_them():
    first = schema.compare({"a": ["x"]}, None)
    assert first["compared_with"] is None and first["columns"] == {}
    base = schema.Base("2026-11-01", "123", "f" * 64, {"a": ["x", "y"], "gone": ["x"]}, {})
    changes = schema.compare({"a": ["x", "z"], "new": ["x"]}, base)
    assert changes["columns"] == {"a": {"new": ["z"], "vanished": ["y"]}}
    assert changes["new_events"] == ["new"] and changes["vanished_events"] == ["gone"]
    assert changes["compared_with"] == {
        "period": "2026-11-01",
        "request_id": "123",
        "fingerprint": "f" * 64,
    }
    assert schema.compare({"a": ["y", "x"]}, base)["columns"] == {}


def _delivery(mode: str, base: schema.Base | None) -> schema.Delivery:
    offered = [*SEED, f"payload.{HOSTILE_KEY}", "payload.new"]
    events = {HOSTILE: schema.EventColumns([*SEED, "payload.old"], offered, ["old"])}
    return schema.Delivery(mode, events, base)


def test_the_record_is_ascii_and_gives_back_every_raw_name():
    first = _delivery("locked", None).record("2026-11-01", "111")
    text = json.dumps(first)
    assert text.isascii() and "\\u0000" not in text  # nothing PostgreSQL's JSONB would refuse
    base = schema.base_of(first)
    assert base.locked == {HOSTILE: ["old"]} and base.period == "2026-11-01"
    assert base.offered[HOSTILE][2] == f"payload.{HOSTILE_KEY}"
    assert base.lock_for(HOSTILE) == ["old"] and base.lock_for("other") is None
    second = {**_delivery("locked", base).record("2026-11-02", "222"), "run_id": "r2"}
    assert schema.base_of(second, "another run").period == "2026-11-02"
    # the record is this run's own (a cleared run rerunning): it compares with its own base
    assert schema.base_of(second, "r2") == base
    assert schema.base_of(None) is None
    staged = schema.base_from_json(schema.base_to_json(base))
    assert staged == base and schema.base_to_json(base).isascii()


def test_the_summary_carries_labels_never_a_raw_name():
    base = schema.base_of(_delivery("evolve", None).record("2026-11-01", "1"))
    offered = [*SEED, f"payload.{HOSTILE_KEY}", "payload.\u202ertl"]
    changed = schema.Delivery("locked", {HOSTILE: schema.EventColumns(SEED, offered, [])}, base)
    summary = changed.summary()
    text = json.dumps(summary, ensure_ascii=False)
    assert "\x00" not in text and "\u202e" not in text
    label = event_label(HOSTILE)
    assert summary["schema_changed"] is True
    assert summary["schema_changes"]["dropped"] == {label: 2}
    assert summary["schema_changes"]["columns"][label] == {
        "new": [event_label("payload.\u202ertl")],
        "vanished": ["payload.new"],
    }


# Two deliveries in-process


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema-lake")
    return root, write_schema_days(root, date(2026, 11, 1), "Asia/Kolkata")


def config_for(days, tmp_path, **extra) -> ExportConfig:
    set_local_connection("unit_schema", tmp_path / "client")
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "unit_schema",
            "source": str(days[0]),
            "schedule": {"timezone": "Asia/Kolkata"},
            "destination": {"type": "local", "conn_id": "unit_schema", "path": "out"},
            **extra,
        }
    )


def two_deliveries(config, days, tmp_path):
    first = run_export(config, days[1][0])
    second = run_export(config, days[1][1], schema.base_of(first["schema_record"]))
    out = tmp_path / "client" / "out"
    manifests = [json.loads((out / s["manifest"]).read_text()) for s in (first, second)]
    return (first, second), manifests


def zip_headers(path, manifest) -> dict[str, list[str]]:
    """Each raw event's CSV header and rows, as the client's zip holds them."""
    members = manifest["files"][0]["members"]
    out = {}
    with zipfile.ZipFile(path) as zf:
        for member, event in members.items():
            rows = list(csv.reader(io.TextIOWrapper(zf.open(member), "utf-8", newline="")))
            out[event] = rows
    return out


def test_two_daily_zips_list_the_new_and_vanished_columns(days, tmp_path):
    config = config_for(days, tmp_path)
    (first, second), (m1, m2) = two_deliveries(config, days, tmp_path)
    out = tmp_path / "client" / "out"
    for summary, manifest in ((first, m1), (second, m2)):
        files = zip_headers(out / manifest["files"][0]["name"], manifest)
        # the manifest's columns are the headers the client gets, per raw event name
        assert manifest["schema"]["columns"] == {e: rows[0] for e, rows in files.items()}
        assert manifest["schema"]["fingerprint"] == summary["schema_fingerprint"]
        assert manifest["schema"]["fingerprint"] == schema.fingerprint(
            manifest["schema"]["columns"]
        )
    assert m1["schema_changes"]["compared_with"] is None and not first["schema_changed"]
    assert m2["schema_changes"]["compared_with"]["fingerprint"] == m1["schema"]["fingerprint"]
    assert m2["schema_changes"]["columns"] == {
        CART: {"new": ["payload.coupon"], "vanished": ["payload.sku"]},
        HOSTILE: {"new": [f"payload.{HOSTILE_KEY}"], "vanished": []},
    }
    assert m1["schema"]["fingerprint"] != m2["schema"]["fingerprint"]
    assert second["schema_changed"] and "dropped" not in m2["schema"]  # evolve drops nothing
    assert "schema_record" in second and json.dumps(second["schema_record"]).isascii()


def test_a_locked_zip_drops_the_new_key_counts_it_and_keeps_the_vanished_one(days, tmp_path):
    config = config_for(days, tmp_path, schema="locked")
    (_, second), (m1, m2) = two_deliveries(config, days, tmp_path)
    files = zip_headers(tmp_path / "client" / "out" / m2["files"][0]["name"], m2)
    header, *rows = files[CART]
    assert header == m1["schema"]["columns"][CART] == m2["schema"]["columns"][CART]
    assert "payload.coupon" not in header and "X" not in {cell for row in rows for cell in row}
    sku = header.index("payload.sku")
    assert [row[sku] for row in rows] == ["", ""]  # vanished: an empty column
    assert m2["schema"]["fingerprint"] == m1["schema"]["fingerprint"]
    assert m2["schema"]["dropped"] == {
        CART: ["payload.coupon"],
        HOSTILE: [f"payload.{HOSTILE_KEY}"],
    }
    assert m2["schema"]["empty"] == {CART: ["payload.sku"]}
    assert m2["schema_changes"]["columns"][CART] == {
        "new": ["payload.coupon"],
        "vanished": ["payload.sku"],
    }
    assert second["schema_changes"]["dropped"] == {CART: 1, event_label(HOSTILE): 1}


def test_a_locked_gcp_export_drops_the_key_from_every_record(days, tmp_path):
    config = config_for(days, tmp_path, schema="locked", profile="gcp_export", format="json")
    (_, second), (m1, m2) = two_deliveries(config, days, tmp_path)
    out = tmp_path / "client" / "out"
    [cart_file] = [f for f in m2["files"] if CART in f["events"]]
    title, *records = (out / cart_file["name"]).read_text().splitlines()
    props = [json.loads(line)["eventProps"] for line in records]
    assert json.loads(title) == CART and props and all("coupon" not in p for p in props)
    assert sorted(p["price"] for p in props) == [1, 4.25]
    columns = m2["schema"]["columns"][CART]
    assert columns == m1["schema"]["columns"][CART]
    assert "eventProps.sku" in columns and "profile.identity" in columns
    assert m2["schema"]["dropped"][CART] == ["eventProps.coupon"]
    assert second["schema_changed"]


def test_a_locked_profile_export_keeps_only_its_locked_properties(kolkata_lake, demo_day, tmp_path):
    config = ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "unit_schema_profiles",
            "kind": "user_profiles",
            "account_id": 880011,
            "profile": "gcp_export",
            "format": "json",
            "schema": "locked",
            "source": str(kolkata_lake),
            "destination": {"type": "local", "conn_id": "unit_schema", "path": "p"},
        }
    )
    set_local_connection("unit_schema", tmp_path / "client")
    first = run_export(config, demo_day)
    base = schema.base_of(first["schema_record"])
    [offered] = base.locked.values()
    kept = offered[:2]  # as if the first delivery had held only two of today's properties
    narrowed = schema.Base(
        base.period, "1", base.fingerprint, base.offered, {"user_profiles": kept}
    )
    second = run_export(config, demo_day, narrowed)
    out = tmp_path / "client" / "p"
    manifest = json.loads((out / second["manifest"]).read_text())
    [file] = manifest["files"]
    with gzip.open(out / file["name"], "rt") as text:
        props = [json.loads(line).get("profileProps", {}) for line in text]
    assert props and set().union(*props) <= set(kept) and set().union(*props)
    dropped = manifest["schema"]["dropped"]["user_profiles"]
    assert dropped == [f"profileProps.{k}" for k in offered[2:]]
    assert second["schema_changes"]["dropped"] == {"user_profiles": len(offered) - 2}


def test_a_run_staged_before_the_schema_contract_still_validates(days, tmp_path, monkeypatch):
    """A deploy between a run's tasks: no staged base, no recorded columns for one event."""
    monkeypatch.setenv("EES_STAGING_DIR", str(tmp_path / "staging"))
    config = config_for(days, tmp_path)
    run = ExportRun(config, days[1][0])
    extracted = run.extract()
    files = run.package(run.format_shards(run.split(extracted)))
    staged = tmp_path / "staging" / run.prefix
    (staged / "extract" / schema.BASE_FILE).unlink()
    (staged / "format" / staging_key(CART) / schema.EVENT_FILE).unlink()
    for f in files:
        run.upload(f)
    summary = ExportRun(config, days[1][0]).validate(files)
    manifest = json.loads((tmp_path / "client" / "out" / summary["manifest"]).read_text())
    assert list(manifest["schema"]["columns"]) == [HOSTILE]
    assert manifest["schema_changes"]["compared_with"] is None


def test_an_empty_delivery_lists_nothing_and_leaves_the_baseline(days, tmp_path):
    """A day without events between two deliveries (schema: locked): its manifest lists no
    change, and the day after it compares with the last delivery that had events, its locks
    carried through, instead of finding every event new."""
    config = config_for(days, tmp_path, schema="locked")
    day1, day2 = days[1]
    first = run_export(config, day1)
    quiet = day2 + timedelta(days=1)  # the lake has no event that day
    empty = run_export(config, quiet, schema.base_of(first["schema_record"]))
    second = run_export(config, day2, schema.base_of(empty["schema_record"], "another run"))
    out = tmp_path / "client" / "out"
    m1, m0, m2 = (json.loads((out / s["manifest"]).read_text()) for s in (first, empty, second))
    assert m0["total_rows"] == 0 and m0["schema"]["columns"] == {}
    head = m2["schema_changes"]["compared_with"]
    assert head == m0["schema_changes"]["compared_with"]
    assert head["period"] == day1.isoformat() and head["fingerprint"] == m1["schema"]["fingerprint"]
    assert m0["schema_changes"] | {"compared_with": None} == schema.compare({}, None)
    assert not empty["schema_changed"]
    assert m2["schema_changes"]["new_events"] == [] == m2["schema_changes"]["vanished_events"]
    assert m2["schema_changes"]["columns"][CART] == {
        "new": ["payload.coupon"],
        "vanished": ["payload.sku"],
    }
    assert m2["schema"]["columns"] == m1["schema"]["columns"]  # the lock outlived the empty day
    # an empty day before any delivery with events is no base either
    assert schema.base_of(schema.Delivery("locked", {}, None).record("p", "1", "r0")) is None
