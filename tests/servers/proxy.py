"""A TCP proxy that can drop every connection once a byte budget has gone upstream.

Armed with `cut_after(n)`, it forwards until n bytes in total (over all connections) have reached
the server, then resets every connection and resets new ones at once, like a server that went
away mid-upload. `heal()` lets traffic through again.
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress


class CutoffProxy:
    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._budget: int | None = None
        self._sockets: set[socket.socket] = set()
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, nbytes: int) -> None:
        with self._lock:
            self._budget = nbytes

    def heal(self) -> None:
        with self._lock:
            self._budget = None

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self._reset_all()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                down = self._budget is not None and self._budget <= 0
            if down:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._sockets.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while data := src.recv(65536):
                if upstream:
                    with self._lock:
                        budget = self._budget
                        if budget is not None:
                            self._budget = budget - len(data)
                    if budget is not None and budget < len(data):
                        dst.sendall(data[: max(budget, 0)])
                        self.cuts += 1
                        self._reset_all()
                        return
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Drop with RST (linger 0), the way a crashed peer does, not with a clean end (FIN).

    SHUT_RD first wakes a pump thread blocked in recv on this socket; a bare close from another
    thread would leave the socket open until that recv returned.
    """
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    sock.close()
