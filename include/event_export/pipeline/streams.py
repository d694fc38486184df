"""Overlap reading with the work on what was read, on more threads, in bounded memory."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pyarrow as pa

T = TypeVar("T")
R = TypeVar("R")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order while a background thread produces up to `depth` ahead.

    Arrow's Parquet and IPC readers release the GIL, so the next batches decode while the caller
    sorts, encodes or writes the current one. An error in the producer is raised here; leaving
    the loop early stops the producer.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            ready.put((_DONE, exc))

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                worker.join(0.1)


def ordered_map(
    func: Callable[[T], R], items: Iterable[T], workers: int = 2, ahead: int = 2
) -> Iterator[R]:
    """`map(func, items)` on `workers` threads, results in order, at most `ahead` + `workers` out.

    For Arrow kernels, which release the GIL: two batches are sorted or encoded at once while
    the caller consumes the results in their original order, so output stays deterministic.
    """
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="ordered-map") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) > ahead + workers - 1:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def coalesce(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Join small batches into batches of at least `rows` rows (the last may be smaller).

    Per-batch work (dictionary-encoding payloads, kernel calls) then runs once per `rows`.
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
            pending, count = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
