"""`make up` from a clean clone: set-up, database, lake, the four Airflow services and the log
servers, then the Exports page through Airflow's login; every socket on loopback; `make down`
stops every process it started (issue 16). Run it under the heavy lock; it records the time from
the clone to the logged-in page in tests/artifacts/make_up.json."""

import ipaddress
import json
import os
import re
import subprocess
import time

import httpx
import psutil
import pytest
from conftest import REPO, free_port

pytestmark = pytest.mark.stack

# the issue asks for under 3 minutes from a clean clone on a quiet machine; this bound leaves
# headroom for a 2-core machine that other suites load (the figure is recorded either way)
SHARED_MACHINE_LIMIT = 300


def _make(clone, *args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EES_"))}
    return subprocess.run(
        ["make", *args], cwd=clone, env=env, capture_output=True, text=True, timeout=timeout
    )


def _ees(clone, *args: str) -> subprocess.CompletedProcess:
    """`ees` of the clone, as on-call runs it with the login `make up` wrote to .up/ees.env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EES_"))}
    for line in (clone / ".up" / "ees.env").read_text().splitlines():
        name, _, value = line.partition("=")
        env[name] = value
    ees = str(clone / ".venv" / "bin" / "ees")
    return subprocess.run([ees, *args], env=env, capture_output=True, text=True, timeout=120)


def _listening(services: list[dict]) -> dict[tuple[str, int], str]:
    found = {}
    for service in services:
        leader = psutil.Process(service["pid"])
        for process in [leader, *leader.children(recursive=True)]:
            try:
                for conn in process.net_connections(kind="inet"):
                    if conn.status == psutil.CONN_LISTEN or (conn.type == 2 and conn.laddr):
                        found[(conn.laddr.ip, conn.laddr.port)] = service["name"]
            except psutil.NoSuchProcess:
                continue
    return found


def test_make_up_from_a_clean_clone_reaches_the_logged_in_exports_page(tmp_path):
    began = time.monotonic()
    load_before = os.getloadavg()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    port = free_port()
    try:
        up = _make(clone, "up", f"PORT={port}", timeout=SHARED_MACHINE_LIMIT)
        assert up.returncode == 0, up.stdout + up.stderr
        url = re.search(r"Exports page\s+(http://127\.0\.0\.1:\d+)/plugin/exports", up.stdout)[1]
        assert url == f"http://127.0.0.1:{port}"
        user, password = re.search(r"log in as\s+(\S+) / (\S+)", up.stdout).groups()
        assert "logs" in up.stdout and ".up/logs/" in up.stdout

        # the page and its API are behind the login; Airflow's login gives the UI's cookie
        assert httpx.get(f"{url}/ees/api/exports", timeout=30).status_code == 401
        wrong = httpx.post(f"{url}/auth/token", json={"username": user, "password": "x" * 12})
        assert wrong.status_code == 401
        login = httpx.post(
            f"{url}/auth/token", json={"username": user, "password": password}, timeout=30
        )
        assert login.status_code == 201, login.text
        cookies = {"_token": login.json()["access_token"]}
        page = httpx.get(f"{url}/ees/", cookies=cookies, timeout=30)
        assert page.status_code == 200 and "Exports" in page.text
        reached = time.monotonic() - began
        rows = httpx.get(
            f"{url}/ees/api/exports", params={"page_size": 40}, cookies=cookies, timeout=60
        ).json()
        shipped = {p.stem for p in (clone / "include" / "exports").glob("*.yaml")}
        assert {r["export_id"] for r in rows["items"]} == shipped

        # ees with the printed login: the check runs on the server, with its connections
        checked = _ees(clone, "check", "acme_daily")
        assert (checked.returncode, checked.stdout.strip()) == (0, "acme_daily: OK"), checked
        local = _ees(clone, "check", "acme_daily", "--local")  # this shell has no demo_local
        assert local.returncode == 1 and "connection_missing" in local.stdout, local
        listed = _ees(clone, "list", "--status", "stopped")
        assert listed.returncode == 0 and "0 of 0 exports" in listed.stdout, listed

        run = json.loads((clone / ".up" / "run.json").read_text())
        names = {s["name"] for s in run["services"]}
        assert {"api-server", "scheduler", "dag-processor", "triggerer"} <= names
        listening = _listening(run["services"])
        assert (("127.0.0.1", port)) in listening
        outside = {a: n for a, n in listening.items() if not ipaddress.ip_address(a[0]).is_loopback}
        assert outside == {}, f"listening beyond loopback: {outside}"
        assert not {8793, 8794} & {p for _, p in listening}  # Airflow's default log-server ports

        down = _make(clone, "down", timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "stopped api-server" in down.stdout
        for service in run["services"]:
            assert not psutil.pid_exists(service["pid"]) or (
                psutil.Process(service["pid"]).status() == psutil.STATUS_ZOMBIE
            ), service
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/api/v2/monitor/health", timeout=5)
        assert "nothing was running" in _make(clone, "down", timeout=120).stdout
        gone = _ees(clone, "list")
        assert gone.returncode == 2 and "Traceback" not in gone.stderr
        assert f"cannot reach the api-server at {url}" in gone.stderr
        assert "EES_API_URL" in gone.stderr
    finally:
        _make(clone, "down", "PURGE=1", timeout=120)
    artifacts = REPO / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    figures = {
        "clone_to_logged_in_exports_page_s": round(reached, 1),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "up_output": up.stdout.replace(password, "<printed password>"),
    }
    (artifacts / "make_up.json").write_text(json.dumps(figures, indent=2))
    print(f"clean clone -> logged-in Exports page: {reached:.0f} s (load {load_before})")
    assert reached < SHARED_MACHINE_LIMIT
