"""The Exports page in a real browser: headless Debian Chromium (Selenium, chromium-driver) logs in
to a real Airflow api-server with the plugin loaded, opens Exports from the UI, filters by format,
views a manifest, stops and resumes an export, sees a failed run as FAILED, and proves that a page
on another origin (another port of 127.0.0.1) cannot stop an export with the logged-in cookie.
Screenshots go to tests/artifacts/.

The stack (tests/stack.py) runs on a database of its own, as every stack does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO, free_port
from event_export.alerts.failure_policy import ExportState, Incident
from event_export.alerts.incidents import IncidentStore
from event_export.generator import write_window
from event_export.pipeline.naming import request_id_for
from event_export.scheduling.windows import day_window
from stack import SERVICE_USER, start_stack, wait_until

pytestmark = [
    pytest.mark.stack,
    pytest.mark.browser,
]  # starts its own Airflow (see conftest's tiers)

ARTIFACTS = REPO / "tests" / "artifacts"
DAY = date(2026, 11, 1)
TZ = "Asia/Kolkata"
EXPORTS = {
    # stopped by its config, so paused from creation (unpaused, the scheduler would run
    # yesterday over it): Resume is refused with the reason
    "acme_daily": "schedule: {timezone: Asia/Kolkata, enabled: false}\n"
    "destination: {type: local, conn_id: page_local, path: acme}",
    # enabled: unpaused from creation, its latest day runs at once and fails (folder gone): FAILED
    "wayne_daily": "schedule: {timezone: Asia/Kolkata}\n"
    "destination: {type: local, conn_id: page_gone}",
    "umbrella_json": "profile: gcp_export\nformat: json\nschedule: {frequency: one_time}\n"
    "destination: {type: gcs, conn_id: page_gcs, bucket: umbrella-bucket}",
    "globex_xml": "profile: gcp_export\nformat: xml\nkind: selected_events\nevents: [x]\n"
    "schedule: {frequency: one_time}\n"
    "destination: {type: s3, conn_id: page_s3, bucket: globex-raw}",
    # FAILING: an open incident (two of its three emails sent) in the stack's incident store
    "initech_sftp": "schedule: {frequency: one_time}\n"
    "destination: {type: sftp, conn_id: page_sftp, path: in, nickname: Initech inbox}",
}
BROKEN = "client_id: hooli\nexport_id: hooli_bad\nschedule: {timezone: Nowhere/Land}\n"


@pytest.fixture(scope="module")
def page_stack(tmp_path_factory, smtp_server):
    """An Airflow stack with the plugin, three exports, and one delivered run of acme_daily."""
    lake = tmp_path_factory.mktemp("page-lake")
    write_window(lake, day_window(DAY, ZoneInfo(TZ)), 3_000)
    client_root = tmp_path_factory.mktemp("page-client")
    exports = {
        export_id: f"client_id: {export_id.split('_')[0]}\nexport_id: {export_id}\n"
        f"source: {lake}\n{body}\n"
        for export_id, body in EXPORTS.items()
    }
    exports["hooli_bad"] = BROKEN
    env = {
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW_CONN_PAGE_LOCAL": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(client_root)}}
        ),
        "AIRFLOW_CONN_PAGE_GONE": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(client_root / "gone")}}
        ),
        "EES_DEADLINE_ALERTS": "off",  # `airflow dags test` below (see deadlines.py)
    }
    stacks = start_stack(tmp_path_factory, smtp_server, exports=exports, env=env)
    stack = next(stacks)
    try:
        # the stack's default is DAGS_ARE_PAUSED_AT_CREATION=true; nobody unpauses anything here
        for export_id in EXPORTS:
            dag = stack.wait_for_dag(f"export_{export_id}")
            assert dag["is_paused"] is (export_id == "acme_daily"), export_id
        # acme_daily's delivered day, by `airflow dags test` in a process of its own, while the
        # scheduler runs wayne_daily's latest day (the two waits overlap)
        airflow = str(Path(sys.executable).with_name("airflow"))
        logical = "2026-11-02T00:00:00+05:30"
        output = stack.home / "dags-test-acme_daily.out"  # a file: a full pipe would stall it
        with output.open("w") as out:
            test_run = subprocess.Popen(
                [airflow, "dags", "test", "export_acme_daily", logical],
                env=stack.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            failed = stack.wait_for_finished_run("export_wayne_daily", 180)
            assert (failed["run_type"], failed["state"]) == ("scheduled", "failed")
            test_run.wait(timeout=300)
        finally:
            if test_run.poll() is None:
                test_run.kill()
                test_run.wait()
        assert test_run.returncode == 0, output.read_text(errors="replace")[-6000:]
        opened = datetime.now(UTC) - timedelta(hours=26)
        incident = Incident(opened, opened, "auth_failed", "The key was rejected.", "New key.", "r")
        IncidentStore(stack.home / "incidents.json").save(
            {"initech_sftp": ExportState(incident=replace(incident, emails_sent=(1, 2)))}
        )
        yield stack, client_root
    finally:
        stacks.close()  # stops every process and drops the stack's database


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1500,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(driver, find, what: str, timeout: float = 30):
    from selenium.common.exceptions import WebDriverException

    def attempt():
        try:
            return find()
        except WebDriverException:
            return None

    try:
        return wait_until(attempt, timeout, what, every=0.3)
    except AssertionError as exc:
        shot(driver, "failure-" + "".join(c if c.isalnum() else "-" for c in what))
        logs = driver.get_log("browser")
        raise AssertionError(f"{exc}; browser console: {logs[-10:]}") from None


def click(driver, find, what: str) -> None:
    """Find an element and click it in one retried step: the React UI may render the element
    again between the two, and a click on the old one fails."""

    def attempt():
        element = find()
        if element is None:
            return None
        element.click()
        return True

    wait_for(driver, attempt, what)


def login(driver, stack) -> None:
    from selenium.webdriver.common.by import By

    if driver.current_url.startswith(stack.base_url) and driver.get_cookie("_token"):
        return  # logged in by an earlier test of this module
    driver.get(f"{stack.base_url}/auth/login")
    user = wait_for(driver, lambda: driver.find_element(By.NAME, "username"), "login form")
    user.send_keys(SERVICE_USER)
    driver.find_element(By.NAME, "password").send_keys(stack.password)
    click(driver, lambda: driver.find_element(By.CSS_SELECTOR, "button[type=submit]"), "submit")
    wait_for(driver, lambda: driver.get_cookie("_token"), "Airflow's _token cookie")


def nav_item(driver, text: str):
    """A visible element of the Airflow UI whose own text is `text` (nav button, menu item)."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.XPATH, f"//*[normalize-space(text())='{text}']")
    return next((e for e in found if e.is_displayed()), None)


