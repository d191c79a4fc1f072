"""The local runner (the default): one process, one event loop, ``concurrency`` records in
flight, a shared rate limit.

Records are pulled from the driver's reader as workers free up, so at most
``concurrency`` of them are in memory whatever the input's size. The worker Client is
built here, from the job's configuration, with its own audit shard; a model the
application gave as a provider instance is borrowed (and left open).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._item import arun_item
from ._records import Item
from ._worker import new_shard_id

if TYPE_CHECKING:
    from .._client import Client
    from ._driver import Emit, RunContext

__all__ = ["RateLimiter", "close_worker", "run_local"]


class RateLimiter:
    """Starts at most ``rate`` records per second (evenly spaced, no bursts)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        at = max(self._next, now)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


async def close_worker(worker: Client, *, borrowed: bool) -> None:
    """Close a worker Client; a borrowed provider stays open for the application."""
    if borrowed:
        worker.trust.close()
        worker.executors.shutdown(wait=False)
    else:
        await worker.aclose()


async def run_local(context: RunContext, items: Iterator[Item], emit: Emit) -> None:
    job, spec = context.job, context.spec
    instance = None if spec.models else context.client.model(job.model).provider
    worker = spec.client(new_shard_id("local"), instance=instance, registry=context.client.registry)
    limiter = RateLimiter(job.rate_limit)
    try:
        model = worker.model(job.model)

        async def work() -> None:
            # One iterator shared by every worker: next() never awaits, so no two workers
            # are ever inside the reader at once.
            for item in items:
                await limiter.wait()
                emit(await arun_item(model, item, context.job_id))

        await asyncio.gather(*(work() for _ in range(job.concurrency)))
    finally:
        await close_worker(worker, borrowed=instance is not None)
