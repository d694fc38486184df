"""A webhook receiver on 127.0.0.1 that verifies X-EES-Signature as a client's would, and also
answers as Slack's Web API (`POST /api/chat.postMessage`) for the Slack provider's notifier.

It records every request (verified or not) and can be told to answer the next N requests with an
error status, or to be slow, so retries, backoff and the time budget meet a real HTTP server.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float = field(default_factory=time.monotonic)

    def json(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[Received] = []
        self.slack: list[dict] = []
        self.fail_next: list[int] = []  # statuses for the next requests, in turn
        self.delay = 0.0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/api/"):
                    return outer._slack(self, body)
                given = self.headers.get("X-EES-Signature", "")
                expected = "sha256=" + hmac.new(outer.secret.encode(), body, "sha256").hexdigest()
                verified = hmac.compare_digest(given, expected)
                with outer._lock:
                    outer.received.append(Received(self.path, dict(self.headers), body, verified))
                    status = outer.fail_next.pop(0) if outer.fail_next else None
                if outer.delay:
                    time.sleep(outer.delay)
                if status is None:
                    status = 204 if verified else 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def _slack(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        kind = handler.headers.get("Content-Type", "")
        fields = (
            json.loads(body)
            if "json" in kind
            else {k: v[0] for k, v in parse_qs(body.decode()).items()}
        )
        token = handler.headers.get("Authorization", "")
        with self._lock:
            self.slack.append({"path": handler.path, "token": token, **fields})
        data = json.dumps({"ok": True, "channel": fields.get("channel"), "ts": "1.0"}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def url(self, path: str = "/hooks/ees") -> str:
        return f"{self.base}{path}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.slack.clear()
            self.fail_next.clear()
            self.delay = 0.0

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
