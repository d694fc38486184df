"""The Exports page's rules without Airflow: status, display names, filters, pages, broken rows."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from event_export.alerts.failure_policy import STOP_EMAIL, ExportState, Incident
from event_export.config.model import dag_id_for, load_all
from event_export.ui.exports_catalog import (
    SCHEMA_EVENTS_SHOWN,
    DagFacts,
    Filters,
    RunFacts,
    delivery_summary,
    list_exports,
    manifest_view,
    status_of,
)
from event_export.ui.payloads import (
    DeliverySummary,
    DestinationCell,
    ExportRow,
    FileLine,
    IncidentStage,
    ManifestView,
    PageAnswer,
    RunSummary,
    SchemaSummary,
)

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CONFIGS = {
    "a_daily": "destination: {type: local, conn_id: c, path: acme/in}",
    "b_s3": "kind: selected_events\nevents: [x]\nschedule: {frequency: recurring, every_hours: 6}\n"
    "destination: {type: s3, conn_id: c, bucket: b-bucket}",
    "c_once": "profile: gcp_export\nformat: json\nschedule: {frequency: one_time}\n"
    "destination: {type: gcs, conn_id: c, bucket: c-bucket}",
    "d_profiles": "profile: gcp_export\nkind: user_profiles\naccount_id: 1\nformat: parquet\n"
    "destination: {type: sftp, conn_id: my_sftp}",
    "e_off": "schedule: {enabled: false}\ndestination: {type: ftp, conn_id: c}",
}


class InMemoryState:
    """A StateSource holding chosen facts; records which DAG ids each call asked for."""

    def __init__(self, dags, runs, exported=()):
        self._dags, self._runs, self._exported = dags, runs, set(exported)
        self.asked: list[tuple[str, set]] = []

    def dags(self, dag_ids):
        self.asked.append(("dags", set(dag_ids)))
        return {d: f for d, f in self._dags.items() if d in dag_ids}

    def last_runs(self, dag_ids, deliveries=True):
        self.asked.append(("last_runs", set(dag_ids)))
        return {
            d: r if deliveries else replace(r, delivered=None, failure=None)
            for d, r in self._runs.items()
            if d in dag_ids
        }

    def exported_between(self, dag_ids, first, last):
        self.asked.append(("exported_between", set(dag_ids)))
        return {d for d in self._exported if d in dag_ids}

    def run(self, dag_id, run_id):
        return self._runs.get(dag_id)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for export_id, body in CONFIGS.items():
        (tmp_path / f"{export_id}.yaml").write_text(
            f"client_id: {export_id.split('_')[0]}\nexport_id: {export_id}\n{body}\n"
        )
    (tmp_path / "z_broken.yaml").write_text(
        "client_id: zed\nexport_id: z_broken\nformat: csv\nschedule: {timezone: Nowhere/Land}\n"
        "destination: {type: s3, conn_id: c, bucket: zz-bucket}\n"
    )
    return tmp_path


DELIVERED = {
    "manifest": "a.manifest",
    "request_id": "123",
    "location": "local: acme/in",
    "files": [
        {"name": "a.zip", "size": 100, "sha256": "ab" * 32, "rows": 7},
        {"name": "b.zip", "size": 23, "sha256": "cd" * 32, "rows": 3},
    ],
    "rows_per_event": {"x": 10},
    "bytes": 123,
}


def state() -> InMemoryState:
    return InMemoryState(
        dags={
            "export_a_daily": DagFacts(False, NOW + timedelta(hours=3)),
            "export_b_s3": DagFacts(False, None, active_runs=1),
            "export_c_once": DagFacts(False),
            "export_d_profiles": DagFacts(False),
            "export_e_off": DagFacts(True),
        },
        runs={
            "export_a_daily": RunFacts("r1", "success", NOW, NOW, NOW, {}, DELIVERED),
            "export_c_once": RunFacts("r2", "success", NOW, None, NOW, {"period": "day"}, None),
        },
        exported={"export_a_daily"},
    )


def incidents() -> dict[str, ExportState]:
    opened = NOW - timedelta(days=1)
    incident = Incident(opened, opened, "auth_failed", "key rejected", "new key", "r9", (1, 2))
    return {"d_profiles": ExportState(incident=incident)}


def rows(folder, filters: Filters | None = None, **kwargs):
    good, errors = load_all(folder)
    page = list_exports(good.values(), errors, state(), incidents(), filters or Filters(), **kwargs)
    return page


def test_each_export_gets_its_status(folder):
    found = {r["export_id"]: r for r in rows(folder).items}
    assert {k: r["status"] for k, r in found.items()} == {
        "a_daily": "PENDING",
        "b_s3": "RUNNING",
        "c_once": "DONE",
        "d_profiles": "FAILING",
        "e_off": "STOPPED",
        "z_broken": "INVALID",
    }
    stage = found["d_profiles"]["incident"]
    assert (stage["emails_sent"], stage["code"]) == (2, "auth_failed")
    assert stage["stops_at"] == (NOW + timedelta(days=1)).isoformat()
    assert found["e_off"]["next_run"] is None
    assert found["a_daily"]["next_run"] == (NOW + timedelta(hours=3)).isoformat()


def test_last_run_shows_files_and_bytes(folder):
    found = {r["export_id"]: r for r in rows(folder).items}
    delivery = found["a_daily"]["last_run"]["delivery"]
    assert (delivery["files"], delivery["bytes"], delivery["rows"]) == (2, 123, 10)
    assert delivery["request_id"] == "123"
    assert found["c_once"]["last_run"]["period"] == {"period": "day"}


def test_broken_config_is_a_row_with_its_error(folder):
    broken = next(r for r in rows(folder).items if r["export_id"] == "z_broken")
    assert broken["error"] == [
        "z_broken.yaml: schedule.timezone: unknown IANA time zone 'Nowhere/Land'"
    ]
    assert broken["destination"]["type"] == "s3"  # still found by its destination filter
    assert [r["export_id"] for r in rows(folder, Filters(destination="s3")).items] == [
        "b_s3",
        "z_broken",
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(kind="user_profiles"), ["d_profiles"]),
        (Filters(format="json"), ["c_once"]),
        (Filters(status="STOPPED"), ["e_off"]),
        (Filters(frequency="recurring"), ["b_s3"]),
        (Filters(destination="gcs", frequency="one_time"), ["c_once"]),
        (Filters(exported_from=date(2026, 11, 1)), ["a_daily"]),
        (Filters(q="123"), ["a_daily"]),
        (Filters(q="ZED"), ["z_broken"]),
        (Filters(format="xml"), []),
    ],
)
def test_filters(folder, filters, expected):
    assert [r["export_id"] for r in rows(folder, filters).items] == expected


def test_state_is_read_once_per_kind_of_fact_for_the_visible_exports_only(folder):
    good, errors = load_all(folder)
    source = state()
    list_exports(
        good.values(),
        errors,
        source,
        {},
        Filters(exported_to=date(2026, 12, 1)),
        visible=lambda ids: {i for i in ids if i != "export_b_s3"},
    )
    asked = [kind for kind, _ in source.asked]
    assert asked == ["dags", "last_runs", "exported_between", "last_runs"]
    assert "export_b_s3" not in source.asked[0][1]
    assert source.asked[-1][1] == {"export_a_daily"}  # deliveries: the page's rows only


def test_pages_and_sizes(folder):
    first = rows(folder, page_size=10)
    assert (first.total, len(first.items)) == (6, 6)
    assert rows(folder, page=2, page_size=10).items == []
    with pytest.raises(ValueError, match="page_size"):
        rows(folder, page_size=25)
    with pytest.raises(ValueError, match="page"):
        rows(folder, page=0)


def test_display_name_prefers_nickname_then_bucket_then_connection(folder):
    good, _ = load_all(folder)
    by_id = {c.export_id: c.destination for c in good.values()}
    assert by_id["b_s3"].display_name == "b-bucket"
    assert by_id["d_profiles"].display_name == "my_sftp"
    (folder / "f_named.yaml").write_text(
        "client_id: f\nexport_id: f_named\n"
        "destination: {type: s3, conn_id: c, bucket: f-bucket, nickname: EU archive}\n"
    )
    found = {r["export_id"]: r for r in rows(folder).items}
    assert found["f_named"]["destination"]["name"] == "EU archive"


def test_manifest_view_lists_files_with_sizes_checksums_and_rows(folder):
    good, _ = load_all(folder)
    config = next(c for c in good.values() if c.export_id == "a_daily")
    view = manifest_view(config, state().run("export_a_daily", "r1"))
    assert view["request_id"] == "123"
    assert view["files"] == DELIVERED["files"]
    assert (view["bytes"], view["location"]) == (123, "local: acme/in")


CHECK_FAILED = {"task_id": "check_destination", "map_index": -1, "error": "ClientSideError"}


@pytest.mark.parametrize(
    ("dag", "failure", "incident", "frequency", "expected"),
    [
        (
            DagFacts(False),
            CHECK_FAILED | {"code": "path_missing"},
            False,
            "daily",
            ("FAILED", "task check_destination failed: ClientSideError (path_missing)"),
        ),
        (
            DagFacts(False),
            {"task_id": "upload", "map_index": 2, "error": "DeliveryError"},
            False,
            "daily",
            ("FAILED", "task upload [2] failed: DeliveryError"),
        ),
        (
            DagFacts(False),
            {"task_id": "extract", "map_index": -1, "error": None},
            False,
            "daily",
            ("FAILED", "task extract failed"),
        ),  # killed before it could say why
        (DagFacts(False), None, False, "one_time", ("FAILED", "the last run failed")),
        (DagFacts(False), CHECK_FAILED, True, "daily", ("FAILING", None)),  # the incident's
        (DagFacts(False, active_runs=1), CHECK_FAILED, False, "daily", ("RUNNING", None)),
        (DagFacts(True), CHECK_FAILED, False, "daily", ("STOPPED", "paused")),
    ],
)
def test_a_failed_run_is_failed_at_once_unless_something_says_more(
    folder, dag, failure, incident, frequency, expected
):
    good, _ = load_all(folder)
    config = next(c for c in good.values() if c.export_id == "a_daily")
    config = config.model_copy(
        update={"schedule": config.schedule.model_copy(update={"frequency": frequency})}
    )
    run = RunFacts("r3", "failed", NOW, NOW, NOW, failure=failure)
    status, detail = status_of(config, dag, run, incidents()["d_profiles"] if incident else None)
    assert status == expected[0]
    if expected[1]:
        assert detail == expected[1]


def test_failed_is_a_filter_and_the_shown_row_names_the_failed_task(folder):
    source = state()
    failure = CHECK_FAILED | {"code": "path_missing"}
    source._runs["export_a_daily"] = RunFacts("r4", "failed", NOW, NOW, NOW, failure=failure)
    good, errors = load_all(folder)
    page = list_exports(good.values(), errors, source, incidents(), Filters(status="FAILED"))
    (row,) = page.items
    assert (row["export_id"], row["status"]) == ("a_daily", "FAILED")
    assert row["status_detail"] == "task check_destination failed: ClientSideError (path_missing)"
    assert row["last_run"]["failure"] == failure
    assert row["last_run"]["delivery"] is None


def test_each_row_offers_the_actions_its_status_allows(folder):
    found = {r["export_id"]: r["actions"] for r in rows(folder).items}
    assert found == {
        "a_daily": ["view", "stop", "once", "check"],
        "b_s3": ["stop", "once", "check"],
        "c_once": ["once", "check"],  # DONE: a one-time export that delivered has nothing to stop
        "d_profiles": ["stop", "once", "check"],
        "e_off": ["resume", "once", "check"],  # STOPPED: Resume instead of Stop
        "z_broken": [],
    }


def keys(shape) -> set[str]:
    return set(shape.__required_keys__ | shape.__optional_keys__)


def test_every_row_has_exactly_the_declared_shape(folder):
    """Good, running, failing and broken rows alike carry payloads.py's keys, no more, no less:
    the page, `ees` and scripts read them by name."""
    found = {r["export_id"]: r for r in rows(folder).items}
    assert {"a_daily", "b_s3", "d_profiles", "z_broken"} <= set(found)
    for row in found.values():
        assert set(row) == keys(ExportRow), row["export_id"]
        assert set(row["destination"]) == keys(DestinationCell)
    assert set(found["d_profiles"]["incident"]) == keys(IncidentStage)
    assert found["d_profiles"]["incident"]["of"] == STOP_EMAIL
    last = found["a_daily"]["last_run"]
    assert set(last) == keys(RunSummary)
    assert set(last["delivery"]) == keys(DeliverySummary)
    assert found["z_broken"]["dag_id"] == dag_id_for("z_broken") == "export_z_broken"


def test_the_manifest_view_has_exactly_the_declared_shape(folder):
    good, _ = load_all(folder)
    config = next(c for c in good.values() if c.export_id == "a_daily")
    view = manifest_view(config, state().run("export_a_daily", "r1"))
    assert set(view) == keys(ManifestView)
    assert all(set(line) == keys(FileLine) for line in view["files"])
    assert set(rows(folder).to_dict()) == keys(PageAnswer)


def test_a_one_time_export_without_a_run_says_it_runs_only_when_asked(folder):
    """Not "awaiting the next run": a one-time export has no next run until someone asks."""
    by_id = {c.export_id: c for c in load_all(folder)[0].values()}
    one_time, daily = by_id["c_once"], by_id["a_daily"]
    assert status_of(one_time, DagFacts(False), None, None) == (
        "PENDING",
        "runs only when asked: use Run once",
    )
    assert status_of(daily, DagFacts(False), None, None) == ("PENDING", "awaiting the next run")


def test_the_last_delivery_counts_its_schema_changes_by_label():
    """validate's summary (labels only) counted for the row; a delivery from before the schema
    contract, or a malformed value, gives None or zeros, never an error."""
    hostile = '<img src=x onerror="alert(1)">'  # a label is text: the page escapes it
    delivered = {
        **DELIVERED,
        "schema_changed": True,
        "schema_changes": {
            "compared_with": {"period": "2026-10-31", "request_id": "1", "fingerprint": "f"},
            "columns": {
                f"e{i}": {"new": ["payload.a", "payload.b"], "vanished": ["payload.c"]}
                for i in range(SCHEMA_EVENTS_SHOWN)
            }
            | {hostile: {"new": [], "vanished": ["payload.d"]}},
            "new_events": ["refund"],
            "vanished_events": [],
            "dropped": {"e0": 2, "e1": "3"},
        },
    }
    schema = delivery_summary(delivered)["schema"]
    assert set(schema) == keys(SchemaSummary)
    assert schema["compared_with"] == "2026-10-31" and schema["changed"] is True
    assert schema["events"] == [hostile, "e0", "e1", "e2", "e3"]  # sorted, first five
    assert schema["events_changed"] == SCHEMA_EVENTS_SHOWN + 1
    assert (schema["new_columns"], schema["vanished_columns"]) == (10, 6)
    assert (schema["new_events"], schema["vanished_events"], schema["dropped"]) == (1, 0, 2)
    assert delivery_summary(DELIVERED)["schema"] is None
    odd = delivery_summary({**DELIVERED, "schema_changes": {"compared_with": None, "columns": 7}})
    assert odd["schema"]["compared_with"] is None and odd["schema"]["events_changed"] == 0


def test_a_config_airflow_has_had_no_dag_for_since_its_grace_shows_failed(folder):
    """What a DAG file that failed to import leaves: a valid config with no DAG. Waiting for the
    first parse is PENDING; MISSING_GRACE after the file changed, it is FAILED and says why."""
    from event_export.orchestration.factory import MISSING_GRACE, shard_of
    from event_export.ui.exports_api import _ConfigCache

    (folder / "f_orphan.yaml").write_text(
        "client_id: f\nexport_id: f_orphan\ndestination: {type: local, conn_id: c, path: f}\n"
    )
    cache = _ConfigCache()  # what GET /ees/api/exports reads, with the files' times
    good, errors = cache.load(folder)
    changed = cache.changed()
    assert set(changed) == {c.export_id for c in good}  # z_broken did not load: no time
    just_now = list_exports(good, errors, state(), {}, changed=changed)
    found = {r["export_id"]: r for r in just_now.items}
    assert found["f_orphan"]["status"] == "PENDING"
    assert found["f_orphan"]["status_detail"] == "waiting for Airflow to parse its DAG"
    long_ago = {k: t - MISSING_GRACE for k, t in changed.items()}
    found = {
        r["export_id"]: r for r in list_exports(good, errors, state(), {}, changed=long_ago).items
    }
    assert found["f_orphan"]["status"] == "FAILED"
    shard = f"dags/exports_{shard_of('f_orphan'):02d}.py"
    assert found["f_orphan"]["status_detail"] == (
        f"no DAG in Airflow: its DAG file {shard} did not import or timed out"
    )
    assert found["f_orphan"]["actions"] == ["check"]  # the destination; no DAG to run or stop
    assert found["a_daily"]["status"] == "PENDING"  # it has its DAG: unchanged by the time
