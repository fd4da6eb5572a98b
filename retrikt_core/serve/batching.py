"""Micro-batching: requests that arrive within a short window share one call
to the bundle, so throughput under load approaches the bundle's batch
throughput while a lone request waits at most the window."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Pending:
    inputs: list[Any]
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Gathers inputs of concurrent requests for up to ``window_s`` (or until
    ``max_batch`` inputs), runs ``predict`` on them in one worker thread (so
    the model's CPU threads stay bounded), and hands each request its rows."""

    def __init__(
        self,
        predict: Callable[[list[Any]], list[Any]],
        max_batch: int,
        window_s: float,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.predict = predict
        self.max_batch = max_batch
        self.window_s = window_s
        self.on_batch = on_batch or (lambda size, seconds: None)
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrikt-predict")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Finish what is queued, then stop (graceful shutdown)."""
        while not self.queue.empty():
            await asyncio.sleep(self.window_s)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.pool.shutdown(wait=True)

    async def submit(self, inputs: list[Any]) -> list[Any]:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(inputs, future))
        return await future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            size = len(batch[0].inputs)
            deadline = loop.time() + self.window_s
            while size < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
                batch.append(item)
                size += len(item.inputs)
            inputs = [x for pending in batch for x in pending.inputs]
            started = time.perf_counter()
            try:
                rows = await loop.run_in_executor(self.pool, self.predict, inputs)
            except Exception as exc:  # every request of the batch learns of it
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            self.on_batch(len(inputs), time.perf_counter() - started)
            start = 0
            for pending in batch:
                end = start + len(pending.inputs)
                if not pending.future.done():
                    pending.future.set_result(rows[start:end])
                start = end
