"""GCS on 127.0.0.1: gcp-storage-emulator, and an OAuth token endpoint for service-account keys.

The emulator checks no credentials. Google's client still signs a JWT with the service account's
private key and trades it for an access token at the key's `token_uri`; `TokenServer` is that
endpoint here: it verifies the JWT's RS256 signature against the public keys it was given and
answers `invalid_grant` otherwise, as Google does for a deleted or unknown key. So a wrong key
fails the way it does in production, through the provider's own credential code.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from servers.net import free_port

PROJECT = "ees-test"


def service_account_key(token_uri: str, key_id: str = "key-1") -> tuple[dict, rsa.RSAPublicKey]:
    """A service account JSON key (as the Cloud console downloads it) and its public key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    keyfile = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": f"exporter@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1000000000000000000",
        "token_uri": token_uri,
    }
    return keyfile, private.public_key()


def gcp_connection(keyfile: dict) -> dict:
    return {
        "conn_type": "google_cloud_platform",
        "extra": {"keyfile_dict": json.dumps(keyfile), "project": PROJECT},
    }


class TokenServer:
    """OAuth 2.0 JWT-bearer token endpoint that accepts only JWTs signed by registered keys."""

    def __init__(self):
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.grants = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                assertion = parse_qs(body).get("assertion", [""])[0]
                if outer.valid(assertion):
                    outer.grants += 1
                    status, reply = 200, {"access_token": "ya29.local", "expires_in": 3600}
                else:
                    status, reply = (
                        400,
                        {
                            "error": "invalid_grant",
                            "error_description": "Invalid JWT Signature.",
                        },
                    )
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self._httpd.server_address[1]}/token"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def new_key(self) -> dict:
        """A registered service-account key: tokens are granted for it."""
        keyfile, public = service_account_key(self.uri, key_id=f"key-{len(self.keys) + 1}")
        self.keys[keyfile["private_key_id"]] = public
        return keyfile

    def valid(self, jwt: str) -> bool:
        try:
            head, payload, signature = jwt.split(".")
            header = json.loads(_b64(head))
            public = self.keys[header["kid"]]
            public.verify(
                _b64(signature),
                f"{head}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            return True
        except (ValueError, KeyError, InvalidSignature):
            return False

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StorageEmulator:
    """gcp-storage-emulator in memory on a free loopback port."""

    def __init__(self):
        from gcp_storage_emulator.server import create_server

        self.port = free_port()
        self._server = create_server("127.0.0.1", self.port, in_memory=True)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self):
        """An anonymous client straight to the emulator, for the tests' own checks."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )

    def wipe(self) -> None:
        self._server.wipe()

    def stop(self) -> None:
        self._server.stop()


class RefusingProxy:
    """An HTTP proxy in front of the emulator that answers chosen requests with the error the
    JSON API gives for what the emulator cannot hold (IAM roles, retention policies) and forwards
    everything else, so Google's own client meets those errors over the wire.

    `refuse(method, path_part, status, reason, message)`: a request whose method matches and
    whose path contains `path_part` gets that error instead of reaching the emulator.
    """

    def __init__(self, upstream_port: int):
        import http.client

        self.rules: list[tuple[str, str, int, str, str]] = []
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                for method, part, status, reason, message in outer.rules:
                    if self.command == method and part in self.path:
                        outer.refused += 1
                        error = {"code": status, "message": message}
                        errors = [{"message": message, "domain": "global", "reason": reason}]
                        return self._send(
                            status, json.dumps({"error": {**error, "errors": errors}})
                        )
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                reply = upstream.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def _send(self, status: int, text: str):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def refuse(self, method: str, path_part: str, status: int, reason: str, message: str) -> None:
        self.rules.append((method, path_part, status, reason, message))

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