def table_rows(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#exports tbody tr[data-export]")
    return {
        r.get_attribute("data-export"): r.find_element(By.CSS_SELECTOR, ".status .badge").text
        for r in rows
    }


ATTACKS = {  # what any page may make a visitor's browser send, cookies included, no preflight
    # a no-cors fetch (the custom header is dropped in that mode; the body is typed text/plain)
    "fetch": """<!doctype html><title>cat pictures</title><script>
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
                    headers: {{"X-EES-Request": "1", "Content-Type": "text/plain"}}, body: "{{}}"}})
  .catch(() => null).finally(() => {{ document.title = "fetch sent"; }});
</script>""",
    # an auto-submitting form
    "form": """<!doctype html><title>cat pictures</title>
<form id="form" method="POST" action="{target}"><input name="confirm" value="yes"></form>
<script>document.getElementById("form").submit();</script>""",
}


@pytest.fixture
def attacker(page_stack):
    """An HTTP server on another port of 127.0.0.1 serving the attack pages (another origin of the
    same site: Airflow's `_token` cookie, not port-bound, goes along)."""
    stack, _ = page_stack
    target = f"{stack.base_url}/ees/api/exports/globex_xml/stop"
    pages = {f"/{name}": page.format(target=target).encode() for name, page in ATTACKS.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_page_on_another_origin_cannot_stop_an_export(page_stack, browser, attacker):
    """Runs before the page's own Stop below, which proves the same browser still can."""
    stack, _ = page_stack
    driver = browser
    login(driver, stack)
    assert stack.api().get_dag("export_globex_xml")["is_paused"] is False
    driver.get(attacker + "fetch")
    wait_for(driver, lambda: driver.title == "fetch sent" or None, "the no-cors fetch answered")
    assert stack.api().get_dag("export_globex_xml")["is_paused"] is False
    driver.get(attacker + "form")  # lands the browser on the API's answer
    api_url = stack.base_url + "/ees/api/exports/"
    wait_for(driver, lambda: driver.current_url.startswith(api_url) or None, "the form's answer")
    answer = driver.page_source
    assert stack.api().get_dag("export_globex_xml")["is_paused"] is False, answer
    assert "refused" in answer and "X-EES-Request" in answer  # 403, with the reason
    assert driver.get_cookie("_token")  # the cookie was there to be abused


def open_exports(driver, stack) -> None:
    """Log in, open Browse -> Exports in the Airflow UI (which frames the page at the plugin's
    route) and switch into the frame once its six rows are there."""
    from selenium.webdriver.common.by import By

    login(driver, stack)
    driver.switch_to.default_content()
    driver.get(stack.base_url)
    click(driver, lambda: nav_item(driver, "Browse"), "the Browse menu")
    click(driver, lambda: nav_item(driver, "Exports"), "Exports in the menu")
    at_route = lambda: "/plugin/exports" in driver.current_url or None  # noqa: E731
    wait_for(driver, at_route, f"the plugin's route (at {driver.current_url})")
    frame = wait_for(driver, lambda: driver.find_element(By.TAG_NAME, "iframe"), "the page frame")
    driver.switch_to.frame(frame)
    wait_for(driver, lambda: len(table_rows(driver)) == 6 or None, "six export rows")


def toast_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "toast-text").text


def in_viewport(driver, element) -> bool:
    """Whether the element is wholly inside the (frame's) visible area."""
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight"
        " && r.right <= innerWidth;",
        element,
    )


