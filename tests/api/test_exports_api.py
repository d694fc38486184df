"""The Exports page's JSON API over the real plugin app (FastAPI's TestClient), on the session's
Airflow metadata database, with tokens the auth manager issues.

The exports' DAGs reach the database the way `dag.test()` puts them there (a real run of one
daily export over a generated lake syncs every DAG of the folder). The Airflow stacks of
tests/integration run on databases of their own, so the order of the folders does not matter.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO
from event_export.alerts.failure_policy import ExportState, Incident
from event_export.alerts.incidents import IncidentStore
from event_export.orchestration.airflow_api import REQUEST_HEADERS
from fastapi.testclient import TestClient

CLIENT_DIR = "page_client"
CONFIGS = {
    "acme_daily": "schedule: {{timezone: Asia/Kolkata}}\nsource: {lake}\n"
    "destination: {{type: local, conn_id: page_local, path: acme}}",
    "globex_s3": "kind: selected_events\nevents: [add to cart]\n"
    "schedule: {{frequency: recurring, every_hours: 6}}\n"
    "destination: {{type: s3, conn_id: page_s3, bucket: globex-raw}}",
    "umbrella_parquet": "profile: gcp_export\nformat: parquet\n"
    "destination: {{type: gcs, conn_id: page_gcs, bucket: umbrella-bucket}}",
    "umbrella_profiles": "profile: gcp_export\nkind: user_profiles\naccount_id: 7\n"
    "schedule: {{frequency: one_time, timezone: Asia/Dubai}}\n"
    "destination: {{type: gcs, conn_id: page_gcs, bucket: umbrella-bucket}}",
    "initech_sftp": "destination: {{type: sftp, conn_id: page_sftp, path: in}}",
    "initech_off": "schedule: {{enabled: false}}\ndestination: {{type: ftp, conn_id: page_ftp}}",
}
BROKEN = "client_id: hooli\nexport_id: hooli_bad\nschedule: {timezone: Nowhere/Land}\n"


def write_config(folder: Path, export_id: str, body: str, lake: Path | str = "/nowhere") -> None:
    client = export_id.split("_")[0]
    text = f"client_id: {client}\nexport_id: {export_id}\n{body.format(lake=lake)}\n"
    (folder / f"{export_id}.yaml").write_text(text)


@pytest.fixture(scope="module")
def page(tmp_path_factory, airflow_db, kolkata_lake):
    """Configs, their DAGs and one delivered run in the metadata DB, and an API client."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from event_export.ui.exports_api import app
    from sqlalchemy import update

    home = tmp_path_factory.mktemp("exports-page")
    exports = home / "exports"
    exports.mkdir()
    for export_id, body in CONFIGS.items():
        write_config(exports, export_id, body, kolkata_lake)
    (exports / "hooli_bad.yaml").write_text(BROKEN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EES_EXPORTS_DIR", str(exports))
        mp.setenv("EES_INCIDENTS_PATH", str(home / "incidents.json"))
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer")
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "exports-page-test-secret-" + "x" * 48)
        (home / "client").mkdir()
        connection = {"conn_type": "fs", "extra": {"path": str(home / "client")}}
        mp.setenv("AIRFLOW_CONN_PAGE_LOCAL", json.dumps(connection))
        dag = DagBag(dag_folder=REPO / "dags").dags["export_acme_daily"]
        logical = datetime(2026, 11, 2, tzinfo=ZoneInfo("Asia/Kolkata"))
        run = dag.test(logical_date=logical)
        assert run.state == "success"
        enabled = [f"export_{e}" for e in CONFIGS if e != "initech_off"]
        with create_session() as session:  # an operator unpauses new exports
            session.execute(
                update(DagModel).where(DagModel.dag_id.in_(enabled)).values(is_paused=False)
            )
        opened = datetime.now(UTC) - timedelta(hours=30)
        incident = Incident(
            opened, opened, "bucket_missing", "No bucket.", "Create it.", "r", (1, 2)
        )
        IncidentStore().save({"umbrella_parquet": ExportState(incident=incident)})
        manager = init_auth_manager()

        def token(role: str) -> dict:
            jwt = manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role))
            return {"Authorization": f"Bearer {jwt}"}

        client = TestClient(app)
        client.headers.update(token("admin") | REQUEST_HEADERS)  # as `ees` and scripts call
        yield {
            "client": client,
            "token": token,
            "exports": exports,
            "delivered": home / "client" / "acme",
            "run_id": run.run_id,
        }


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["export_id"] for row in response.json()["items"]]


