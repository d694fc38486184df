"""`ees` against a real Airflow, as on-call reads it (issue 16): a failing export's code,
explanation and fix; the destination check done by the server with the deployment's connections;
a refusal as the server's sentence; a wrong password naming the variables. Read-only: nothing
here pauses, unpauses or runs an export of the shared stack."""

from datetime import date, timedelta

import pytest
from event_export import cli
from stack import SERVICE_USER


@pytest.fixture
def ees(airflow_stack, monkeypatch, capsys):
    monkeypatch.setenv("EES_API_URL", airflow_stack.base_url)
    monkeypatch.setenv("EES_API_USER", SERVICE_USER)
    monkeypatch.setenv("EES_API_PASSWORD", airflow_stack.password)
    monkeypatch.delenv("EES_API_TOKEN", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_show_of_a_failing_export_tells_its_code_explanation_and_fix(airflow_stack, ees):
    # stop_me's folder is missing on the client's side: its first scheduled run fails at once
    run = airflow_stack.wait_for_finished_run("export_stop_me", 180)
    assert run["state"] == "failed"
    code, out, err = ees("show", "stop_me")
    assert code == 0, err
    assert "error path_missing (the client's side)" in out
    assert "fix: " in out
    assert "request id None" not in out  # a failed run has no manifest to show
    assert "email" in out  # which email went out (or that none has yet)


def test_check_runs_on_the_server_with_its_connections(airflow_stack, ees):
    # the connection stack_client exists only in the stack's environment, not in this process
    code, out, err = ees("check", "stop_me")
    assert code == 1, err
    assert out.startswith("stop_me: FAILED (path_missing): ")
    code, out, err = ees("check", "acme_4h")
    assert (code, out.strip()) == (0, "acme_4h: OK"), err


def test_a_refusal_is_the_servers_sentence_on_one_line(ees):
    too_old = (date.today() - timedelta(days=90)).isoformat()
    code, _, err = ees("run-once", "acme_profiles_once", "--day", too_old)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "60 days" in line
    assert "HTTP" not in line and "{" not in line


def test_a_wrong_password_names_the_variables(ees, monkeypatch):
    monkeypatch.setenv("EES_API_PASSWORD", "not-the-password")
    code, _, err = ees("list")
    assert code == 2
    assert f"refused the login of EES_API_USER '{SERVICE_USER}'" in err
    assert "EES_API_PASSWORD" in err and "Traceback" not in err


def test_pools_keeps_the_stacks_pools_and_a_dry_run_creates_nothing(airflow_stack, ees, tmp_path):
    """`ees pools` over the stack's configs finds every upload pool the stack made at start (and
    keeps its slots); a config with a new connection is reported, and --dry-run leaves it absent."""
    import json

    from event_export.config.model import load_all
    from event_export.scheduling.priorities import POOL_PREFIX, upload_pool

    exports = airflow_stack.home / "exports"
    configs = list(load_all(exports)[0].values())
    code, out, err = ees("pools", "--json", "--exports-dir", str(exports))
    assert code == 0, err
    answer = json.loads(out)
    assert answer["created"] == {}
    assert answer["existing"] == {upload_pool(c): 4 for c in configs}

    one = next(c for c in configs if c.destination.type == "local")
    text = (exports / f"{one.export_id}.yaml").read_text()
    (tmp_path / f"{one.export_id}.yaml").write_text(
        text.replace(one.destination.conn_id, "stack_new_server")
    )
    code, out, err = ees("pools", "--json", "--dry-run", "--exports-dir", str(tmp_path))
    assert code == 0, err
    new = json.loads(out)["created"]
    assert list(new) == [f"{POOL_PREFIX}local_stack_new_server"]
    assert not set(new) & set(airflow_stack.api().pools(POOL_PREFIX))