def test_exports_page_in_airflow(page_stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    stack, client_root = page_stack
    driver = browser
    open_exports(driver, stack)
    assert table_rows(driver) == {
        "acme_daily": "STOPPED",
        "globex_xml": "PENDING",
        "hooli_bad": "INVALID",
        "initech_sftp": "FAILING",
        "umbrella_json": "PENDING",
        "wayne_daily": "FAILED",
    }
    wayne = driver.find_element(By.CSS_SELECTOR, "tr[data-export=wayne_daily]").text
    assert "task check_destination failed: ClientSideError (path_missing)" in wayne
    initech = driver.find_element(By.CSS_SELECTOR, "tr[data-export=initech_sftp]").text
    assert "Initech inbox" in initech and "email 2 of 3 sent" in initech
    hooli = driver.find_element(By.CSS_SELECTOR, "tr[data-export=hooli_bad]").text
    assert "unknown IANA time zone 'Nowhere/Land'" in hooli

    Select(driver.find_element(By.NAME, "format")).select_by_value("json")
    wait_for(driver, lambda: list(table_rows(driver)) == ["umbrella_json"] or None, "json only")
    driver.find_element(By.ID, "reset-all").click()
    wait_for(driver, lambda: len(table_rows(driver)) == 6 or None, "filters reset")

    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=acme_daily]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=view]").click()
    files = wait_for(
        driver,
        lambda: driver.find_elements(By.CSS_SELECTOR, "#view-files tr") or None,
        "the manifest's files",
    )
    delivered = {p.name: p for p in (client_root / "acme").iterdir()}
    shown = {
        cells[0].text: cells[2].text
        for cells in (f.find_elements(By.TAG_NAME, "td") for f in files)
    }
    manifest = next(p for name, p in delivered.items() if name.endswith(".manifest"))
    assert shown == {
        name: hashlib.sha256(path.read_bytes()).hexdigest()
        for name, path in delivered.items()
        if path != manifest
    }
    request_id = json.loads(manifest.read_text())["request_id"]
    assert driver.find_element(By.ID, "view-request").text == request_id
    # View opens at its top, the request id in sight, the config's YAML beside the files
    assert driver.execute_script("return document.getElementById('view').scrollTop") == 0
    assert in_viewport(driver, driver.find_element(By.ID, "view-request"))
    config = driver.find_element(By.ID, "view-config").text
    assert "export_id: acme_daily" in config and "page_local" in config
    driver.switch_to.default_content()
    shot(driver, "exports-page-view")
    driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
    driver.find_element(By.CSS_SELECTOR, "#view form button").click()

    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=globex_xml]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=stop]").click()
    ask = wait_for(
        driver, lambda: driver.find_element(By.ID, "confirm-text").text or None, "confirmation"
    )
    assert "Stop export globex_xml?" in ask
    assert table_rows(driver)["globex_xml"] == "PENDING"  # nothing happens before the answer
    driver.find_element(By.ID, "confirm-yes").click()
    wait_for(driver, lambda: table_rows(driver).get("globex_xml") == "STOPPED" or None, "STOPPED")
    assert "export stopped" in toast_text(driver)
    assert stack.api().get_dag("export_globex_xml")["is_paused"] is True

    # Resume, beside Stop on a stopped row, asks first too
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=globex_xml]")
    assert not row.find_elements(By.CSS_SELECTOR, "button[data-act=stop]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=resume]").click()
    ask = wait_for(
        driver, lambda: driver.find_element(By.ID, "confirm-text").text or None, "confirmation"
    )
    assert "Resume export globex_xml?" in ask
    assert driver.find_element(By.ID, "confirm-yes").text == "Resume export"
    driver.find_element(By.ID, "confirm-yes").click()
    wait_for(driver, lambda: table_rows(driver).get("globex_xml") == "PENDING" or None, "resumed")
    assert "export resumed" in toast_text(driver)
    assert stack.api().get_dag("export_globex_xml")["is_paused"] is False
    # ... and is refused, with the reason, for an export its config stops
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=acme_daily]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=resume]").click()
    wait_for(driver, lambda: driver.find_element(By.ID, "confirm-text").text or None, "asked")
    driver.find_element(By.ID, "confirm-yes").click()
    refused = wait_for(
        driver,
        lambda: "schedule.enabled: false" in toast_text(driver) or None,
        "the refusal's reason",
    )
    assert refused and "acme_daily.yaml" in toast_text(driver)
    assert stack.api().get_dag("export_acme_daily")["is_paused"] is True

    # check destination: the probe goes to the client's folder and is deleted again
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=acme_daily]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=check]").click()
    checked = wait_for(
        driver,
        lambda: "destination OK" in toast_text(driver) or None,
        "destination OK",
    )
    assert checked and "probe" in toast_text(driver).lower()
    assert not list((client_root / "acme").glob(".ees-probe*"))

    # run once: a day three days back; the page answers with the run's request id
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=umbrella_json]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=once]").click()
    form = wait_for(driver, lambda: driver.find_element(By.ID, "once-form"), "run-once form")
    Select(form.find_element(By.NAME, "period")).select_by_value("day")
    day = datetime.now(UTC).date() - timedelta(days=3)
    day_input = form.find_element(By.NAME, "day")
    driver.execute_script("arguments[0].value = arguments[1]", day_input, day.isoformat())
    driver.find_element(By.ID, "once-go").click()
    banner = wait_for(
        driver,
        lambda: "export initiated" in toast_text(driver) or None,
        "export initiated",
    )
    assert banner
    expected = request_id_for("umbrella", "umbrella_json", day.isoformat())
    assert f"request id {expected}" in toast_text(driver)
    runs = stack.api()._call("GET", "/dags/export_umbrella_json/dagRuns")["dag_runs"]
    assert [r["conf"]["day"] for r in runs] == [day.isoformat()]

    # Backfill, beside Run once on a scheduled export only: a preview lists the client days
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=umbrella_json]")  # re-rendered
    assert not row.find_elements(By.CSS_SELECTOR, "button[data-act=backfill]")  # one-time
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=wayne_daily]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=backfill]").click()
    form = wait_for(driver, lambda: driver.find_element(By.ID, "backfill-form"), "backfill form")
    for name, value in (("date_from", "2026-11-01"), ("date_to", "2026-11-02")):
        field = form.find_element(By.NAME, name)
        driver.execute_script("arguments[0].value = arguments[1]", field, value)
    driver.find_element(By.ID, "backfill-dry").click()
    cells = wait_for(
        driver,
        lambda: (
            [
                [c.text for c in r.find_elements(By.TAG_NAME, "td")]
                for r in driver.find_elements(By.CSS_SELECTOR, "#backfill-runs tbody tr")
            ]
            or None
        ),
        "the backfill preview",
    )
    assert [c[:2] + c[3:] for c in cells] == [
        ["2026-11-01", "01112026", "2026-11-01 18:30 UTC", "runs"],
        ["2026-11-02", "02112026", "2026-11-02 18:30 UTC", "runs"],
    ]
    assert "dry run" in driver.find_element(By.ID, "backfill-preview").text
    field = form.find_element(By.NAME, "date_from")
    driver.execute_script("arguments[0].value = arguments[1]", field, "2025-12-31")
    driver.find_element(By.ID, "backfill-dry").click()
    refused = wait_for(
        driver, lambda: driver.find_element(By.ID, "backfill-error").text or None, "refusal"
    )
    assert "before the export's start_date 2026-01-01" in refused
    form.find_element(By.CSS_SELECTOR, "button[value=cancel]").click()
    assert (
        stack.api().call_path("GET", "/api/v2/backfills", params={"dag_id": "export_wayne_daily"})[
            "total_entries"
        ]
        == 0
    )  # previews create nothing
    driver.switch_to.default_content()
    shot(driver, "exports-page")


