"""Watch a listing while an upload runs: every size ever seen under each name."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path


class Watcher:
    """Polls `listing()` ({name: size}) in a thread until stopped, recording what it saw."""

    def __init__(self, listing: Callable[[], dict[str, int]], interval: float = 0.002):
        self.listing = listing
        self.interval = interval
        self.seen: dict[str, set[int]] = defaultdict(set)
        self.listings: list[set[str]] = []  # each distinct set of names, in the order seen
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()  # the final state, whatever the timing

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.interval)

    def _poll(self) -> None:
        try:
            found = self.listing()
        except Exception:
            found = {}  # the store may be unreachable while the connection is cut
        for name, size in found.items():
            self.seen[name].add(size)
        if not self.listings or self.listings[-1] != set(found):
            self.listings.append(set(found))
        self.polls += 1


def on_disk(folder: Path) -> Callable[[], dict[str, int]]:
    """A listing of every file in a server's folder with its size, temporary names included."""

    def listing() -> dict[str, int]:
        try:
            return {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
        except FileNotFoundError:
            return {}

    return listing
