"""Test settings: an isolated AIRFLOW_HOME per session, set before anything imports Airflow, and
the test tiers.

Tiers (markers registered in pyproject.toml, given here by folder and by fixture so no module can
forget them): `integration` = starts a server (moto, fake GCS, sshd, FTP, SMTP) or needs the
metadata database; `stack` = starts a whole Airflow on loopback; `browser` = drives Chromium.
Everything else is the fast tier (`make test-fast`): no servers, no database. The session's
PostgreSQL database is therefore created by the `airflow_db` fixture, not when this file loads;
only its name is fixed here, so Airflow reads the right URL whenever it is imported."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytest_plugins = ["servers.fixtures"]  # test servers on 127.0.0.1 (tests/servers/)

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="ees-airflow-"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"  # = standalone.postgres's


def load_bench(file: str, name: str | None = None):
    """`bench/<file>` executed as a module named `name` (bench_<stem> by default), registered in
    sys.modules (dataclasses look their module up there): the benches are scripts, not a package."""
    import importlib.util

    name = name or f"bench_{Path(file).stem}"
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def create_database(name: str, template: str | None = None) -> str | None:
    """A fresh PostgreSQL database `name` (an `ees_test_..._<pid>` name) where the machine runs
    one, else None. Databases that killed sessions left behind are dropped first. With
    `template`, a copy of that database (see migrated_database).

    The machines this project runs on start PostgreSQL on 127.0.0.1:5432 (trust auth); a laptop
    without it still runs the suite on SQLite, Airflow's embedded default. The same functions
    make `make up`'s database (event_export/standalone/postgres.py).
    """
    from event_export.standalone import postgres

    if postgres.machine_server() is None:
        return None
    for stale in postgres.database_names(PG_ADMIN, "ees\\_test\\_%"):  # killed sessions' ones
        if stale == name or not Path(f"/proc/{stale.rsplit('_', 1)[1]}").exists():
            postgres.drop_database(PG_ADMIN, stale)
    if template is None:
        return postgres.create_database(PG_ADMIN, name)
    connection = postgres._connect(PG_ADMIN)
    with connection.cursor() as cur:  # both names are ours (ees_test_..._<pid>), never input
        cur.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    connection.close()
    return postgres.sqlalchemy_url(PG_ADMIN, name)


_TEMPLATE = f"ees_test_template_{os.getpid()}"
_templates: list[str] = []  # the template once made and migrated


def migrated_database(name: str) -> str | None:
    """Like create_database, but already migrated: a copy of this process's template database,
    on which `airflow db migrate` ran once (on the first call). A migrate takes 12-15 s here even
    at head (mostly imports), the copy 0.2 s; a migrated database's content depends only on the
    installed Airflow, so each copy is what its own migrate would have made. None without
    PostgreSQL (callers migrate their SQLite file themselves)."""
    if not _templates:
        url = create_database(_TEMPLATE)
        if url is None:
            return None
        airflow = str(Path(sys.executable).with_name("airflow"))
        env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url}
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        _templates.append(url)
        atexit.register(drop_database, url)  # (a killed session's is dropped by the next one)
    return create_database(name, template=_TEMPLATE)


def drop_database(url: str) -> None:
    """Drop a database create_database made (its URL), closing whatever still uses it."""
    from event_export.standalone import postgres

    postgres.drop_database(PG_ADMIN, url.rsplit("/", 1)[1])


def _postgres_listens() -> bool:
    """Whether 127.0.0.1:5432 accepts connections (a TCP probe: no driver, no database made)."""
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


_DB_NAME = f"ees_test_{os.getpid()}"
# The session's metadata database: PostgreSQL where the machine has it, else SQLite. Only the URL
# is decided here; the `airflow_db` fixture creates it for the tests that need it.
METADATA_DB = (
    f"postgresql+psycopg2://postgres@127.0.0.1:5432/{_DB_NAME}"
    if _postgres_listens()
    else f"sqlite:///{_HOME / 'airflow.db'}"
)
_created: list[str] = []  # the database once made, for pytest_sessionfinish


def ensure_metadata_db() -> str:
    """METADATA_DB, its PostgreSQL database created on the first call (airflow_db, the benches)."""
    if METADATA_DB.startswith("postgresql") and not _created:
        url = create_database(_DB_NAME)
        assert url == METADATA_DB, f"PostgreSQL answered the probe but not psycopg2: {url}"
        _created.append(url)
    return METADATA_DB


os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "EES_STAGING_DIR": str(_HOME / "staging"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": METADATA_DB,
        # dag.test() crashes on DAGs with deadline alerts in Airflow 3.3.2 (see deadlines.py);
        # tests/integration/test_deadline_alert.py proves the alert under a real scheduler.
        "EES_DEADLINE_ALERTS": "off",
    }
)
os.environ.pop("EES_EXPORTS_DIR", None)
os.environ.pop("EES_LAKE_URI", None)


def export_dags(folder: Path, monkeypatch: pytest.MonkeyPatch, configs: dict[str, str]) -> dict:
    """Write each config (export id -> YAML) into `folder/exports`, point EES_EXPORTS_DIR there
    and parse the DAG files as the dag-processor does; the DAGs by id. A config that
    does not load fails the test here."""
    from airflow.dag_processing.dagbag import DagBag

    exports = folder / "exports"
    exports.mkdir(exist_ok=True)
    for export_id, text in configs.items():
        (exports / f"{export_id}.yaml").write_text(text)
    monkeypatch.setenv("EES_EXPORTS_DIR", str(exports))
    bag = DagBag(dag_folder=REPO / "dags")
    assert bag.import_errors == {}
    return bag.dags


def set_local_connection(conn_id: str, root: Path) -> None:
    """An Airflow `fs` connection through the environment, as a deployment's secrets would give."""
    root.mkdir(parents=True, exist_ok=True)
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "fs", "extra": {"path": str(root)}}
    )


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata database (see METADATA_DB), dropped after the session: on PostgreSQL
    a copy of the migrated template (migrated_database), else migrated here."""
    if METADATA_DB.startswith("postgresql") and not _created:
        url = migrated_database(_DB_NAME)
        assert url == METADATA_DB, f"PostgreSQL answered the probe but not psycopg2: {url}"
        _created.append(url)
    else:
        ensure_metadata_db()
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    return _HOME


def pytest_sessionfinish(session, exitstatus) -> None:
    """Drop the session's PostgreSQL database and remove its AIRFLOW_HOME, whatever happened."""
    for url in _created:
        if "airflow.settings" in sys.modules:  # never import Airflow just to close it
            sys.modules["airflow.settings"].dispose_orm()
        drop_database(url)
    shutil.rmtree(_HOME, ignore_errors=True)


