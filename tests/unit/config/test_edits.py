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


def _committed(tmp_path, files: dict[str, str]):
    """A git repository whose `exports/` folder holds `files` (name -> text), committed."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    exports = tmp_path / "exports"
    exports.mkdir()
    for name, text in files.items():
        (exports / name).write_text(text)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    return exports


def test_check_against_a_git_ref(tmp_path):
    once = "client_id: acme\nexport_id: once\nschedule: {frequency: one_time}\n"
    once += "destination: {type: local, conn_id: c}\n"
    exports = _committed(tmp_path, {"once.yaml": once})
    assert check_against("HEAD", exports) == []
    (exports / "once.yaml").write_text(
        once.replace("one_time}", "one_time, timezone: Asia/Kolkata}")
    )
    new = once.replace("once", "new").replace("conn_id: c}", "conn_id: c, path: new}")
    (exports / "new.yaml").write_text(new)  # new files are not edits
    (problem,) = check_against("HEAD", exports)
    assert "once.yaml: schedule.frequency: a one-time export cannot be edited" in problem


def test_a_new_file_may_not_take_a_running_exports_place(tmp_path):
    daily = "client_id: acme\nexport_id: {id}\ndestination: {{type: sftp, conn_id: c, path: {p}}}\n"
    exports = _committed(tmp_path, {"m_daily.yaml": daily.format(id="m_daily", p="out")})
    # sorts after the running export: refused at load, and no takeover
    (exports / "z_later.yaml").write_text(daily.format(id="z_later", p="out"))
    assert check_against("HEAD", exports) == []
    # sorts before it, into the same folder spelled in another case: it would take the place
    (exports / "a_first.yaml").write_text(daily.format(id="a_first", p="OUT"))
    (problem,) = check_against("HEAD", exports)
    assert problem.startswith(f"{exports / 'a_first.yaml'}: destination.path: takes the place")
    assert "m_daily.yaml would be refused" in problem
    # the running export moving away leaves the place free: no problem
    (exports / "m_daily.yaml").write_text(daily.format(id="m_daily", p="elsewhere"))
    assert check_against("HEAD", exports) == []


def test_a_removed_holder_leaves_its_place_to_the_next_file(tmp_path):
    daily = "client_id: acme\nexport_id: {id}\ndestination: {{type: sftp, conn_id: c, path: {p}}}\n"
    exports = _committed(
        tmp_path,
        {
            "a_old.yaml": daily.format(id="a_old", p="out"),
            "m_b.yaml": daily.format(id="m_b", p="out"),
        },
    )
    # at the ref a_old delivered and m_b was refused; a_old removed, c_new sorts before m_b
    (exports / "a_old.yaml").unlink()
    (exports / "c_new.yaml").write_text(daily.format(id="c_new", p="out"))
    assert check_against("HEAD", exports) == []  # m_b never ran: nothing is taken from it
    # a_old back: c_new now takes nothing either (a_old sorts first and keeps its place)
    (exports / "a_old.yaml").write_text(daily.format(id="a_old", p="out"))
    assert check_against("HEAD", exports) == []
    # a_old renamed to z_old: the file that ran is gone, its successor sorts last
    (exports / "a_old.yaml").unlink()
    (exports / "z_old.yaml").write_text(daily.format(id="z_old", p="out"))
    assert check_against("HEAD", exports) == []
