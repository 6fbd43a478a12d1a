"""Keep the model busy: start the next batch while the last one is still being finished.

The classify stage is model call -> enrichment -> send -> ack. Done one batch after the other, the
model waits while a batch is enriched and sent, and the enrichers wait while the model runs.
`InOrderBatches` lets up to `depth` batches be in flight: the caller starts a batch (its model
call runs in a thread) as soon as a slot is free, and one task finishes the batches strictly in
the order they were started, so outputs keep their input order per partition and offsets are
acked in order, after the outputs were sent (at-least-once, as before).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class InOrderBatches(Generic[T]):
    """Up to `depth` batches in flight, finished one at a time in the order they were started.

    A failure while finishing a batch ends the finisher; the next `submit` (or `drain`) raises it,
    so the agent fails as it would have without the overlap."""

    def __init__(self, depth: int, finish: Callable[[T], Awaitable[None]]) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self._finish = finish
        self._slots = asyncio.Semaphore(depth)
        self._started = 0  # batches submitted and not yet finished (Semaphore has no public counter)
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self._task = asyncio.create_task(self._finish_in_order(), name="inorder-batches-finisher")
        self._task.add_done_callback(self._log_failure)

    @property
    def in_flight(self) -> int:
        return self._started

    async def submit(self, start: Callable[[], T]) -> None:
        """Wait for a free slot, then `start()` the batch (it returns what `finish` will get)."""
        acquire = asyncio.ensure_future(self._slots.acquire())
        await asyncio.wait({acquire, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not acquire.done():
            acquire.cancel()
        self._raise_if_failed()
        self._queue.put_nowait(start())
        self._started += 1

    async def drain(self) -> None:
        """Wait until every started batch is finished."""
        for _ in range(self.depth):
            acquire = asyncio.ensure_future(self._slots.acquire())
            await asyncio.wait({acquire, self._task}, return_when=asyncio.FIRST_COMPLETED)
            if not acquire.done():
                acquire.cancel()
            self._raise_if_failed()
        for _ in range(self.depth):
            self._slots.release()

    async def close(self) -> None:
        """Stop finishing (unfinished batches are not acked: they are read again after a restart)."""
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - already raised to the caller by submit/drain
            pass

    def _raise_if_failed(self) -> None:
        if self._task.done():
            self._task.result()  # raises the finisher's error
            raise RuntimeError("the batch finisher stopped")

    @staticmethod
    def _log_failure(task: asyncio.Task) -> None:
        # said at once: the caller only hears of it at its next submit, which may be a while when idle
        if not task.cancelled() and task.exception() is not None:
            log.error("finishing a batch failed; its events stay unacked and are read again after a restart",
                      exc_info=task.exception())

    async def _finish_in_order(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._finish(item)
            finally:
                self._started -= 1
                self._slots.release()