def test_the_toast_is_in_view_after_stop_on_a_row_far_down(page_stack, browser):
    """A short window: the last row is reached by scrolling; the confirmation and the answer
    both show where the user is looking, the answer named after the row."""
    from selenium.webdriver.common.by import By

    stack, _ = page_stack
    driver = browser
    driver.set_window_size(1500, 450)
    try:
        open_exports(driver, stack)
        row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=wayne_daily]")
        button = row.find_element(By.CSS_SELECTOR, "button[data-act=stop]")
        driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", button)
        assert driver.execute_script("return scrollY") > 0  # the page is scrolled down
        button.click()
        ask = wait_for(driver, lambda: driver.find_element(By.ID, "confirm-text"), "confirmation")
        assert "Stop export wayne_daily?" in ask.text and in_viewport(driver, ask)
        driver.find_element(By.ID, "confirm-yes").click()
        wait_for(
            driver, lambda: table_rows(driver).get("wayne_daily") == "STOPPED" or None, "STOPPED"
        )
        toast = wait_for(
            driver,
            lambda: ((t := driver.find_element(By.ID, "toast")).is_displayed() and t) or None,
            "the toast",
        )
        assert toast_text(driver) == "wayne_daily: export stopped"
        assert toast.get_attribute("data-export") == "wayne_daily"
        assert driver.execute_script("return scrollY") > 0 and in_viewport(driver, toast)
        driver.switch_to.default_content()
        shot(driver, "exports-page-toast")
        assert stack.api().get_dag("export_wayne_daily")["is_paused"] is True
    finally:
        driver.switch_to.default_content()
        driver.set_window_size(1500, 1000)
        stack.api().set_paused("export_wayne_daily", False)  # as the other tests expect it


