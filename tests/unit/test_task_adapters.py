"""The Task SDK's message validators are built once in the worker and shared by the task
processes forked below it (event_export/task_adapters.py), on Airflow's own modules. The stack's
tests run real task processes with it installed (preload in the scheduler)."""

from __future__ import annotations

import importlib

import pydantic
import pytest
from airflow.sdk.execution_time import comms, task_runner
from event_export import task_adapters
from pydantic import BaseModel, JsonValue


@pytest.fixture(autouse=True)
def airflows(monkeypatch):
    """Airflow's modules as Airflow ships them, whatever an earlier test installed; restored."""
    for name in task_adapters.MODULES:
        monkeypatch.setattr(importlib.import_module(name), "TypeAdapter", pydantic.TypeAdapter)


@pytest.fixture
def installed():
    """install() on Airflow's modules (undone after the test by `airflows`)."""
    assert task_adapters.install() is True
    assert task_adapters.install() is True  # once: the second call finds it installed


@pytest.fixture
def builds(monkeypatch) -> list:
    """Every adapter pydantic builds from here on, by type."""
    built = []
    real = pydantic.TypeAdapter.__init__

    def counted(self, type, *args, **kwargs):
        built.append(type)
        real(self, type, *args, _parent_depth=kwargs.pop("_parent_depth", 2) + 1, **kwargs)

    monkeypatch.setattr(pydantic.TypeAdapter, "__init__", counted)
    return built


def test_a_task_process_builds_none_of_the_shared_adapters_again(installed, builds):
    # what the task runner does in each task process: its channel to the supervisor (two
    # adapters of the ToTask union) and one adapter for each rendered template field
    decoder = comms.CommsDecoder[comms.ToTask, comms.ToSupervisor](socket=None)
    rendered = task_runner.TypeAdapter(JsonValue).validate_python({"op_kwargs": [1, "a", None]})
    task_runner.TypeAdapter(comms.StartupDetails)
    assert builds == []
    assert decoder.body_decoder is decoder.err_decoder  # the one ToTask adapter
    assert rendered == {"op_kwargs": [1, "a", None]}


def test_without_it_every_task_process_builds_them(builds):
    comms.CommsDecoder[comms.ToTask, comms.ToSupervisor](socket=None)
    task_runner.TypeAdapter(JsonValue)
    assert builds == [comms.ToTask, comms.ToTask, JsonValue]


def test_the_shared_adapters_validate_as_fresh_ones(installed):
    message = {"type": "XComResult", "key": "return_value", "value": {"rows": 3}}
    shared = comms.TypeAdapter(comms.ToTask).validate_python(message)
    assert shared == pydantic.TypeAdapter(comms.ToTask).validate_python(message)
    with pytest.raises(pydantic.ValidationError):
        comms.TypeAdapter(comms.ToTask).validate_python({"type": "NoSuchMessage"})


def test_other_types_and_options_are_built_as_pydantic_builds_them():
    class Local(BaseModel):
        rows: int

    adapter_class = task_adapters.shared_adapter_class((JsonValue,))
    # a forward reference resolves in the caller's namespace, one frame up as without it
    assert adapter_class("list[Local]").validate_python([{"rows": 2}]) == [Local(rows=2)]
    strict = adapter_class(int, config=pydantic.ConfigDict(strict=True))
    with pytest.raises(pydantic.ValidationError):
        strict.validate_python("3")
    assert adapter_class(JsonValue) is adapter_class(JsonValue)
    assert adapter_class(int) is not adapter_class(int)


def test_a_task_sdk_without_the_expected_names_is_left_alone(monkeypatch, caplog):
    monkeypatch.delattr(comms, "ToTask")
    assert task_adapters.install() is False
    assert "not as expected" in caplog.text
    assert comms.TypeAdapter is pydantic.TypeAdapter