def test_every_export_is_a_row_with_its_status(page):
    body = page["client"].get("/api/exports").json()
    rows = {row["export_id"]: row for row in body["items"]}
    assert (body["total"], body["page"], body["page_size"]) == (7, 1, 20)
    assert {k: r["status"] for k, r in rows.items()} == {
        "acme_daily": "PENDING",
        "globex_s3": "PENDING",
        "hooli_bad": "INVALID",
        "initech_off": "STOPPED",
        "initech_sftp": "PENDING",
        "umbrella_parquet": "FAILING",
        "umbrella_profiles": "PENDING",
    }
    assert rows["umbrella_parquet"]["incident"]["emails_sent"] == 2
    assert rows["globex_s3"]["destination"] == {
        "type": "s3",
        "name": "globex-raw",
        "conn_id": "page_s3",
    }
    assert rows["globex_s3"]["next_run"] is not None  # unpaused, scheduled
    assert rows["initech_off"]["next_run"] is None


def test_last_run_carries_what_was_delivered(page):
    rows = {r["export_id"]: r for r in page["client"].get("/api/exports").json()["items"]}
    last = rows["acme_daily"]["last_run"]
    assert (last["run_id"], last["state"]) == (page["run_id"], "success")
    delivered = {p.name: p for p in page["delivered"].iterdir()}
    delivery = last["delivery"]
    assert delivery["manifest"] in delivered
    data = [p for name, p in delivered.items() if name != delivery["manifest"]]
    assert delivery["files"] == len(data) == 1  # the day's zip
    assert delivery["bytes"] == sum(p.stat().st_size for p in data)
    manifest = json.loads(delivered[delivery["manifest"]].read_text())
    assert delivery["request_id"] == manifest["request_id"]
    assert delivery["rows"] == manifest["total_rows"] > 0


def test_a_broken_config_is_a_row_with_its_error(page):
    rows = {r["export_id"]: r for r in page["client"].get("/api/exports").json()["items"]}
    error = rows["hooli_bad"]["error"]
    assert any("schedule.timezone: unknown IANA time zone 'Nowhere/Land'" in e for e in error)
    assert any("destination: Field required" in e for e in error)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"destination": "gcs"}, ["umbrella_parquet", "umbrella_profiles"]),
        ({"kind": "selected_events"}, ["globex_s3"]),
        ({"kind": "user_profiles"}, ["umbrella_profiles"]),
        ({"format": "parquet"}, ["umbrella_parquet"]),
        ({"status": "STOPPED"}, ["initech_off"]),
        ({"status": "FAILING"}, ["umbrella_parquet"]),
        ({"status": "INVALID"}, ["hooli_bad"]),
        ({"frequency": "recurring"}, ["globex_s3"]),
        ({"frequency": "one_time"}, ["umbrella_profiles"]),
        ({"destination": "gcs", "frequency": "daily"}, ["umbrella_parquet"]),
        ({"q": "INITECH"}, ["initech_off", "initech_sftp"]),
    ],
)
def test_filters(page, query, expected):
    assert ids(page["client"].get("/api/exports", params=query)) == expected


def test_exported_on_range(page):
    today = datetime.now(UTC).date()
    client = page["client"]
    assert ids(client.get("/api/exports", params={"exported_from": today})) == ["acme_daily"]
    assert ids(client.get("/api/exports", params={"exported_to": today})) == ["acme_daily"]
    before = today - timedelta(days=1)
    assert ids(client.get("/api/exports", params={"exported_to": before})) == []
    after = {"exported_from": today + timedelta(days=1)}
    assert ids(client.get("/api/exports", params=after)) == []


def test_view_shows_the_runs_manifest(page):
    url = f"/api/exports/acme_daily/runs/{page['run_id']}/manifest"
    view = page["client"].get(url).json()
    on_disk = {p.name: p for p in page["delivered"].iterdir()}
    manifest = json.loads(on_disk.pop(view["manifest"]).read_text())
    assert view["request_id"] == manifest["request_id"]
    assert view["location"] == manifest["location"]
    assert view["files"] == [
        {
            "name": name,
            "size": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "rows": manifest["total_rows"],
        }
        for name, path in on_disk.items()
    ]
    # the config as committed, shown read-only beside the files
    config = Path(view["config"]["path"])
    assert config.name == "acme_daily.yaml" and config.parent == page["exports"]
    assert (
        view["config"]["yaml"] == config.read_text()
        and "export_id: acme_daily" in config.read_text()
    )
    assert page["client"].get("/api/exports/acme_daily/runs/nope/manifest").status_code == 404


