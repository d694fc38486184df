"""Azure Blob Storage on 127.0.0.1: Azurite's blob service, from npm (scripts/setup.sh puts it in
.tools/), started per test module in memory on a free port.

Azurite checks Shared Key signatures as Azure does, so a connection with a wrong account key is
refused over the wire (403 AuthenticationFailed) by the storage SDK's own signing code. Its one
account is the documented development account `devstoreaccount1` and its published key.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path

from servers.net import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
AZURITE = REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (its README publishes it; it opens nothing else).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class Azurite:
    """One azurite-blob process on 127.0.0.1 with nothing kept on disk."""

    def __init__(self, workdir: Path):
        if not AZURITE.exists():
            raise FileNotFoundError(f"{AZURITE} is missing: run `make setup` (it installs azurite)")
        self.port = free_port()
        self.log = (workdir / "azurite.log").open("wb")
        self._process = subprocess.Popen(
            [
                str(AZURITE),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={k: v for k, v in os.environ.items() if k != "AZURITE_ACCOUNTS"},  # default account
        )
        started = time.monotonic()
        try:
            wait_for_port(self.port, timeout=60)
        except TimeoutError:
            self.stop()
            log = (workdir / "azurite.log").read_text()
            raise RuntimeError(f"azurite did not start: {log}") from None
        self.startup_seconds = time.monotonic() - started
        self.endpoint = f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def connection_string(self, key: str = ACCOUNT_KEY) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={self.endpoint};"
        )

    def connection(self, key: str = ACCOUNT_KEY) -> dict:
        """An Airflow `wasb` connection (the account key lives only here, as in production)."""
        return {"conn_type": "wasb", "extra": {"connection_string": self.connection_string(key)}}

    def client(self):
        """A client straight to Azurite, for the tests' own look at the container."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self.log.close()


def wrong_key() -> str:
    """A well-formed account key that is not the account's."""
    return base64.b64encode(b"\x01" * 64).decode()
