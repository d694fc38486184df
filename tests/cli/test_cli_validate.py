"""`ees validate` via the installed console script: exit code, messages naming file and field."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO

EES = Path(sys.executable).parent / "ees"
GOOD = """\
client_id: acme
export_id: {export_id}
destination: {{type: local, conn_id: demo_local, path: acme}}
"""


def _validate(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(EES), "validate", "--exports-dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_validate_passes_the_shipped_configs():
    done = _validate(REPO / "include" / "exports")
    assert done.returncode == 0, done.stderr
    shipped = len(list((REPO / "include" / "exports").glob("*.yaml")))
    assert done.stdout.strip().startswith(f"{shipped} valid, 0 broken")


def test_validate_names_each_broken_file_and_field_and_exits_non_zero(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD.format(export_id="good"))
    broken = GOOD.format(export_id="bad") + "schedule: {timezone: Nowhere/Land}\n"
    (tmp_path / "bad.yaml").write_text(broken)
    (tmp_path / "typo.yaml").write_text(GOOD.format(export_id="typo") + "formt: csv\n")
    done = _validate(tmp_path)
    assert done.returncode == 1
    assert "1 valid, 2 broken" in done.stdout
    assert f"{tmp_path / 'bad.yaml'}: schedule.timezone:" in done.stderr
    assert f"{tmp_path / 'typo.yaml'}: formt:" in done.stderr
    assert "good.yaml" not in done.stderr


def test_validate_against_a_git_ref_refuses_an_edited_one_time_export(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    once = GOOD.format(export_id="once") + "schedule: {frequency: one_time}\n"
    (tmp_path / "once.yaml").write_text(once)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "running configs"], check=True)
    command = [str(EES), "validate", "--exports-dir", str(tmp_path), "--against", "HEAD"]
    clean = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stderr
    edit = once.replace("one_time}", "one_time, timezone: Asia/Kolkata}")
    (tmp_path / "once.yaml").write_text(edit)
    edited = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert edited.returncode == 1
    assert "1 valid, 0 broken" in edited.stdout
    assert "1 refused edit(s) against HEAD" in edited.stdout
    assert "once.yaml: schedule.frequency: a one-time export cannot be edited" in edited.stderr
