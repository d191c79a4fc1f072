"""Run async provider code from sync callers, and sync provider code from async callers.

A plugin implements one side natively. Sync calls into an async-only plugin run on one
private event-loop thread (so they work even when the caller is itself inside a running
loop); async calls into a sync-only plugin run in worker threads so the caller's event
loop is never blocked.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import asyncio

__all__ = ["aiter_in_thread", "iter_sync", "run_in_thread", "run_sync"]

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_DONE = object()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None:
        import asyncio

        with _loop_lock:
            if _loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="byom-async-bridge", daemon=True)
                thread.start()
                _loop = loop
    return _loop


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run a coroutine to completion from sync code and return its result."""

    import asyncio

    running: list[asyncio.Task[T]] = []
    abandoned = threading.Event()

    async def _wrap() -> T:
        task = asyncio.current_task()
        assert task is not None
        running.append(task)  # before the check: the caller sees the task or it sees the flag
        if abandoned.is_set():
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never started: no "coroutine was never awaited" warning
            raise asyncio.CancelledError
        return await awaitable

    loop = _background_loop()
    future: Future[T] | None = None
    try:
        future = asyncio.run_coroutine_threadsafe(_wrap(), loop)
        return future.result()
    except BaseException:
        # The caller was interrupted (KeyboardInterrupt, SystemExit): cancel the provider's
        # coroutine too, or it would go on generating — and billing — for nobody. The
        # signal may land anywhere, before the future exists or while it is being made, so
        # the task is cancelled by its own handle, or told to stop before it starts.
        abandoned.set()
        if future is not None:
            future.cancel()
        if running:
            loop.call_soon_threadsafe(running[0].cancel)
        raise


def iter_sync(aiterator: AsyncIterator[T]) -> Iterator[T]:
    """Drive an async iterator from sync code, one item per ``next()``.

    Closing the returned generator early closes the async iterator too.
    """
    import asyncio

    loop = _background_loop()
    reading: list[asyncio.Task[object]] = []  # the read in progress, if any

    async def _next() -> object:
        task = asyncio.current_task()
        assert task is not None
        reading[:] = [task]
        try:
            return await aiterator.__anext__()
        except StopAsyncIteration:
            return _DONE

    async def _close() -> None:
        # A read still in progress belongs to a caller that was interrupted (perhaps before
        # it could cancel the read itself: a signal lands between any two bytecodes), and
        # it must have stopped before the iterator can be closed ("asynchronous generator
        # is already running" otherwise).
        if reading and not reading[0].done():
            reading[0].cancel()
            await asyncio.wait(reading)
        aclose = getattr(aiterator, "aclose", None)
        if aclose is not None:
            await aclose()

    try:
        while True:
            future: Future[object] | None = None
            try:
                future = asyncio.run_coroutine_threadsafe(_next(), loop)
                item = future.result()
            except BaseException:
                if future is not None:
                    future.cancel()  # interrupted: stop the read now (see run_sync)
                raise
            if item is _DONE:
                return
            yield item  # type: ignore[misc]  # _DONE is filtered out above.
    finally:
        asyncio.run_coroutine_threadsafe(_close(), loop).result()


async def run_in_thread(func: Callable[[], T]) -> T:
    """Run blocking ``func`` in a worker thread, keeping contextvars."""
    import asyncio

    ctx = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(None, ctx.run, func)


async def aiter_in_thread(iterator_factory: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Iterate a blocking iterator in worker threads without blocking the event loop."""
    iterator = await run_in_thread(iterator_factory)

    def _next() -> object:
        try:
            return next(iterator)
        except StopIteration:
            return _DONE

    try:
        while True:
            item = await run_in_thread(_next)
            if item is _DONE:
                return
            yield item  # type: ignore[misc]  # _DONE is filtered out above.
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            await run_in_thread(close)
