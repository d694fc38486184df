"""pyftpdlib FTP and FTPS (explicit TLS, self-signed certificate) servers on 127.0.0.1.

Users: `writer` may do everything in the root folder, `reader` may only list and read it, and
`keeper` may create and rename files but not delete them. Armed
with `drop_after(n)`, the server drops the whole session of an upload once n bytes of it arrived,
like a server that went away mid-transfer.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
from pathlib import Path


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class FtpServer:
    def __init__(self, root: Path, certificate: tuple[Path, Path] | None = None):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import FTPServer

        self.root = root
        self.tls = certificate is not None
        self.password = f"pw-{secrets.token_urlsafe(12)}"
        self.drop_budget: int | None = None
        self.drops = 0
        authorizer = DummyAuthorizer()
        authorizer.add_user("writer", self.password, str(root), perm="elradfmwMT")
        authorizer.add_user("reader", self.password, str(root), perm="elr")
        authorizer.add_user("keeper", self.password, str(root), perm="elrwmf")
        handler = self._handler_class(certificate)
        handler.authorizer = authorizer
        handler.auth_failed_timeout = 0.01
        handler.banner = "ees test ftp"
        # Its own event loop: pyftpdlib's default one is shared by every server in the process.
        self._server = FTPServer(("127.0.0.1", 0), handler, ioloop=IOLoop())
        self.port = self._server.address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _handler_class(self, certificate):
        from pyftpdlib.handlers import DTPHandler, FTPHandler

        server = self
        if certificate:
            from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

            base, dtp_base = TLS_FTPHandler, TLS_DTPHandler
        else:
            base, dtp_base = FTPHandler, DTPHandler

        class DroppingDTP(dtp_base):
            received = 0

            def recv(self, buffer_size):
                chunk = super().recv(buffer_size)
                self.received += len(chunk)
                budget = server.drop_budget
                if budget is not None and self.received >= budget:
                    server.drops += 1
                    self.cmd_channel.close()  # control and data: the session is gone
                    return b""
                return chunk

        attributes = {"dtp_handler": DroppingDTP}
        if certificate:
            attributes.update(
                certfile=str(certificate[0]),
                keyfile=str(certificate[1]),
                tls_control_required=True,
                tls_data_required=True,
            )
        return type("TestHandler", (base,), attributes)

    def drop_after(self, nbytes: int | None) -> None:
        self.drop_budget = nbytes

    def connection(self, login: str = "writer", password: str | None = None, **extra) -> dict:
        return {
            "conn_type": "ftp",
            "host": "127.0.0.1",
            "port": self.port,
            "login": login,
            "password": self.password if password is None else password,
            "extra": extra,
        }

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._server.serve_forever(timeout=0.01, blocking=False, handle_exit=False)
        self._server.close_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