# fixtures that start a server or need the metadata database, and the folders of such tests
# (tests/bench runs whole programs at small N, one on the metadata database)
_SERVER_FIXTURES = frozenset(
    {"moto_s3", "auth_moto", "gcs", "sshd", "ftp_server", "ftps_server", "smtp_server", "inbox"}
    | {"azurite", "webhook_receiver"}
    | {"airflow_db"}
)
_INTEGRATION_FOLDERS = frozenset({"integration", "api", "bench"})  # bench: whole programs


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test with its tier (see the module docstring); `-m "not integration and not
    stack and not browser"` then selects the fast tier.

    The tests on the shared stack (`airflow_stack`) run last, in their own order: the session's
    stack then starts after every other test and stops right after its last one, instead of
    running idle beside the rest of the suite (its scheduler, dag-processor and triggerer loops:
    CPU the other stacks, `make up` and the unit tests on this 2-core machine would otherwise
    share; docs/testing.md)."""
    items.sort(key=lambda item: "airflow_stack" in item.fixturenames)  # stable: order kept
    for item in items:
        names = set(item.fixturenames)
        if "airflow_stack" in names:
            item.add_marker(pytest.mark.stack)
        if (
            names & _SERVER_FIXTURES
            or "airflow_stack" in names
            or _INTEGRATION_FOLDERS & set(item.path.relative_to(REPO / "tests").parts[:-1])
        ):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def demo_day() -> date:
    return date(2026, 11, 1)


@pytest.fixture(scope="session")
def kolkata_lake(tmp_path_factory, demo_day) -> Path:
    """A small generated lake around one Asia/Kolkata day (and that day's profile snapshot),
    shared by the tests that only read it."""
    from event_export.generator import write_profiles, write_window
    from event_export.scheduling.windows import day_window

    root = tmp_path_factory.mktemp("lake")
    write_window(root, day_window(demo_day, ZoneInfo("Asia/Kolkata")), 6_000)
    write_profiles(root, demo_day, 800)
    return root


@pytest.fixture(params=["distinct texts", "rows"])
def payload_read_path(request, monkeypatch) -> str:
    """Both ways the native payload code reads a batch: once per distinct text, or row by row."""
    if request.param == "rows":
        from event_export.pipeline import payload

        monkeypatch.setattr(payload, "_DISTINCT_SHARE", 0.0)
    return request.param


@pytest.fixture
def gcp_fields() -> dict:
    """Fields a test module sets on every `gcp_config` it makes (override this fixture in the
    module to change them: export id, kind, events)."""
    return {"export_id": "gcp_unit"}


@pytest.fixture
def gcp_config(kolkata_lake, tmp_path, gcp_fields):
    """A factory of gcp_export configs over the Kolkata lake, delivering into the local folder
    `tmp_path/client/out` (connection `gcp_local`); keyword fields override the base."""
    set_local_connection("gcp_local", tmp_path / "client")

    def make(**fields):
        from event_export.config.model import ExportConfig

        base = {
            "client_id": "acme",
            "source": str(kolkata_lake),
            "profile": "gcp_export",
            "database_id": "db1",
            "schedule": {"timezone": "Asia/Kolkata"},
            "destination": {"type": "local", "conn_id": "gcp_local", "path": "out"},
        }
        return ExportConfig.model_validate(base | gcp_fields | fields)

    return make


class _Inbox:
    """Messages an aiosmtpd server on 127.0.0.1 received, parsed with the standard library."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        import email
        import email.policy

        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def body(self, message) -> str:
        return message.get_body(preferencelist=("html", "plain")).get_content()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp_connection_json(port: int) -> str:
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {
                "disable_tls": True,
                "disable_ssl": True,
                "from_email": "exports@ees.invalid",
                "retry_limit": 0,
                "timeout": 10,
            },
        }
    )


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on loopback and Airflow's smtp_default connection pointing at it."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_connection_json(port)
    inbox.port = port
    yield inbox
    controller.stop()
    os.environ.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)


