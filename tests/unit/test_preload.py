"""Which Airflow processes import the task code at start (event_export/preload.py), and that
Airflow finds the settings module that calls it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import REPO, load_bench
from event_export import preload, task_adapters
from event_export.standalone.airflow_env import LOCAL_SETTINGS_DIR


@pytest.fixture(autouse=True)
def _imports_only(monkeypatch):
    """These tests are about the imports: the task supervisors' exit wait and first heartbeat,
    which preload() also installs in the processes that run tasks, have their own
    (test_task_exit.py, test_task_heartbeat.py)."""
    monkeypatch.setenv("EES_TASK_EXIT_WAIT", "off")
    monkeypatch.setenv("EES_TASK_FIRST_HEARTBEAT", "off")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/airflow", "scheduler"], preload.TASKS),
        (["airflow", "celery", "worker", "--queues", "q"], preload.TASKS),
        (["airflow", "dag-processor"], preload.PARSING),
        (["airflow", "api-server", "--port", "8080"], ()),
        (["airflow", "triggerer"], ()),
        (["airflow", "celery", "flower"], ()),
        (["airflow", "db", "migrate"], ()),
        (["airflow", "tasks", "list", "scheduler"], ()),  # a DAG named scheduler is no role
        (["python", "-m", "pytest"], ()),
    ],
)
def test_only_the_processes_that_fork_tasks_or_parses_preload(argv, expected):
    assert preload.modules_for(argv) == expected


def test_the_task_processes_get_the_stages_and_the_parsers_only_the_builder():
    assert "event_export.pipeline.run" in preload.TASKS
    assert "event_export.pipeline.run" not in preload.PARSING
    assert set(preload.PARSING) < set(preload.TASKS)
    for name in preload.TASKS:  # every name is a module of the package
        assert importlib.util.find_spec(name) is not None, name


def test_preload_imports_its_modules_and_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("EES_PRELOAD", "off")
    assert preload.preload(["airflow", "scheduler"]) == []
    monkeypatch.delenv("EES_PRELOAD")
    assert preload.preload(["airflow", "dag-processor"]) == list(preload.PARSING)
    assert all(name in sys.modules for name in preload.PARSING)
    assert preload.preload(["airflow", "triggerer"]) == []


def test_a_module_that_fails_to_import_is_skipped_not_raised(monkeypatch, caplog):
    monkeypatch.setattr(preload, "PARSING", ("event_export.no_such_module", *preload.PARSING))
    assert preload.preload(["airflow", "dag-processor"]) == list(preload.PARSING[1:])
    assert "cannot import event_export.no_such_module" in caplog.text


def test_airflow_finds_the_local_settings_that_preload():
    """`make up` and the test stack put deploy/config on the PYTHONPATH; compose mounts it as
    $AIRFLOW_HOME/config (on Airflow's sys.path)."""
    settings = LOCAL_SETTINGS_DIR / "airflow_local_settings.py"
    assert settings.is_file()
    assert "preload()" in settings.read_text()
    compose = (REPO / "docker-compose.yaml").read_text()
    assert "./deploy/config:/opt/airflow/config" in compose


def _in_fork(body) -> str:
    """`body()`'s string from a forked child (which exits), so at-fork hooks and caches stay
    out of the test process: `bench/task_start.py`'s `in_child`, as the bench measures it."""
    return load_bench("task_start.py").in_child(body)


def test_the_task_sdk_plugins_are_loaded_once_before_the_fork(monkeypatch, tmp_path):
    def warmed() -> str:
        from airflow import settings
        from airflow.sdk.listener import get_listener_manager

        settings.PLUGINS_FOLDER = str(REPO / "plugins")  # as the stack and `make up` set it
        from airflow.sdk.plugins_manager import _get_plugins

        # as a fresh scheduler: an earlier test of this process may have loaded (and cached)
        # the plugins of another folder
        _get_plugins.cache_clear()
        get_listener_manager.cache_clear()

        assert preload.warm_task_sdk()
        names = sorted(p.name for p in _get_plugins()[0])
        return f"{get_listener_manager.cache_info().currsize} {names}"

    assert _in_fork(warmed) == "1 ['event_export_scheduler']"  # our Exports page
    # a process that runs tasks loads them; the dag-processor (which parses only) does not
    called = []
    monkeypatch.setattr(preload, "TASKS", preload.PARSING)
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))  # no configs: no destination imports
    monkeypatch.setattr(preload, "warm_task_sdk", lambda: called.append("warm") or True)
    for name in task_adapters.MODULES:  # what preload installs in Airflow's modules, undone after
        module = importlib.import_module(name)
        monkeypatch.setattr(module, "TypeAdapter", module.TypeAdapter)
    expected = [*preload.PARSING, "task_sdk_plugins", "task_sdk_validators", "tls_context"]
    expected += ["payload_scanner", "orm_mappers"]
    assert preload.preload(["airflow", "scheduler"]) == expected
    assert preload.preload(["airflow", "dag-processor"]) == list(preload.PARSING)
    assert called == ["warm"]