def test_no_token_is_refused(page):
    anonymous = TestClient(page["client"].app)
    assert anonymous.get("/api/exports").status_code == 401
    stop = "/api/exports/initech_sftp/stop"
    assert anonymous.post(stop, headers=REQUEST_HEADERS).status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}
    assert anonymous.get("/api/exports", headers=forged).status_code == 403
    page_html = anonymous.get("/")
    assert page_html.status_code == 401 and "log in" in page_html.text


def test_the_ui_cookie_is_accepted_and_serves_the_page(page):
    browser = TestClient(page["client"].app)
    jwt = page["token"]("viewer")["Authorization"].removeprefix("Bearer ")
    browser.cookies.set("_token", jwt)
    assert browser.get("/api/exports").json()["total"] == 7
    html = browser.get("/").text
    assert "Reset all" in html and "Items per page" in html


def test_a_viewer_sees_but_cannot_stop_or_run(page):
    viewer = page["token"]("viewer")
    client = page["client"]
    assert client.get("/api/exports", headers=viewer).json()["total"] == 7
    assert client.post("/api/exports/initech_sftp/stop", headers=viewer).status_code == 403
    body = {"period": "previous_month"}
    url = "/api/exports/initech_sftp/run-once"
    assert client.post(url, json=body, headers=viewer).status_code == 403


def test_stop_pauses_the_export(page):
    client = page["client"]
    answer = client.post("/api/exports/initech_sftp/stop")
    assert answer.json() == {
        "message": "export stopped",
        "export_id": "initech_sftp",
        "status": "STOPPED",
    }
    assert ids(client.get("/api/exports", params={"status": "STOPPED"})) == [
        "initech_off",
        "initech_sftp",
    ]
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        assert session.get(DagModel, "export_initech_sftp").is_paused
    assert client.post("/api/exports/hooli_bad/stop").status_code == 404


def test_run_once_triggers_a_run_with_the_period(page):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from event_export.pipeline.naming import request_id_for

    client = page["client"]
    day = datetime.now(ZoneInfo("Asia/Dubai")).date() - timedelta(days=3)
    answer = client.post(
        "/api/exports/umbrella_profiles/run-once", json={"period": "day", "day": day.isoformat()}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["message"] == "export initiated"
    assert body["request_id"] == request_id_for("umbrella", "umbrella_profiles", day.isoformat())
    assert body["period"] == {"from": day.isoformat(), "to": day.isoformat()}
    with create_session() as session:
        run = session.query(DagRun).filter_by(run_id=body["run_id"]).one()
        assert (run.dag_id, run.run_type, run.state) == (
            "export_umbrella_profiles",
            "manual",
            "queued",
        )
        assert run.conf == {
            "period": "day",
            "day": day.isoformat(),
            "date_from": None,
            "date_to": None,
        }
    rows = {r["export_id"]: r for r in client.get("/api/exports").json()["items"]}
    assert rows["umbrella_profiles"]["status"] == "RUNNING"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"period": "day", "day": "2020-01-01"}, "more than 60 days ago"),
        ({"period": "date_range", "date_from": "2026-11-03"}, "choose both ends"),
        ({"period": "week"}, "is not one of"),
    ],
)
def test_run_once_refuses_what_the_trigger_form_refuses(page, body, message):
    answer = page["client"].post("/api/exports/globex_s3/run-once", json=body)
    assert answer.status_code == 400
    assert message in answer.json()["detail"]


def test_run_once_of_a_broken_or_unknown_export(page):
    client = page["client"]
    body = {"period": "previous_month"}
    assert client.post("/api/exports/hooli_bad/run-once", json=body).status_code == 409
    assert client.post("/api/exports/nobody/run-once", json=body).status_code == 404


