"""The bad-config corpus (tests/bad_configs.py) through `load_all`, the CLI and the Exports page
rows: every bad file is one error naming the file and the field, nothing raises, and the good
config beside them loads."""

import json
import subprocess
import sys
from datetime import date

import pytest
from bad_configs import GOOD, GOOD_ID, generated_cases, populate, static_cases
from event_export.config.model import (
    ConfigError,
    latest_start,
    load_all,
    load_config,
    load_or_error,
)
from event_export.ui.exports_catalog import list_exports


def _lines(errors: list[ConfigError]) -> list[str]:
    return [line for e in errors for line in str(e).splitlines()]


def test_the_corpus_holds_every_case_of_issue_13():
    names = {c.file_name for c in static_cases() + generated_cases()}
    assert len(names) >= 90
    for must in ("date_feb_30.yaml", "date_9999.yaml", "tag_bool.yaml", "dup_destination.yaml",
                 "nul_in_path.yaml", "upper.YAML", "backup.yaml.bak", "tilde.yml~"):  # fmt: skip
        assert must in names


def test_every_bad_file_is_one_error_naming_its_field_and_the_good_one_loads(tmp_path):
    folder = tmp_path / "exports"
    cases = populate(folder)
    good, errors = load_all(folder)
    assert sorted(c.export_id for c in good.values()) == ["clash_first", "dup_twin", GOOD_ID]
    assert len(errors) == len(cases)
    lines = _lines(errors)
    for case in cases:
        prefix = case.line_prefix(folder)
        mine = [line for line in lines if line.startswith(prefix)]
        assert mine, f"{case.file_name!r}: no line starts with {prefix!r}"
        assert any(case.fragment in line for line in mine), (case.fragment, mine)
    for line in lines:  # shown safely: no raw control, bidi or undecodable character
        assert line.isprintable() and line.encode("utf-8")


@pytest.mark.parametrize("case", static_cases(), ids=lambda c: c.file_name)
def test_each_static_case_alone(tmp_path, case):
    folder = tmp_path / "exports"
    populate(folder, [case])
    result = load_or_error(folder / case.file_name)
    assert isinstance(result, ConfigError)
    assert any(line.startswith(case.line_prefix(folder)) for line in str(result).splitlines())
    assert case.fragment in str(result)
    assert [c.export_id for c in load_all(folder)[0].values()] == [GOOD_ID]


def test_the_good_config_keeps_its_unquoted_time_and_dates_stay_text_until_the_model(tmp_path):
    path = tmp_path / f"{GOOD_ID}.yaml"
    path.write_text(GOOD.format(export_id=GOOD_ID))
    config = load_config(path)
    assert config.schedule.deadline.isoformat() == "07:30:00"  # YAML 1.1: 450, read as 00:07:30
    assert config.schedule.start_date == date(2026, 10, 1)


def test_merge_keys_are_not_duplicates_and_dates_at_the_edges_load(tmp_path):
    text = (
        "client_id: edge\nexport_id: edge\nbase: &base {type: local, conn_id: c}\n"
        "destination: {<<: *base, path: x}\nschedule: {start_date: %s}\n"
    )
    for day in ("2000-01-01", latest_start().isoformat()):
        path = tmp_path / "edge.yaml"
        path.write_text(text.replace("base: &base", "x-base: &base") % day)
        result = load_or_error(path)
        assert isinstance(result, ConfigError)  # x-base is not a field: that is the only error
        assert result.messages == ("x-base: Extra inputs are not permitted",)


def test_config_check_prints_file_field_message_and_exits_non_zero_without_a_traceback(tmp_path):
    folder = tmp_path / "exports"
    cases = populate(folder)
    done = subprocess.run(
        [sys.executable, "-m", "event_export.config.model", "check", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        errors="strict",
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    for case in cases:
        assert case.line_prefix(folder) in done.stderr
    assert done.stdout.strip() == f"3 valid config(s), {len(cases)} broken"


class NoAirflowState:
    """No DAG, run or delivery known: what the page sees for files that never loaded."""

    def dags(self, dag_ids):
        return {}

    def last_runs(self, dag_ids, deliveries=True):
        return {}

    def exported_between(self, dag_ids, first, last):
        return set()

    def run(self, dag_id, run_id):
        return None


def test_the_exports_page_lists_every_bad_file_as_an_invalid_row(tmp_path):
    from event_export.ui.exports_api import _ConfigCache

    folder = tmp_path / "exports"
    cases = populate(folder)
    good, errors = _ConfigCache().load(folder)  # what GET /ees/api/exports and `ees list` read
    page = list_exports(good, errors, NoAirflowState(), {}, page_size=40)
    assert page.total == len(cases) + 3
    rows = page.items
    for number in range(2, page.total // 40 + 2):
        rows += list_exports(good, errors, NoAirflowState(), {}, page=number, page_size=40).items
    invalid = [r for r in rows if r["status"] == "INVALID"]
    assert len(invalid) == len(cases)
    assert len({r["export_id"] for r in invalid}) == len(cases)  # one row per file
    body = json.dumps(rows, ensure_ascii=False)
    body.encode("utf-8")  # a lone surrogate from a file name would fail here
    assert "\x00" not in body and "\u202e" not in body


def test_the_edit_rules_skip_every_bad_file_without_blocking_or_raising(tmp_path):
    from event_export.config.edits import check_against

    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    folder = tmp_path / "exports"
    populate(folder, [])
    (folder / "keep.txt").write_text("so the folder is committed\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    populate(folder)  # a FIFO, links, raw bytes, misnamed files beside the committed good one
    assert check_against("HEAD", folder) == []
