"""Edits: allowed for scheduled exports, refused between events and profiles and for one-time."""

import subprocess

from event_export.config.edits import check_against, edit_problems, kind_family
from event_export.config.model import ExportConfig


def _config(**fields) -> ExportConfig:
    return ExportConfig.model_validate(
        {
            "client_id": "acme",
            "export_id": "acme_daily",
            "destination": {"type": "local", "conn_id": "c"},
            **fields,
        }
    )


def test_a_daily_export_may_change_its_events_and_timezone():
    old = _config()
    new = _config(kind="selected_events", events=["add to cart"], schedule={"timezone": "UTC"})
    assert edit_problems(old, new) == []


def test_events_and_profiles_are_different_families():
    assert kind_family("all_events") == kind_family("selected_events") == "events"
    assert kind_family("all_profiles") == kind_family("user_profiles") == "profiles"


def test_a_one_time_export_cannot_be_edited():
    old = _config(schedule={"frequency": "one_time"})
    new = _config(schedule={"frequency": "one_time", "timezone": "Asia/Kolkata"})
    (problem,) = edit_problems(old, new)
    assert "one-time export cannot be edited" in problem
    assert edit_problems(old, old) == []


def test_check_against_a_git_ref(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    exports = tmp_path / "exports"
    exports.mkdir()
    once = "client_id: acme\nexport_id: once\nschedule: {frequency: one_time}\n"
    once += "destination: {type: local, conn_id: c}\n"
    (exports / "once.yaml").write_text(once)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    assert check_against("HEAD", exports) == []
    (exports / "once.yaml").write_text(
        once.replace("one_time}", "one_time, timezone: Asia/Kolkata}")
    )
    (exports / "new.yaml").write_text(once.replace("once", "new"))  # new files are not edits
    (problem,) = check_against("HEAD", exports)
    assert "once.yaml: schedule.frequency: a one-time export cannot be edited" in problem
