"""pytest fixtures starting each test server once per test module and stopping it after."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from servers.azurite import Azurite
from servers.ftp import FtpServer, self_signed_certificate
from servers.gcs import StorageEmulator, TokenServer, gcp_connection
from servers.net import set_connection
from servers.s3 import AuthMoto, MotoS3
from servers.sshd import SSHD, Sshd
from servers.webhooks import WebhookReceiver

WEBHOOK_SECRET = "whsec-local-test-secret"  # kept only in the connection ees_webhook_secret


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_moto() -> Iterator[AuthMoto]:
    server = AuthMoto.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Gcs:
    emulator: StorageEmulator
    tokens: TokenServer

    def empty_bucket(self, bucket: str, conn_id: str):
        """A wiped emulator with one empty bucket and a connection whose key the token endpoint
        accepts; the bucket, to look in directly."""
        self.emulator.wipe()
        client = self.emulator.client()
        client.create_bucket(bucket)
        set_connection(conn_id, gcp_connection(self.tokens.new_key()))
        return client.bucket(bucket)


@pytest.fixture(scope="module")
def gcs() -> Iterator[Gcs]:
    """The emulator, reached by Google's client through STORAGE_EMULATOR_HOST, and the tokens."""
    tokens, emulator = TokenServer(), StorageEmulator()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)
        yield Gcs(emulator, tokens)
    emulator.stop()
    tokens.stop()


@pytest.fixture(scope="module")
def azurite(tmp_path_factory) -> Iterator[Azurite]:
    """Azurite's blob service (npm, in .tools/) on a free loopback port, in memory."""
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> Iterator[Sshd]:
    if not SSHD.exists():
        pytest.fail(f"{SSHD} is missing: run `make setup` (scripts/setup.sh installs it)")
    if os.geteuid() != 0:
        pytest.fail("the sFTP tests start sshd and create a throw-away user: run them as root")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ftp_server(tmp_path_factory) -> Iterator[FtpServer]:
    server = FtpServer(tmp_path_factory.mktemp("ftp-root"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ftps_server(tmp_path_factory) -> Iterator[FtpServer]:
    """FTPS with a self-signed certificate the client trusts through SSL_CERT_FILE."""
    certificate = self_signed_certificate(tmp_path_factory.mktemp("ftps-cert"))
    server = FtpServer(tmp_path_factory.mktemp("ftps-root"), certificate)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(certificate[0]))
        yield server
    server.stop()


@pytest.fixture(scope="module")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A signature-checking webhook receiver (and Slack Web API stand-in) on 127.0.0.1, with the
    connections that reach it: ees_webhook_secret (the shared secret) and ees_slack (a bot
    token, the receiver as the API's base URL)."""
    server = WebhookReceiver(WEBHOOK_SECRET)
    set_connection("ees_webhook_secret", {"conn_type": "generic", "password": WEBHOOK_SECRET})
    slack = {
        "conn_type": "slack",
        "password": "xoxb-local",
        "extra": {"base_url": server.url("/api/")},
    }
    set_connection("ees_slack", slack)
    yield server
    server.stop()