def test_the_run_once_dialog_shows_only_the_chosen_periods_fields(page_stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    stack, _ = page_stack
    driver = browser
    open_exports(driver, stack)
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-export=umbrella_json]")
    row.find_element(By.CSS_SELECTOR, "button[data-act=once]").click()
    form = wait_for(driver, lambda: driver.find_element(By.ID, "once-form"), "run-once form")
    period = Select(form.find_element(By.NAME, "period"))
    labels = {o.get_attribute("value"): o.text for o in period.options}
    assert labels == {
        "day": "One day",
        "date_range": "Several days, first to last",
        "previous_month": "Last month, every day",
        "current_month": "This month, up to yesterday",
    }
    assert period.first_selected_option.get_attribute("value") == "day"  # the default

    def shown() -> list[str]:
        return [
            i.get_attribute("name")
            for i in form.find_elements(By.CSS_SELECTOR, "input")
            if i.is_displayed()
        ]

    expected = {
        "day": ["day"],
        "date_range": ["date_from", "date_to"],
        "previous_month": [],
        "current_month": [],
    }
    for value, fields in expected.items():
        period.select_by_value(value)
        assert shown() == fields, value
        month = driver.find_element(By.ID, "once-month")
        assert month.is_displayed() is value.endswith("_month"), value
        driver.switch_to.default_content()
        shot(driver, f"exports-page-once-{value}")
        driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
    # a hidden field is not sent: a range's ends typed, then "One day" asked with its own day
    period.select_by_value("date_range")
    for name, value in (("date_from", "2026-01-01"), ("date_to", "2026-01-02")):
        form.find_element(By.NAME, name).send_keys(value)
    period.select_by_value("day")
    sent = driver.execute_script(
        "return Object.fromEntries(new FormData(document.getElementById('once-form')))"
    )
    assert sent == {"period": "day", "day": ""}
    form.find_element(By.CSS_SELECTOR, "button[value=cancel]").click()