@pytest.mark.parametrize("count", [0, 1, 20, 41])
def test_pagination_edges(page, tmp_path, monkeypatch, count):
    for n in range(count):
        write_config(tmp_path, f"gen_{n:03d}", "destination: {{type: local, conn_id: c}}")
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    client = page["client"]
    seen = []
    for size in (10, 20, 30, 40):
        pages = max(1, -(-count // size))
        for number in range(1, pages + 2):  # one page past the end
            body = client.get("/api/exports", params={"page": number, "page_size": size}).json()
            assert body["total"] == count
            expected = max(0, min(size, count - (number - 1) * size))
            assert len(body["items"]) == expected
            if size == 20:
                seen += [r["export_id"] for r in body["items"]]
    assert seen == [f"gen_{n:03d}" for n in range(count)]
    assert len(client.get("/api/exports").json()["items"]) == min(count, 20)  # default 20
    assert client.get("/api/exports", params={"page_size": 25}).status_code == 422
    assert client.get("/api/exports", params={"page": 0}).status_code == 422


def test_run_once_of_a_profile_export_waits_for_the_recurring_one(page, tmp_path, monkeypatch):
    for export_id in ("umbrella_profiles", "umbrella_profiles_6h"):
        (tmp_path / f"{export_id}.yaml").write_text(
            (page["exports"] / "umbrella_profiles.yaml")
            .read_text()
            .replace("export_id: umbrella_profiles", f"export_id: {export_id}")
        )
    recurring = tmp_path / "umbrella_profiles_6h.yaml"
    recurring.write_text(
        recurring.read_text().replace("frequency: one_time", "frequency: recurring, every_hours: 6")
    )
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    day = datetime.now(ZoneInfo("Asia/Dubai")).date() - timedelta(days=3)
    body = {"period": "day", "day": day.isoformat()}  # a valid request, refused for the rule
    answer = page["client"].post("/api/exports/umbrella_profiles/run-once", json=body)
    assert answer.status_code == 409
    assert "umbrella_profiles_6h" in answer.json()["detail"]


def test_run_once_of_a_profile_export_goes_ahead_once_the_recurring_one_is_stopped(
    page, tmp_path, monkeypatch
):
    """Seed 003's order on the page itself: Stop the scheduled profile export, then Run once."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    for path in page["exports"].glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    profiles = "profile: gcp_export\nkind: user_profiles\naccount_id: 9\n"
    destination = "destination: {{type: local, conn_id: page_local, path: wayne}}"
    schedules = {
        "wayne_profiles_once": "one_time",
        "wayne_profiles_6h": "recurring, every_hours: 6",
    }
    for export_id, frequency in schedules.items():
        body = f"{profiles}schedule: {{{{frequency: {frequency}}}}}\n{destination}"
        write_config(tmp_path, export_id, body)
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    # the DAGs reach the database as the dag-processor writes them; an operator unpauses them
    sync_bag_to_db(DagBag(dag_folder=REPO / "dags"), "dags-folder", None)
    new = [f"export_{e}" for e in schedules]
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id.in_(new)).values(is_paused=False))
    client = page["client"]
    day = datetime.now(UTC).date() - timedelta(days=3)
    body = {"period": "day", "day": day.isoformat()}
    refused = client.post("/api/exports/wayne_profiles_once/run-once", json=body)
    assert refused.status_code == 409
    assert "wayne_profiles_6h" in refused.json()["detail"]
    assert client.post("/api/exports/wayne_profiles_6h/stop").status_code == 200
    answer = client.post("/api/exports/wayne_profiles_once/run-once", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "export initiated"


@pytest.fixture
def acme_only_for_viewers(page, monkeypatch):
    """Airflow's auth manager swapped for one that shows viewers acme's DAGs only."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "restricted_auth.AcmeOnlyForViewers")
    manager = init_auth_manager()
    assert type(manager).__name__ == "AcmeOnlyForViewers"
    jwt = manager.generate_jwt(SimpleAuthManagerUser(username="v", role="viewer"))
    yield {"Authorization": f"Bearer {jwt}"}
    monkeypatch.undo()
    init_auth_manager()


def test_a_user_sees_only_the_exports_the_auth_manager_allows(page, acme_only_for_viewers):
    client, viewer = page["client"], acme_only_for_viewers
    assert ids(client.get("/api/exports", headers=viewer)) == ["acme_daily"]
    url = f"/api/exports/acme_daily/runs/{page['run_id']}/manifest"
    assert client.get(url, headers=viewer).status_code == 200
    url = "/api/exports/umbrella_parquet/runs/any/manifest"
    assert client.get(url, headers=viewer).status_code == 403
    assert len(ids(client.get("/api/exports"))) == 7  # the admin still sees every export


def test_check_destination_probes_the_exports_folder_and_explains_a_missing_one(page, tmp_path):
    client = page["client"]
    answer = client.post("/api/exports/acme_daily/check")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["ok"], body["code"], body["export_id"]) == (True, "ok", "acme_daily")
    assert all(step["passed"] for step in body["steps"]) and len(body["steps"]) == 4
    assert not [p for p in page["delivered"].iterdir() if p.name.startswith(".ees-probe")]
    viewer = page["token"]("viewer")
    assert client.post("/api/exports/acme_daily/check", headers=viewer).status_code == 403
    with pytest.MonkeyPatch.context() as mp:  # the client's root folder is gone
        gone = {"conn_type": "fs", "extra": {"path": str(tmp_path / "gone")}}
        mp.setenv("AIRFLOW_CONN_PAGE_LOCAL", json.dumps(gone))
        refused = client.post("/api/exports/acme_daily/check").json()
    assert (refused["ok"], refused["code"]) == (False, "path_missing")
    assert "does not exist" in refused["explanation"] and refused["fix"]


def test_cli_show_pages_through_the_search_until_the_exact_export(page, tmp_path, monkeypatch):
    """`ees show ca`: 45 exports of client `bca` match the search `ca` and sort first."""
    from event_export.cli import find_export

    for n in range(45):
        write_config(tmp_path, f"bca_{n:03d}", "destination: {{type: local, conn_id: c}}")
    write_config(tmp_path, "ca", "destination: {{type: local, conn_id: c}}")
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    asked = []

    def get_page(query: dict) -> dict:
        asked.append(query["page"])
        answer = page["client"].get("/api/exports", params=query)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert find_export(get_page, "ca")["export_id"] == "ca"
    assert asked == [1, 2]
    asked.clear()
    assert find_export(get_page, "cb") is None
    assert asked == [1]


def _paused(dag_id: str) -> bool:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.get(DagModel, dag_id).is_paused


def test_resume_unpauses_a_stopped_export_and_answers_like_stop(page):
    client = page["client"]
    assert client.post("/api/exports/globex_s3/stop").json()["status"] == "STOPPED"
    assert _paused("export_globex_s3")
    viewer = page["token"]("viewer")  # the right to Stop is the right to Resume: PUT on the DAG
    assert client.post("/api/exports/globex_s3/resume", headers=viewer).status_code == 403
    assert _paused("export_globex_s3")
    answer = client.post("/api/exports/globex_s3/resume")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "message": "export resumed",
        "export_id": "globex_s3",
        "status": "PENDING",
        "missed": None,  # it never delivered: nothing to offer (test_resume_offers_...)
    }
    assert not _paused("export_globex_s3")
    rows = {r["export_id"]: r for r in client.get("/api/exports").json()["items"]}
    assert rows["globex_s3"]["status"] == "PENDING" and rows["globex_s3"]["next_run"]


