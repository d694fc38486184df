"""The check's answer without a server: its shape, what blocks a run, and the inputs it takes."""

import json

import pytest
from event_export.config.model import ExportConfig
from event_export.destinations import explanations
from event_export.destinations.base import is_ours, is_probe, probe_name
from event_export.destinations.check import CheckResult, validated
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