def theme_of_frame(driver) -> tuple[str, float]:
    """The frame's theme mark and its page background's luminance (0 black .. 1 white)."""
    mark, background = driver.execute_script(
        "return [document.documentElement.dataset.theme,"
        " getComputedStyle(document.body).backgroundColor]"
    )
    red, green, blue = (int(v) for v in background[background.index("(") + 1 : -1].split(",")[:3])
    return mark, (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_the_page_follows_airflows_dark_and_light_theme(page_stack, browser):
    """The Airflow UI keeps its colour mode in localStorage "theme" and marks its <html> with
    class dark or light (next-themes); the framed page follows, also when it changes live."""
    stack, _ = page_stack
    driver = browser
    login(driver, stack)
    driver.get(stack.base_url)
    driver.execute_script("localStorage.setItem('theme', 'dark')")
    try:
        open_exports(driver, stack)
        driver.switch_to.default_content()
        assert driver.execute_script("return document.documentElement.classList.contains('dark')")
        driver.switch_to.frame(driver.find_elements("tag name", "iframe")[0])
        wait_for(driver, lambda: theme_of_frame(driver)[0] == "dark" or None, "the dark theme")
        assert theme_of_frame(driver)[1] < 0.2  # a dark background, not only the mark
        driver.switch_to.default_content()
        shot(driver, "exports-page-dark")
        driver.switch_to.frame(driver.find_elements("tag name", "iframe")[0])

        # switched back in the Airflow UI (as its toggle does): the frame follows without reload
        driver.switch_to.default_content()
        driver.execute_script(
            "document.documentElement.classList.replace('dark', 'light');"
            "localStorage.setItem('theme', 'light')"
        )
        driver.switch_to.frame(driver.find_elements("tag name", "iframe")[0])
        wait_for(driver, lambda: theme_of_frame(driver)[0] == "light" or None, "light again")
        assert theme_of_frame(driver)[1] > 0.9
    finally:
        driver.switch_to.default_content()
        driver.execute_script("localStorage.setItem('theme', 'light')")


def ees(stack, *args: str) -> subprocess.CompletedProcess:
    """The installed `ees` console script against the stack's api-server, as on-call runs it."""
    env = os.environ | {
        "EES_API_URL": stack.base_url,
        "EES_API_USER": SERVICE_USER,
        "EES_API_PASSWORD": stack.password,
    }
    command = [str(Path(sys.executable).with_name("ees")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_cli_lists_shows_runs_once_and_stops_through_the_page_api(page_stack):
    stack, client_root = page_stack
    listed = ees(stack, "list", "--format", "xml", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["export_id"] for row in json.loads(listed.stdout)["items"]] == ["globex_xml"]
    table = ees(stack, "list")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["EXPORT", "CLIENT", "DESTINATION"]
    assert "INVALID hooli_bad: hooli_bad.yaml: schedule.timezone:" in table.stdout
    assert "sftp:Initech inbox" in table.stdout and "FAILING (email 2/3)" in table.stdout
    assert "FAILED (check_destination: ClientSideError/path_missing)" in table.stdout
    assert stack.password not in table.stdout + table.stderr

    shown = ees(stack, "show", "acme_daily", "--json")
    assert shown.returncode == 0, shown.stderr
    manifest = json.loads(shown.stdout)["manifest"]
    on_disk = next((client_root / "acme").glob("*.manifest"))
    assert manifest["request_id"] == json.loads(on_disk.read_text())["request_id"]
    zip_path = next((client_root / "acme").glob("*.zip"))
    assert [(f["name"], f["sha256"]) for f in manifest["files"]] == [
        (zip_path.name, hashlib.sha256(zip_path.read_bytes()).hexdigest())
    ]

    day = datetime.now(UTC).date() - timedelta(days=4)
    once = ees(stack, "run-once", "acme_daily", "--day", day.isoformat())
    assert once.returncode == 0, once.stderr
    expected = request_id_for("acme", "acme_daily", day.isoformat())
    assert once.stdout.strip() == f"export initiated: request id {expected}"
    too_old = ees(stack, "run-once", "acme_daily", "--day", (day - timedelta(days=70)).isoformat())
    assert too_old.returncode == 2 and "60 days" in too_old.stderr

    stopped = ees(stack, "stop", "umbrella_json")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == "umbrella_json: STOPPED"
    assert stack.api().get_dag("export_umbrella_json")["is_paused"] is True
    resumed = ees(stack, "resume", "umbrella_json")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("umbrella_json: ") and "STOPPED" not in resumed.stdout
    assert stack.api().get_dag("export_umbrella_json")["is_paused"] is False
    refused = ees(stack, "resume", "acme_daily")
    assert refused.returncode == 2 and "schedule.enabled: false" in refused.stderr
    assert stack.api().get_dag("export_acme_daily")["is_paused"] is True
