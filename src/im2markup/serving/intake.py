"""The server's first look at an upload, before it may take a place in the decoding line.

Reading an image and measuring its glyphs costs milliseconds for a formula and tens of
milliseconds for a page of text; decoding costs a fraction of a second to seconds. If pages
were refused by the decoding workers, a burst of them would sit in the line ahead of a formula
and fill it, so the formula would wait for every refusal or be turned away (503). Here each
upload is screened first (`capacity` at a time), the smallest upload first: a formula of a few
kilobytes passes a burst of pages, a page is refused (422) without ever reaching a worker, and
more than `queue_size` uploads waiting to be screened are refused (503) rather than held in
memory.

Screening runs in processes of its own at a lower scheduling priority (`NICENESS`): on a
screening thread, image code that holds the interpreter lock made a decoding beside it twice
as slow (0.37 s against 0.71 s, `benchmarks/README.md`); in a process it takes only the CPU
the decoding does not need. A screening process that dies (a decoder crash, the memory limit)
is replaced, and its upload is answered with `ScreeningCrashed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import importlib
import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")

# How much lower the screening processes' priority is than the server's (Linux nice levels).
NICENESS = 10


class IntakeFull(RuntimeError):
    """Too many uploads are waiting to be screened."""


class ScreeningCrashed(RuntimeError):
    """The process screening an upload died before it answered."""


class Intake:
    """Runs blocking screening calls `capacity` at a time, the one of least `cost` first, in
    processes (or, with `processes=False`, threads) that import `preload` when they start."""

    def __init__(
        self,
        capacity: int,
        queue_size: int,
        *,
        processes: bool = True,
        preload: Sequence[str] = (),
    ):
        if capacity < 1 or queue_size < 0:
            raise ValueError(
                f"need capacity >= 1 and queue_size >= 0, got {capacity}, {queue_size}"
            )
        self.capacity = capacity
        self.queue_size = queue_size
        self._processes = processes
        self._preload = tuple(preload)
        self._running = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._executor = self._new_executor()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def warm_up(self) -> None:
        """Start every screening process now (each imports `preload`) rather than on the first
        uploads."""
        for future in [self._executor.submit(os.getpid) for _ in range(self.capacity)]:
            future.result()

    async def run(self, cost: int, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` once a screening slot is free (`fn` and `args` must pickle);
        `IntakeFull` when the line of uploads waiting for one is full, `ScreeningCrashed` when
        its process dies."""
        await self._enter(cost)
        try:
            call = functools.partial(fn, *args)
            executor = self._executor
            try:
                return await asyncio.get_running_loop().run_in_executor(executor, call)
            except BrokenProcessPool as err:
                if self._executor is executor:
                    self._executor = self._new_executor()
                    executor.shutdown(wait=False, cancel_futures=True)
                raise ScreeningCrashed("the process reading the upload stopped") from err
        finally:
            self._leave()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _new_executor(self) -> Executor:
        initializer = functools.partial(_start_worker, self._preload)
        if self._processes:
            return ProcessPoolExecutor(
                max_workers=self.capacity,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=initializer,
            )
        return ThreadPoolExecutor(
            max_workers=self.capacity,
            thread_name_prefix="im2markup-intake",
            initializer=initializer,
        )

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


def _start_worker(preload: Sequence[str]) -> None:
    """Lower the worker's scheduling priority by `NICENESS` (where the system allows it per
    thread or process; Linux does) and import the modules its calls need."""
    with contextlib.suppress(AttributeError, OSError):
        worker = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, worker, os.getpriority(os.PRIO_PROCESS, worker) + NICENESS)
    for module in preload:
        importlib.import_module(module)