def test_a_plugin_that_fails_leaves_the_tasks_to_load_them(monkeypatch, caplog):
    import airflow.sdk.listener

    def broken():
        raise RuntimeError("plugin folder unreadable")

    monkeypatch.setattr(airflow.sdk.listener, "get_listener_manager", broken)
    assert preload.warm_task_sdk() is False
    assert "cannot load the Task SDK's plugins" in caplog.text


def test_pandas_is_preloaded_because_the_stages_import_it_through_pyarrow():
    """The lake reader compares the window's time-zone-aware bounds as Arrow scalars
    (pipeline/lake.py); pyarrow converts such a datetime through its pandas layer, importing
    pandas at the first call: in each task process, unless the worker has it (preload.py). A
    fresh interpreter shows it; if pyarrow stops doing so, the preload entry can go."""
    probe = (
        "import sys; from datetime import datetime, UTC; import pyarrow as pa\n"
        "assert 'pandas' not in sys.modules\n"
        "pa.scalar(datetime(2026, 11, 30, tzinfo=UTC), pa.timestamp('us', tz='UTC'))\n"
        "print('pandas' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "True"
    assert {"pyarrow.pandas_compat", "pandas"} <= set(preload.TASKS)


def test_the_api_clients_tls_context_is_built_once_and_still_verifies():
    """Preload builds it before the forks (warm_tls); every call of the REST API client reuses
    it, with httpx's default verification, not a weaker one."""
    import ssl

    from event_export.orchestration.airflow_api import tls_context

    assert preload.warm_tls() is True
    context = tls_context()
    assert context is tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded
    # inherited by a forked task process: no second build there
    assert _in_fork(lambda: str(tls_context.cache_info().currsize)) == "1"


def test_the_destination_kinds_in_use_are_read_from_the_configs_hostile_ones_included(tmp_path):
    (tmp_path / "a.yaml").write_text("export_id: a\ndestination: {type: s3, conn_id: x}\n")
    (tmp_path / "b.yml").write_text("destination:\n  type: sftp\n")
    (tmp_path / "c.yaml").write_text("destination: {type: s3}\n")  # the same kind again
    (tmp_path / "broken.yaml").write_text("destination: {type: gcs\n")  # does not parse
    (tmp_path / "list.yaml").write_text("- destination: {type: azure}\n")  # not a mapping
    (tmp_path / "odd.yaml").write_text("destination: {type: [ftp]}\n")  # not a kind's name
    (tmp_path / "unknown.yaml").write_text("destination: {type: dropbox}\n")
    (tmp_path / "none.yaml").write_text("destination: local\n")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00destination")  # not UTF-8
    (tmp_path / "notes.txt").write_text("destination: {type: ftp}\n")  # not a config
    assert preload.destination_kinds(tmp_path) == ["s3", "sftp"]
    assert preload.destination_kinds(tmp_path / "missing") == []


def test_every_destination_kind_has_its_modules_and_they_import():
    """Each kind of the config model is listed, and its modules exist (the providers are
    pinned in requirements.txt)."""
    import typing

    from event_export.config import model

    kinds = {
        typing.get_args(cls.model_fields["type"].annotation)[0]
        for cls in typing.get_args(typing.get_args(model.Destination)[0])
    }
    assert kinds == set(preload.DESTINATIONS)
    for names in preload.DESTINATIONS.values():
        for name in names:
            assert importlib.util.find_spec(name) is not None, name


def test_the_scheduler_imports_the_providers_of_the_kinds_in_use(monkeypatch, tmp_path):
    (tmp_path / "a.yaml").write_text("destination: {type: ftp}\n")
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    monkeypatch.setattr(preload, "TASKS", ())
    monkeypatch.setattr(preload, "warm_task_sdk", lambda: True)
    done = preload.preload(["airflow", "scheduler"])
    assert done[:2] == list(preload.DESTINATIONS["ftp"])
    assert all(name in sys.modules for name in preload.DESTINATIONS["ftp"])
    # the dag-processor parses only: no providers
    assert preload.preload(["airflow", "dag-processor"]) == list(preload.PARSING)


def test_s3_clients_share_one_loaded_data_loader_after_the_warm(monkeypatch):
    """warm_s3: every boto3 session made later (each S3Hook makes one) gets the loader loaded
    before the fork, as a forked task process would; one loader per data path."""
    import botocore.session

    monkeypatch.setattr(botocore.session, "create_loader", botocore.session.create_loader)
    monkeypatch.setenv(
        "AIRFLOW_CONN_PRELOAD_S3",
        '{"conn_type": "aws", "login": "AKIAPRELOAD", "password": "preload-secret",'
        ' "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"}}',
    )
    assert preload.warm_s3() is True
    assert preload.warm_s3() is True  # a second warm keeps the same loaders
    make = botocore.session.create_loader
    loader = make(None)
    assert make(None) is loader and make("/elsewhere") is not loader

    def in_task() -> str:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id="preload_s3")
        client = hook.get_conn()
        session = hook.get_session()._session
        assert session.get_component("data_loader") is loader
        assert client.meta.region_name == "eu-west-1"  # the connection's, not the warm's
        assert client.meta.endpoint_url == "http://127.0.0.1:9"
        return "shared"

    assert _in_fork(in_task) == "shared"


