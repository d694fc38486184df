"""Upload throughput of each destination to its local test server, for a file of SIZE_MB.

Run from tests/: `../.venv/bin/python -m servers.throughput [SIZE_MB]` (root, for sshd). Each
server runs in its own process, as a remote one would, and the destinations use their production
settings (S3 64 MB parts, GCS 32 MB resumable chunks, Azure 8 MiB blocks). Prints MB/s for
upload and for verify.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import conftest  # noqa: F401  (isolated AIRFLOW_HOME before Airflow is imported)
from event_export.pipeline.stages.package import sha256_of

from servers.net import free_port, set_connection, wait_for_port

MB = 1_000_000


def _serve_ftp(root: str, certificate: tuple[str, str] | None, ports) -> None:
    from servers.ftp import FtpServer

    server = FtpServer(Path(root), tuple(map(Path, certificate)) if certificate else None)
    ports.put((server.port, server.password))
    server._thread.join()


def measure(name: str, destination, local: Path, size: int, sha256: str) -> None:
    warm_up = local.with_name("warm-up")
    warm_up.write_bytes(b"x")
    destination.upload(warm_up, "warm-up")  # imports and first connection out of the figure
    started = time.monotonic()
    destination.upload(local, "export.zip")
    uploaded = time.monotonic() - started
    started = time.monotonic()
    problems = destination.verify("export.zip", size, sha256, local)
    verified = time.monotonic() - started
    assert problems == [], problems
    print(
        f"{name:5} upload {size / MB / uploaded:7.1f} MB/s ({uploaded:6.1f} s)   "
        f"verify {verified:5.1f} s",
        flush=True,
    )


def main(size_mb: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="ees-throughput-"))
    local = work / "export.zip"
    with local.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(MB))
    size, sha256 = local.stat().st_size, sha256_of(local)
    spawn = multiprocessing.get_context("spawn")
    processes: list = []
    try:
        from servers.ftp import self_signed_certificate

        certificate = tuple(map(str, self_signed_certificate(work)))
        for kind, cert in (("ftp", None), ("ftps", certificate)):
            root = work / f"{kind}-root"
            root.mkdir()
            ports = spawn.Queue()
            processes.append(spawn.Process(target=_serve_ftp, args=(str(root), cert, ports)))
            processes[-1].start()
            port, password = ports.get(timeout=60)
            set_connection(
                f"tp_{kind}",
                {"conn_type": "ftp", "host": "127.0.0.1", "port": port, "login": "writer",
                 "password": password},
            )  # fmt: skip
        os.environ["SSL_CERT_FILE"] = certificate[0]
        from event_export.destinations.ftp import FTPDestination

        measure("ftp", FTPDestination("tp_ftp", "out"), local, size, sha256)
        measure("ftps", FTPDestination("tp_ftps", "out", ftps=True), local, size, sha256)

        from servers.sshd import Sshd

        (work / "sshd").mkdir()
        sshd = Sshd(work / "sshd")
        try:
            set_connection("tp_sftp", sshd.connection())
            from event_export.destinations.sftp import SFTPDestination

            measure("sftp", SFTPDestination("tp_sftp", "out"), local, size, sha256)
        finally:
            sshd.stop()

        port = free_port()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for_port(port)
        from servers.s3 import aws_connection, boto_client

        endpoint = f"http://127.0.0.1:{port}"
        boto_client(endpoint).create_bucket(Bucket="throughput")
        set_connection("tp_s3", aws_connection(endpoint, "AKIATHROUGHPUT", "secret"))
        from event_export.destinations.s3 import S3Destination

        measure("s3", S3Destination("tp_s3", "throughput", "out"), local, size, sha256)

        port = free_port()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
                 "--port", str(port), "--default-bucket", "throughput", "-q"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=work,  # it keeps its data in ./.cloudstorage
            )
        )  # fmt: skip
        wait_for_port(port)
        os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
        from servers.gcs import TokenServer, gcp_connection

        tokens = TokenServer()
        set_connection("tp_gcs", gcp_connection(tokens.new_key()))
        from event_export.destinations.gcs import GCSDestination

        measure("gcs", GCSDestination("tp_gcs", "throughput", "out"), local, size, sha256)
        tokens.stop()

        from servers.azurite import Azurite

        (work / "azurite").mkdir()
        azurite = Azurite(work / "azurite")  # its own node process, data in memory
        try:
            azurite.client().create_container("throughput")
            set_connection("tp_azure", azurite.connection())
            from event_export.destinations.azure import AzureBlobDestination

            destination = AzureBlobDestination("tp_azure", "throughput", "out")
            measure("azure", destination, local, size, sha256)
        finally:
            azurite.stop()
    finally:
        for process in processes:
            process.terminate()
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
