"""The metadata database of `make up`: PostgreSQL, because SQLite takes one writer at a time and a
scheduler with task processes beside it ends in `database is locked`.

The machine's own server where one answers on 127.0.0.1:5432 as user `postgres` (the project's
machines run one with trust auth on loopback; the test suite uses it too), else a private cluster
in a folder of the project, made by `initdb` from Debian's `postgresql` package (scripts/setup.sh
installs it where neither exists): TCP on 127.0.0.1 only, no Unix socket, a password of its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

MACHINE_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CLUSTER_USER = "ees"


def _connect(admin_url: str):
    import psycopg2

    connection = psycopg2.connect(admin_url, connect_timeout=3)
    connection.autocommit = True
    return connection


def machine_server() -> str | None:
    """The admin URL of the machine's own server on 127.0.0.1:5432, or None where none answers
    (or it refuses user `postgres` without a password)."""
    try:
        _connect(MACHINE_ADMIN_URL).close()
    except Exception:  # no server, or not ours to use
        return None
    return MACHINE_ADMIN_URL


def database_names(admin_url: str, like: str) -> list[str]:
    """The server's databases whose name matches the SQL LIKE pattern `like`."""
    connection = _connect(admin_url)
    with connection.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))
        names = [name for (name,) in cur.fetchall()]
    connection.close()
    return names


def create_database(admin_url: str, name: str, exist_ok: bool = False) -> str:
    """Create database `name` (a plain identifier of ours, never user input); its SQLAlchemy URL."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    if not (exist_ok and database_names(admin_url, name)):
        connection = _connect(admin_url)
        with connection.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        connection.close()
    return sqlalchemy_url(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name`, closing whatever still uses it."""
    connection = _connect(admin_url)
    with connection.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.close()


def sqlalchemy_url(admin_url: str, name: str) -> str:
    """`postgresql://who@host:port/postgres` -> `postgresql+psycopg2://who@host:port/<name>`."""
    server = admin_url.removeprefix("postgresql://").rsplit("/", 1)[0]
    return f"postgresql+psycopg2://{server}/{name}"


def server_binaries() -> Path | None:
    """The newest `/usr/lib/postgresql/<version>/bin` with initdb and pg_ctl (Debian's layout)."""
    found = [
        Path(p).parent
        for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if (Path(p).parent / "pg_ctl").exists()
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None)


@dataclass(frozen=True)
class PrivateCluster:
    """A PostgreSQL cluster in `folder` (data/ and postgres.log), for `make up` where the machine
    has no server of its own. initdb and the server refuse to run as root: as root they run as
    Debian's `postgres` user, which then owns the folder."""

    folder: Path
    password: str

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def admin_url(self, port: int) -> str:
        who = f"{CLUSTER_USER}:{quote(self.password, safe='')}"
        return f"postgresql://{who}@127.0.0.1:{port}/postgres"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError(
                "no PostgreSQL here: neither a server on 127.0.0.1:5432 nor Debian's postgresql "
                "package (/usr/lib/postgresql/*/bin); run `make setup` as root, or apt-get "
                "install postgresql"
            )
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*as_user, str(binaries / tool), *args], capture_output=True, text=True, check=False
        )

    def _own(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            for path in self.folder.rglob("*"):
                shutil.chown(path, "postgres", "postgres")

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with the cluster user's password, then loopback-only TCP and no socket."""
        self._own()
        secret = self.folder / "pwfile"
        secret.write_text(self.password + "\n")
        os.chmod(secret, 0o600)
        self._own()
        try:
            done = self._run(
                "initdb",
                *("-D", str(self.data), "-U", CLUSTER_USER, "--pwfile", str(secret)),
                *("--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C"),
            )
        finally:
            secret.unlink()
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# make up: loopback TCP only, no Unix socket\n")
            conf.write("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")

    def running_port(self) -> int | None:
        """The port of the running server (postmaster.pid's fourth line), or None."""
        if self._run("pg_ctl", "-D", str(self.data), "status").returncode:
            return None
        return int((self.data / "postmaster.pid").read_text().splitlines()[3])

    def start(self, port: int) -> str:
        """Start the server on 127.0.0.1:`port` (initialising it first if needed); the admin URL."""
        if not self.initialised():
            self.init()
        if (running := self.running_port()) is not None:
            return self.admin_url(running)
        self._own()
        log = str(self.folder / "postgres.log")
        done = self._run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-o", f"-p {port}", "-w", "-t", "60", "start"
        )
        if done.returncode:
            tail = Path(log).read_text(errors="replace")[-2000:] if Path(log).exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()}\n{tail}")
        return self.admin_url(port)

    def stop(self) -> None:
        if self.initialised() and self.running_port() is not None:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