def test_resume_is_refused_while_the_config_says_enabled_false(page):
    client = page["client"]
    answer = client.post("/api/exports/initech_off/resume")
    assert answer.status_code == 409
    detail = answer.json()["detail"]
    assert "schedule.enabled: false" in detail and "initech_off.yaml" in detail
    assert _paused("export_initech_off")
    assert client.post("/api/exports/hooli_bad/resume").status_code == 409  # broken config
    assert client.post("/api/exports/nobody/resume").status_code == 404


# What a page on another origin can make a logged-in browser send, one entry per trick; every
# state-changing route must refuse each with 403 and change nothing.
CROSS_SITE = {
    "no custom header": {"X-EES-Request": ""},
    "custom header with another value": {"X-EES-Request": "true"},
    "foreign Origin, other port": {"Origin": "http://testserver:8081"},
    "foreign Origin, sibling subdomain": {"Origin": "http://evil.testserver"},
    "foreign Origin, other scheme": {"Origin": "https://testserver"},
    "opaque Origin (sandboxed frame)": {"Origin": "null"},
    "Origin that is no URL": {"Origin": "javascript:alert(1)"},
    "Sec-Fetch-Site: cross-site": {"Sec-Fetch-Site": "cross-site"},
    "Sec-Fetch-Site: same-site": {"Sec-Fetch-Site": "same-site"},
    "Sec-Fetch-Site: none": {"Sec-Fetch-Site": "none"},
    "own Origin but same-site fetch": {
        "Origin": "http://testserver",
        "Sec-Fetch-Site": "same-site",
    },
    "form body": {"Content-Type": "application/x-www-form-urlencoded"},
    "multipart form body": {"Content-Type": "multipart/form-data; boundary=x"},
    "text/plain body": {"Content-Type": "text/plain;charset=UTF-8"},
}
ACTIONS = ("stop", "resume", "run-once", "check", "backfill")


