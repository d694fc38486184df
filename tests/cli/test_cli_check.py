"""`ees check --local` through the console script: a destination's probe from this machine, its
exit code and explanation (without --local it asks the api-server: test_cli_stack.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

EES = Path(sys.executable).parent / "ees"
CONFIG = """\
client_id: acme
export_id: cli_check
destination: {type: local, conn_id: cli_check, path: acme}
"""


def _check(exports: Path, root: Path) -> subprocess.CompletedProcess:
    env = os.environ | {
        "AIRFLOW_CONN_CLI_CHECK": json.dumps({"conn_type": "fs", "extra": {"path": str(root)}})
    }
    return subprocess.run(
        [str(EES), "check", "cli_check", "--local", "--exports-dir", str(exports), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_check_passes_leaves_no_probe_and_fails_on_a_missing_root(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "cli_check.yaml").write_text(CONFIG)
    root = tmp_path / "client"
    root.mkdir()
    done = _check(exports, root)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] is True and answer["code"] == "ok"
    assert [p.name for p in (root / "acme").iterdir()] == []  # the probe was deleted
    missing = _check(exports, tmp_path / "nowhere")
    assert missing.returncode == 1
    refused = json.loads(missing.stdout)
    assert refused["ok"] is False and refused["code"] == "path_missing"
    assert refused["explanation"] and refused["fix"]
