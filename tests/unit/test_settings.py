"""Every EES_* variable is read in settings.py only, so one file lists the deployment's knobs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO
from event_export import settings

PACKAGE = REPO / "include" / "event_export"


def environment_reads(source: str) -> list[str]:
    """The EES_* names `source` reads from os.environ (get, [], getenv), in order."""
    names = []
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            target = ast.unparse(node.func)
            if target in {"os.environ.get", "os.getenv", "os.environ.pop"}:
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            key = node.slice
        if isinstance(key, ast.Constant) and str(key.value).startswith("EES_"):
            names.append(key.value)
    return names


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "settings.py"],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_module_but_settings_reads_an_ees_variable(path):
    assert environment_reads(path.read_text()) == []


def test_the_check_sees_each_way_of_reading():
    source = 'import os\nos.environ.get("EES_A")\nos.getenv("EES_B", "")\nos.environ["EES_C"]\n'
    assert environment_reads(source) == ["EES_A", "EES_B", "EES_C"]
    assert environment_reads(Path(settings.__file__).read_text())  # settings does read them


def test_settings_defaults_and_values(monkeypatch, tmp_path):
    for name in ("EES_DEADLINE_ALERTS", "EES_ONCALL_EMAILS", "EES_INCIDENTS_PATH", "EES_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert settings.deadline_alerts_enabled() is True
    assert settings.oncall_emails() == ()
    assert settings.incidents_path() == tmp_path / "ees" / "incidents.json"
    assert settings.api_login().url == "http://127.0.0.1:8080"
    monkeypatch.setenv("EES_DEADLINE_ALERTS", " Off ")
    monkeypatch.setenv("EES_ONCALL_EMAILS", " a@x.example, ,b@x.example ")
    monkeypatch.setenv("EES_API_PASSWORD", "s3cret-value")
    assert settings.deadline_alerts_enabled() is False
    assert settings.oncall_emails() == ("a@x.example", "b@x.example")
    assert "s3cret-value" not in repr(settings.api_login())  # never in a log line


def test_staging_compression_is_one_of_three_and_names_itself_when_wrong(monkeypatch):
    monkeypatch.delenv("EES_STAGING_COMPRESSION", raising=False)
    monkeypatch.delenv("EES_STAGING_URI", raising=False)
    assert settings.staging_compression() == "lz4"  # a local folder: CPU before bytes
    monkeypatch.setenv("EES_STAGING_URI", "s3://bucket/staging")
    assert settings.staging_compression() == "zstd"  # object storage: bytes before CPU
    for raw, codec in ((" LZ4 ", "lz4"), ("none", None), ("zstd", "zstd"), ("", "zstd")):
        monkeypatch.setenv("EES_STAGING_COMPRESSION", raw)
        assert settings.staging_compression() == codec
    monkeypatch.delenv("EES_STAGING_URI")
    monkeypatch.setenv("EES_STAGING_COMPRESSION", "zstd")
    assert settings.staging_compression() == "zstd"  # an operator's choice wins either way
    monkeypatch.setenv("EES_STAGING_COMPRESSION", "gzip")
    with pytest.raises(ValueError, match="EES_STAGING_COMPRESSION: 'gzip' is not one of"):
        settings.staging_compression()