JSON_BODIES = {  # a body the route would accept, so only the guard can refuse it
    "run-once": '{"period": "previous_month"}',
    "backfill": json.dumps(
        {"date_from": str(datetime.now(UTC).date() - timedelta(days=3)), "dry_run": False}
        | {"date_to": str(datetime.now(UTC).date() - timedelta(days=2))}
    ),
}


def _state(export_id: str) -> tuple:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        runs = session.scalar(select(func.count()).where(DagRun.dag_id == f"export_{export_id}"))
    return _paused(f"export_{export_id}"), runs


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("trick", list(CROSS_SITE))
def test_state_changes_from_another_origin_are_refused(page, action, trick):
    client = page["client"]
    export_id = "initech_off" if action == "resume" else "globex_s3"  # paused / running
    before = _state(export_id)
    headers = CROSS_SITE[trick]
    body = JSON_BODIES.get(action, "period=previous_month")
    answer = client.post(f"/api/exports/{export_id}/{action}", headers=headers, content=body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"].startswith("refused: ")
    assert _state(export_id) == before


def test_the_guard_checks_before_the_user_and_names_the_header(page):
    anonymous = TestClient(page["client"].app)
    answer = anonymous.post("/api/exports/globex_s3/stop")
    assert answer.status_code == 403
    assert "X-EES-Request: 1" in answer.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, `ees`: no Origin, no Sec-Fetch-Site
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},  # the page itself
        {"Origin": "http://testserver:80"},  # the default port spelled out
        {"Sec-Fetch-Site": "same-origin"},
        {"Content-Type": "application/json"},
    ],
)
def test_the_pages_own_origin_and_plain_clients_may_change_state(page, headers):
    client = page["client"]
    for action, status in (("stop", "STOPPED"), ("resume", "PENDING")):
        answer = client.post(f"/api/exports/globex_s3/{action}", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == status
    assert not _paused("export_globex_s3")
    check = client.post("/api/exports/acme_daily/check", headers=headers)
    assert check.status_code == 200 and check.json()["ok"] is True


def test_the_configured_base_url_is_an_own_origin_too(page, monkeypatch):
    """Behind a proxy the browser's origin is the public one, which `[api] base_url` names."""
    client = page["client"]
    headers = {"Origin": "https://airflow.acme.example", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/exports/acme_daily/check", headers=headers).status_code == 403
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.acme.example/")
    assert client.post("/api/exports/acme_daily/check", headers=headers).status_code == 200
    headers["Origin"] = "https://evil.acme.example"
    assert client.post("/api/exports/acme_daily/check", headers=headers).status_code == 403


def test_a_failed_run_is_failed_at_once_with_its_task_and_error_class(page, tmp_path, monkeypatch):
    """A real run whose destination folder is gone: FAILED on the page and in `ees list` as soon
    as the run ends (no health check has seen it), naming the task and the error's class."""
    from airflow.dag_processing.dagbag import DagBag
    from event_export.cli import render_table

    for path in page["exports"].glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    write_config(tmp_path, "wayne_daily", "destination: {{type: local, conn_id: page_gone}}")
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    gone = {"conn_type": "fs", "extra": {"path": str(tmp_path / "gone")}}
    monkeypatch.setenv("AIRFLOW_CONN_PAGE_GONE", json.dumps(gone))
    dag = DagBag(dag_folder=REPO / "dags").dags["export_wayne_daily"]
    run = dag.test(logical_date=datetime(2026, 11, 2, tzinfo=UTC))
    assert run.state == "failed"

    client = page["client"]
    assert ids(client.get("/api/exports", params={"status": "FAILED"})) == ["wayne_daily"]
    (row,) = client.get("/api/exports", params={"q": "wayne_daily"}).json()["items"]
    assert row["status"] == "FAILED"
    assert row["status_detail"] == "task check_destination failed: ClientSideError (path_missing)"
    assert row["last_run"]["failure"] == {
        "task_id": "check_destination",
        "map_index": -1,
        "error": "ClientSideError",
        "code": "path_missing",
    }
    assert "FAILED (check_destination: ClientSideError/path_missing)" in render_table([row])
    assert str(tmp_path) not in json.dumps(row)  # the class and code, never the message


def test_every_state_changing_route_is_guarded(page):
    """A route added later without the guard fails here, not in a browser."""
    from event_export.ui.request_guard import same_origin_only

    changing = [
        r for r in page["client"].app.routes if set(getattr(r, "methods", ())) - {"GET", "HEAD"}
    ]
    assert sorted(r.path.rsplit("/", 1)[1] for r in changing) == sorted(ACTIONS)
    for route in changing:
        assert same_origin_only in [d.call for d in route.dependant.dependencies], route.path


# Backfill (issue 20): client days through the page's API into Airflow's own backfill models.
BACKFILL = "/api/exports/{}/backfill"


def _backfill(client, export_id: str, first: str, last: str, **options):
    body = {"date_from": first, "date_to": last} | options
    return client.post(BACKFILL.format(export_id), json=body)


def test_backfill_dry_run_lists_client_days_and_what_airflow_would_run(page):
    """acme_daily delivered 1 Nov (Kolkata) in the fixture: Airflow's own dry run skips that
    day's run unless reprocess says otherwise, and the logical dates are the midnights after."""
    client = page["client"]
    answer = _backfill(client, "acme_daily", "2026-10-31", "2026-11-02", dry_run=True)
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    assert [r["day"] for r in plan["runs"]] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    assert [r["logical_date"] for r in plan["runs"]] == [
        "2026-10-31T18:30:00+00:00",
        "2026-11-01T18:30:00+00:00",
        "2026-11-02T18:30:00+00:00",
    ]
    assert plan["runs"][1]["window_start"] == "2026-10-31T18:30:00+00:00"  # 1 Nov 00:00 IST
    done = [_at(d) for d in plan["will_run"]]
    assert done == [_at(plan["runs"][0]["logical_date"]), _at(plan["runs"][2]["logical_date"])]
    again = _backfill(client, "acme_daily", "2026-11-01", "2026-11-01", dry_run=True)
    assert again.json()["will_run"] == []
    redo = _backfill(
        client, "acme_daily", "2026-11-01", "2026-11-01", dry_run=True, reprocess="completed"
    )
    assert [_at(d) for d in redo.json()["will_run"]] == [_at("2026-11-01T18:30:00+00:00")]
    assert _state("acme_daily") == (False, 1)  # a dry run creates nothing


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("export_id", "first", "last", "words"),
    [
        ("acme_daily", "2025-12-30", "2026-01-02", "before the export's start_date 2026-01-01"),
        ("acme_daily", "2026-11-01", str(datetime.now(UTC).date() + timedelta(days=1)), "not over"),
        ("acme_daily", "2026-11-03", "2026-11-01", "before from"),
        ("umbrella_profiles", "2026-11-01", "2026-11-01", "one-time export"),
        ("initech_off", "2026-11-01", "2026-11-01", "schedule.enabled: false"),
    ],
)
def test_backfill_refusals_say_why_and_create_nothing(page, export_id, first, last, words):
    before = _state(export_id)
    answer = _backfill(page["client"], export_id, first, last)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["detail"]
    assert _state(export_id) == before


def test_backfill_needs_the_right_of_run_once_and_valid_options(page):
    client, viewer = page["client"], page["token"]("viewer")
    body = {"date_from": "2026-11-01", "date_to": "2026-11-01"}
    assert client.post(BACKFILL.format("globex_s3"), json=body, headers=viewer).status_code == 403
    for bad in ({"reprocess": "all"}, {"max_active_runs": 0}, {"max_active_runs": 11}):
        assert client.post(BACKFILL.format("globex_s3"), json=body | bad).status_code == 422
    assert client.post(BACKFILL.format("nobody"), json=body).status_code == 404
    assert client.post(BACKFILL.format("hooli_bad"), json=body).status_code == 409


def test_backfill_creates_an_airflow_backfill_of_four_six_hour_runs(page):
    """globex_s3 runs every 6 h (UTC): one day is four backfill runs on its blocks; a second
    backfill while it runs is refused by Airflow with its reason."""
    from airflow.models.backfill import Backfill, BackfillDagRun
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    client = page["client"]
    answer = _backfill(client, "globex_s3", "2026-11-01", "2026-11-01", max_active_runs=2)
    assert answer.status_code == 200, answer.text
    done = answer.json()
    try:
        assert done["message"] == f"backfill {done['backfill_id']} created: 4 run(s)"
        with create_session() as session:
            backfill = session.get(Backfill, done["backfill_id"])
            assert (backfill.dag_id, backfill.max_active_runs) == ("export_globex_s3", 2)
            runs = session.execute(
                select(DagRun.run_type, DagRun.data_interval_start, DagRun.data_interval_end)
                .join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
                .where(BackfillDagRun.backfill_id == done["backfill_id"])
                .order_by(DagRun.logical_date)
            ).all()
        assert {r.run_type for r in runs} == {"backfill"}
        starts = [datetime(2026, 11, 1, h, tzinfo=UTC) for h in (0, 6, 12, 18)]
        assert [(r.data_interval_start, r.data_interval_end) for r in runs] == [
            (s, s + timedelta(hours=6)) for s in starts
        ]
        refused = _backfill(client, "globex_s3", "2026-11-02", "2026-11-02")
        assert refused.status_code == 409 and "backfill" in refused.json()["detail"].lower()
    finally:  # leave the session's database as the other tests expect it
        with create_session() as session:
            ids = select(BackfillDagRun.dag_run_id).where(
                BackfillDagRun.backfill_id == done["backfill_id"]
            )
            session.execute(delete(DagRun).where(DagRun.id.in_(ids)))
            session.execute(
                delete(BackfillDagRun).where(BackfillDagRun.backfill_id == done["backfill_id"])
            )
            session.execute(delete(Backfill).where(Backfill.id == done["backfill_id"]))


def test_resume_offers_the_days_missed_since_the_last_delivery_and_the_cli_backfills_them(
    page, monkeypatch, capsys
):
    """acme_daily last delivered 1 Nov: resuming it offers 2 Nov to yesterday (Kolkata), and
    `ees resume --backfill-missed` asks for exactly those (here as a dry run of the same body)."""
    from event_export import cli

    client = page["client"]
    assert client.post("/api/exports/acme_daily/stop").status_code == 200
    answer = client.post("/api/exports/acme_daily/resume")
    assert answer.status_code == 200, answer.text
    yesterday = datetime.now(ZoneInfo("Asia/Kolkata")).date() - timedelta(days=1)
    assert answer.json()["missed"] == {"from": "2026-11-02", "to": yesterday.isoformat()}

    class PageApi:  # `ees` over the TestClient: same paths, same JSON, same header
        def call_path(self, method, path, json=None, **kwargs):
            path = path.removeprefix("/ees")  # the plugin's mount point
            if path.endswith("/backfill"):
                json = json | {"dry_run": True}  # the session's scheduler never runs them
            response = client.request(method, path, json=json, **kwargs)
            assert response.status_code == 200, response.text
            return response.json()

    monkeypatch.setattr(cli, "api_from_env", PageApi)
    assert cli.main(["resume", "acme_daily"]) == 0
    out = capsys.readouterr().out
    assert f"missed while stopped: 2026-11-02 to {yesterday}" in out
    assert "ees resume acme_daily --backfill-missed" in out
    assert cli.main(["resume", "acme_daily", "--backfill-missed", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["backfill"]["from"], done["backfill"]["to"]) == ("2026-11-02", str(yesterday))
    assert len(done["backfill"]["runs"]) == (yesterday - datetime(2026, 11, 2).date()).days + 1
    assert cli.main(["backfill", "acme_daily", "--from", "2026-11-01", "--to", "2026-11-02"]) == 0
    text = capsys.readouterr().out
    assert (
        "2026-11-01  01112026  UTC 2026-10-31T18:30:00+00:00 .. 2026-11-01T18:30:00+00:00" in text
    )
    assert "skipped (already run)" in text.splitlines()[1] and text.splitlines()[2].endswith("runs")
