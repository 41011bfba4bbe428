"""A bounded worker pool for the server: a few decoding threads and a short waiting line.

Decoding holds a model's activations in memory, so the number of requests being decoded or
waiting is capped; a request beyond the cap is refused at once instead of queueing forever.
A call is given its deadline (`model.deadline`) and stops itself there, so a request that
times out frees its worker within one decoding step instead of running on unanswered.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class PoolFull(RuntimeError):
    """Every worker is busy and the waiting line is full."""


@dataclass(frozen=True)
class Load:
    """`status` is `ok` (a worker is free), `busy` (new calls wait) or `full` (new calls are
    refused); `pending` counts the calls running and those waiting."""

    status: str
    running: int
    pending: int


class WorkerPool:
    """Runs blocking calls on `workers` threads with at most `queue_size` calls waiting."""

    def __init__(self, workers: int, queue_size: int):
        if workers < 1 or queue_size < 0:
            raise ValueError(f"need workers >= 1 and queue_size >= 0, got {workers}, {queue_size}")
        self.workers = workers
        self.capacity = workers + queue_size
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="im2markup")
        self._lock = threading.Lock()
        self._pending = 0
        self._running = 0

    def load(self) -> Load:
        """The calls running and pending (running or waiting; a call that timed out counts
        until its thread stops) at one moment."""
        with self._lock:
            pending, running = self._pending, self._running
        if pending >= self.capacity:
            status = "full"
        elif running >= self.workers:
            status = "busy"
        else:
            status = "ok"
        return Load(status, running, max(pending, running))

    def _release(self, *_: object) -> None:
        with self._lock:
            self._pending -= 1

    def _counted(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._running -= 1

    async def run(self, fn: Callable[..., T], *args: object, timeout: float) -> T:
        """Run `fn(*args)` on a worker; `PoolFull` when over capacity, `TimeoutError` after
        `timeout` seconds (queueing included). A call still waiting when it times out is
        dropped; one already running keeps its slot until it returns, which a call that
        honours its deadline does at once."""
        with self._lock:
            if self._pending >= self.capacity:
                raise PoolFull(
                    f"{self._pending} requests in progress, the limit is {self.capacity}"
                )
            self._pending += 1
        try:
            future = self._executor.submit(self._counted, fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