def test_s3_is_warmed_where_a_destination_or_the_staging_uses_it(monkeypatch, tmp_path):
    (tmp_path / "a.yaml").write_text("destination: {type: ftp}\n")
    monkeypatch.setenv("EES_EXPORTS_DIR", str(tmp_path))
    monkeypatch.delenv("EES_STAGING_URI", raising=False)
    monkeypatch.setattr(preload, "TASKS", ())
    monkeypatch.setattr(preload, "warm_task_sdk", lambda: True)
    monkeypatch.setattr(preload, "warm_s3", lambda: True)
    assert preload.kinds_in_use() == ["ftp"]
    assert "s3_client_data" not in preload.preload(["airflow", "scheduler"])
    monkeypatch.setenv("EES_STAGING_URI", "s3://bucket/staging")
    assert preload.kinds_in_use() == ["ftp", "s3"]
    done = preload.preload(["airflow", "scheduler"])
    assert "s3_client_data" in done and set(preload.DESTINATIONS["s3"]) <= set(done)


def test_a_celery_workers_task_processes_parse_with_nothing_left_to_import(tmp_path):
    """A fresh interpreter preloads as a Celery worker does (which, unlike a scheduler, has no
    Airflow models or DAG bag of its own), then a forked child parses an export's DAG file as
    the task runner does: it imports the DAG file's module and no Airflow module. With neither
    `airflow.dag_processing.dagbag` in preload.TASKS nor Airflow's models (`warm_orm`) the child
    imported dozens (the bag, Airflow's serialization, trigger rules), as the stack's task
    processes did on a Redis result backend. The same worker has Airflow's ORM mappers
    configured, which its pool processes' first write to the database result backend would
    otherwise do."""
    (tmp_path / "night_0001.yaml").write_text(
        "client_id: acme\nexport_id: night_0001\nsource: /nonexistent/lake\n"
        "schedule: {timezone: Asia/Kolkata}\n"
        "destination: {type: local, conn_id: night_host, path: night_0001}\n"
    )
    probe = f"""
import os, sys
os.environ["EES_EXPORTS_DIR"] = {str(tmp_path)!r}
os.environ["EES_TASK_EXIT_WAIT"] = os.environ["EES_TASK_FIRST_HEARTBEAT"] = "off"
from event_export import preload
from event_export.orchestration.factory import shard_of
done = preload.preload(["airflow", "celery", "worker"])
from airflow.models.base import Base
configured = "orm_mappers" in done and all(m.configured for m in Base.registry.mappers)
dag_file = {str(REPO / "dags")!r} + f"/exports_{{shard_of('night_0001'):02d}}.py"
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    before = set(sys.modules)
    os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = "export_night_0001"
    from airflow.dag_processing.dagbag import BundleDagBag
    bag = BundleDagBag(dag_folder=dag_file, safe_mode=False, load_op_links=False,
                       bundle_path=os.path.dirname(dag_file), bundle_name="dags-folder")
    new = sorted(m for m in set(sys.modules) - before if m.startswith("airflow"))
    os.write(write, (",".join(bag.dag_ids) + "|" + ",".join(new)).encode())
    os._exit(0)
os.close(write)
out = os.read(read, 65536).decode()
os.waitpid(pid, 0)
print(configured, out)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    )
    configured, _, parsed = done.stdout.strip().rpartition("\n")[2].partition(" ")
    dags, _, airflow_modules = parsed.partition("|")
    assert dags == "export_night_0001"
    assert airflow_modules == ""
    assert configured == "True"
