"""`ees` for on-call: every failure is one line naming what to set, never a traceback; filter
values are checked against their choices; --help lists the environment variables. The server's
own refusals and a failing export's explanation are proven against a real Airflow in
tests/integration/test_cli_stack.py and test_make_up.py."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from event_export import cli
from event_export.orchestration.airflow_api import AirflowApiError, response_detail
from event_export.settings import ApiLogin

EES = Path(sys.executable).parent / "ees"
LOGIN = ApiLogin("http://127.0.0.1:1", "", "oncall", "pw")


def _ees(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EES_API")}
    return subprocess.run(
        [str(EES), *args], capture_output=True, text=True, timeout=60, env=clean | env
    )


def _one_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_server_that_is_down_is_one_line_naming_ees_api_url():
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    done = _ees("list", EES_API_URL=url, EES_API_USER="a", EES_API_PASSWORD="b")
    assert done.returncode == 2
    line = _one_line(done)
    assert line.startswith(f"ees list: cannot reach the api-server at {url}")
    assert "EES_API_URL" in line


@pytest.fixture
def no_login(monkeypatch):
    for name in ("EES_API_URL", "EES_API_TOKEN", "EES_API_USER", "EES_API_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_missing_credentials_name_the_variables_to_set(no_login, capsys):
    no_login.setenv("EES_API_USER", "oncall")
    assert cli.main(["show", "acme_daily"]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    assert "set EES_API_PASSWORD" in line and "EES_API_TOKEN" in line
    assert "EES_API_USER and" not in line  # the user is set: only the password is missing


def test_a_url_that_is_not_http_is_named(no_login, capsys):
    no_login.setenv("EES_API_URL", "ftp://host")
    no_login.setenv("EES_API_TOKEN", "t")
    assert cli.main(["list"]) == 2
    assert "EES_API_URL 'ftp://host' is not an http://" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [
        ("--status", "stoped", "'STOPPED'"),
        ("--format", "zip", "'parquet'"),
        ("--frequency", "weekly", "'one_time'"),
        ("--destination", "dropbox", "'sftp'"),
        ("--kind", "events", "'user_profiles'"),
    ],
)
def test_filter_values_outside_their_choices_exit_2_listing_them(flag, value, allowed, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["list", flag, value])  # refused before any call: no server needed
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and allowed in err


def test_a_filter_value_in_another_case_is_the_same_choice():
    args = cli.parser().parse_args(["list", "--status", "stopped", "--format", "CSV"])
    assert (args.status, args.format) == ("STOPPED", "csv")


def test_help_lists_the_environment_variables(capsys):
    for argv in (["--help"], ["list", "--help"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 0
        out = capsys.readouterr().out
        for name in ("EES_API_URL", "EES_API_TOKEN", "EES_API_USER", "EES_API_PASSWORD"):
            assert name in out, (argv, name)


def _refusal(status: int, body, path: str = "/ees/api/exports/x/stop") -> AirflowApiError:
    response = httpx.Response(status, json=body)
    return AirflowApiError(f"POST {path}: HTTP {status}", status, response_detail(response))


def test_refusals_read_as_the_servers_sentence_or_what_to_set():
    wrong = cli.explain(_refusal(401, {"detail": "Invalid credentials"}, "/auth/token"), LOGIN)
    assert "refused the login of EES_API_USER 'oncall'" in wrong and "EES_API_PASSWORD" in wrong
    token = ApiLogin(LOGIN.url, "expired", "", "")
    assert "EES_API_TOKEN" in cli.explain(_refusal(401, {"detail": "Unauthorized"}), token)
    empty = cli.explain(_refusal(400, {"detail": "missing"}, "/auth/token"), LOGIN)
    assert "set EES_API_USER and EES_API_PASSWORD" in empty
    reason = "the config says `schedule.enabled: false`; set it to true to resume"
    assert cli.explain(_refusal(409, {"detail": reason}), LOGIN) == reason
    assert "may not do this" in cli.explain(_refusal(403, {"detail": "Forbidden"}), LOGIN)
    invalid = [{"loc": ["body", "day"], "msg": "Input should be a valid date"}]
    assert cli.explain(_refusal(422, {"detail": invalid}), LOGIN) == (
        "day: Input should be a valid date"
    )
    assert "HTTP 500" in cli.explain(_refusal(500, {"detail": "boom"}), LOGIN)


def test_show_tells_a_failing_exports_error_fix_and_emails():
    incident = {
        "source": "incident",
        "code": "path_missing",
        "explanation": "The folder acme does not exist.",
        "fix": "Create the folder.",
        "emails_sent": 2,
        "opened_at": "2026-11-20T01:00:00+00:00",
        "stops_at": "2026-11-23T01:00:00+00:00",
        "stopped_at": None,
    }
    text = cli.render_problem(incident)
    assert "error path_missing (the client's side): The folder acme does not exist." in text
    assert "fix: Create the folder." in text
    assert "email 2 of 3 sent; the export stops on 2026-11-23" in text
    ours = {"source": "last_run", "run_id": "r1", "task_id": "extract", "error": "OSError"}
    assert "on our side: no email to the client" in cli.render_problem(ours)