@pytest.fixture
def inbox(smtp_server):
    smtp_server.messages.clear()
    return smtp_server


@pytest.fixture(scope="session")
def stack_webhooks():
    """The webhook receiver the shared stack's notifying exports post to (stack.hook_exports);
    the stack reads the shared secret from its connection ees_webhook_secret."""
    from servers.fixtures import WEBHOOK_SECRET
    from servers.webhooks import WebhookReceiver

    server = WebhookReceiver(WEBHOOK_SECRET)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def airflow_stack(tmp_path_factory, smtp_server, stack_webhooks, kolkata_lake):
    """A running Airflow (scheduler, triggerer, dag-processor, api-server) on loopback, with the
    exports of stack.STACK_EXPORTS and stack.hook_exports."""
    from servers.fixtures import WEBHOOK_SECRET
    from stack import hook_exports, start_stack

    secret = json.dumps({"conn_type": "generic", "password": WEBHOOK_SECRET})
    env = {
        "AIRFLOW_CONN_EES_WEBHOOK_SECRET": secret,
        # no test edits this stack's configs or DAG files once it runs: each DAG file is parsed
        # at start (and for a DAG callback), not again every 30 s (Airflow's default), which
        # kept the dag-processor busy for the stack's whole life (docs/testing.md)
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "900",
    }
    yield from start_stack(
        tmp_path_factory,
        smtp_server,
        env=env,
        more_exports=hook_exports(stack_webhooks, kolkata_lake),
    )


def task_instances(run) -> dict[str, int]:
    """The run's task instances per task id (a mapped task: one per map index)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, func.count())
            .where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .group_by(TaskInstance.task_id)
        ).all()
    return dict(rows)
