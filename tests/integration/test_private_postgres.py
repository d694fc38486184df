"""`make up`'s fallback database: a private cluster from Debian's postgresql package, made with
initdb and started with pg_ctl on another port, loopback TCP only, with a password."""

import shutil
import tempfile
from pathlib import Path

import psycopg2
import pytest
from conftest import free_port
from event_export.standalone.postgres import PrivateCluster, create_database, server_binaries

pytestmark = pytest.mark.skipif(
    server_binaries() is None, reason="no /usr/lib/postgresql/*/bin (Debian's postgresql package)"
)


@pytest.fixture
def cluster():
    # not under pytest's tmp_path: as root the server runs as `postgres`, which must reach it
    folder = Path(tempfile.mkdtemp(prefix="ees-pg-"))
    made = PrivateCluster(folder, "s3cret/with:odd@chars")
    yield made
    made.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_private_cluster_serves_loopback_only_with_its_password(cluster):
    port = free_port()
    admin = cluster.start(port)
    assert cluster.running_port() == port
    assert cluster.start(free_port()) == admin  # already running: the same server
    url = create_database(admin, "airflow", exist_ok=True)
    assert create_database(admin, "airflow", exist_ok=True) == url
    db = psycopg2.connect(url.replace("+psycopg2", ""), connect_timeout=5)
    with db.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone() == ("127.0.0.1",)
        cur.execute("SHOW unix_socket_directories")
        assert cur.fetchone() == ("",)
    db.close()
    wrong = f"postgresql://ees:wrong@127.0.0.1:{port}/airflow"
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong, connect_timeout=5)
    cluster.stop()
    assert cluster.running_port() is None
    assert cluster.start(port) == admin  # restarts over the same data
    psycopg2.connect(url.replace("+psycopg2", ""), connect_timeout=5).close()
