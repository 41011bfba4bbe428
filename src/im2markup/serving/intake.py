"""The server's first look at an upload, before it may take a place in the decoding line.

Reading an image and measuring its glyphs costs milliseconds for a formula and tens of
milliseconds for a page of text; decoding costs a fraction of a second to seconds. If pages
were refused by the decoding workers, a burst of them would sit in the line ahead of a formula
and fill it, so the formula would wait for every refusal or be turned away (503). Here each
upload is screened on its own threads first (`capacity` at a time), the smallest upload first:
a formula of a few kilobytes passes a burst of pages, a page is refused (422) without ever
reaching a worker, and more than `queue_size` uploads waiting to be screened are refused
(503) rather than held in memory. The screening threads run at a lower scheduling priority
(`NICENESS`), so that on a machine with few cores a flood of uploads to screen takes the CPU
the decoding does not need rather than slowing it down.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# How much lower the screening threads' priority is than the server's (Linux nice levels).
NICENESS = 10


class IntakeFull(RuntimeError):
    """Too many uploads are waiting to be screened."""


class Intake:
    """Runs blocking screening calls `capacity` at a time, the one of least `cost` first."""

    def __init__(self, capacity: int, queue_size: int):
        if capacity < 1 or queue_size < 0:
            raise ValueError(
                f"need capacity >= 1 and queue_size >= 0, got {capacity}, {queue_size}"
            )
        self.capacity = capacity
        self.queue_size = queue_size
        self._running = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._executor = ThreadPoolExecutor(
            max_workers=capacity, thread_name_prefix="im2markup-intake", initializer=_lower_priority
        )

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def run(self, cost: int, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on a thread once a screening slot is free; `IntakeFull` when the line
        of uploads waiting for one is full."""
        await self._enter(cost)
        try:
            call = functools.partial(fn, *args)
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        finally:
            self._leave()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _enter(self, cost: int) -> None:
        if self._running < self.capacity and not self._waiting:
            self._running += 1
            return
        if len(self._waiting) >= self.queue_size:
            raise IntakeFull(
                f"{len(self._waiting)} uploads wait to be read, the limit is {self.queue_size}"
            )
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (cost, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave()
            else:
                self._waiting = [entry for entry in self._waiting if entry[2] is not turn]
                heapq.heapify(self._waiting)
            raise

    def _leave(self) -> None:
        """Hand the slot to the cheapest waiting upload, or free it."""
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._running -= 1


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority by `NICENESS`, where the system allows
    per-thread priorities (Linux); elsewhere the thread keeps the process's."""
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS)
