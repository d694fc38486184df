"""The check's answer without a server: its shape, what blocks a run, and the inputs it takes."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from event_export.config.model import ExportConfig
from event_export.destinations import explanations
from event_export.destinations.base import (
    PROBE_PREFIX,
    PROBE_STALE,
    PROBE_STEPS,
    is_ours,
    is_probe,
    is_stale_probe,
    probe_name,
)
from event_export.destinations.check import CheckResult, validated
from event_export.destinations.local import LocalDestination
from pydantic import ValidationError

STEPS = ["credentials accepted", "bucket exists", "probe written", "probe deleted"]


def result(code: str, passed: list[bool]) -> CheckResult:
    return CheckResult(code == "ok", code, "e", "f", list(zip(STEPS, passed, strict=True)))


def test_the_answer_serialises_without_the_exception():
    answer = CheckResult(False, "bucket_missing", "e", "f", [(s, False) for s in STEPS], KeyError())
    assert json.loads(json.dumps(answer.to_dict())) == {
        "ok": False,
        "code": "bucket_missing",
        "explanation": "e",
        "fix": "f",
        "steps": [{"step": s, "passed": False} for s in STEPS],
    }
    with pytest.raises(KeyError):
        answer.raise_if_failed()
    result("ok", [True] * 4).raise_if_failed()


@pytest.mark.parametrize(
    ("code", "passed", "blocks"),
    [
        ("ok", [True, True, True, True], False),
        ("retention_policy", [True, True, True, False], False),  # new files still go up
        ("retention_policy", [True, True, False, False], True),  # could not even write
        ("permission_denied", [True, True, True, False], True),  # may write, not delete
        ("bucket_missing", [True, False, False, False], True),
        ("unreachable", [False, False, False, False], True),
    ],
)
def test_only_a_retention_policy_on_the_probes_deletion_lets_a_run_go_on(code, passed, blocks):
    assert result(code, passed).blocks_delivery is blocks


def test_a_config_or_a_dict_is_taken_and_the_prefix_hint_is_validated_as_a_path():
    config = ExportConfig.model_validate(
        {
            "client_id": "a",
            "export_id": "a",
            "destination": {"type": "s3", "conn_id": "c", "bucket": "b-1", "path": "x"},
        }
    )
    assert validated(config.destination).path == "x"
    assert validated(config.destination, prefix_hint="/y/z/").path == "y/z"
    assert validated({"type": "sftp", "conn_id": "c"}).type == "sftp"
    with pytest.raises(ValidationError, match="must not contain"):
        validated(config.destination, prefix_hint="../other-client")
    with pytest.raises(ValidationError):
        validated({"type": "s3", "conn_id": "c"})  # no bucket


def test_probe_names_are_hidden_unique_and_never_a_delivered_file():
    first, second = probe_name(), probe_name()
    assert first != second and first.startswith(".")
    assert is_probe(first) and is_ours(first)
    assert not is_ours("acme_01112026.zip")


def test_a_probe_is_stale_an_hour_after_its_stamp_or_when_it_has_none():
    now = datetime(2026, 12, 1, 4, 12, 49, tzinfo=UTC)
    fresh = probe_name(now - PROBE_STALE + timedelta(seconds=1))
    assert fresh.startswith(f"{PROBE_PREFIX}20261201T031250Z-")
    assert not is_stale_probe(fresh, now)
    assert not is_stale_probe(f"acme/in/{fresh}", now)  # as a store's listing may name it
    assert is_stale_probe(probe_name(now - PROBE_STALE), now)
    assert is_stale_probe(f"{PROBE_PREFIX}{'0f' * 16}", now)  # named before probes had a time
    assert is_stale_probe(f"{PROBE_PREFIX}2026-12-01-{'0f' * 16}", now)  # not a stamp of ours


def test_a_check_deletes_what_earlier_checks_left_never_a_probe_in_flight(tmp_path):
    """Checks of one export run side by side (a backfill's runs, the scheduled run beside them):
    a check deleting another's probe failed that one at its own deletion (FileNotFoundError)."""
    now = datetime.now(UTC)
    in_flight = tmp_path / probe_name(now)
    left = [tmp_path / probe_name(now - 2 * PROBE_STALE), tmp_path / f"{PROBE_PREFIX}{'a' * 32}"]
    for path in (in_flight, *left):
        path.write_bytes(b"x")
    passed = []
    LocalDestination(tmp_path).probe(passed.append)
    assert passed == list(PROBE_STEPS)
    assert list(tmp_path.iterdir()) == [in_flight]


def test_checks_of_one_folder_at_the_same_time_all_pass(tmp_path):
    barrier, failures = threading.Barrier(8), []

    def check() -> None:
        barrier.wait()
        try:
            LocalDestination(tmp_path).probe(lambda step: None)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert list(tmp_path.iterdir()) == []


def test_every_kind_of_store_has_its_sentences_and_they_read_as_sentences():
    for kind in ("s3", "gcs", "azure", "sftp", "ftp", "ftps", "local"):
        for err in (
            explanations.auth_failed(kind),
            explanations.path_missing(kind, "/in"),
            explanations.permission_denied(kind, "there"),
        ):
            assert err.explanation[0].isupper() and err.explanation.endswith(".")
            assert err.fix[0].isupper() and err.fix.endswith(".")
    assert "exact match" in explanations.bucket_missing("gcs", "b").fix
    assert "locked" in explanations.retention_policy("gs://b").fix
    missing = explanations.bucket_missing("azure", "box")
    assert "container box does not exist" in missing.explanation and "bucket" not in str(missing)
    held = explanations.immutability_policy("az://box/acme")
    assert held.code == "retention_policy" and "legal hold" in held.fix
