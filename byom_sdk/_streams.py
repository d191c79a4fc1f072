"""The objects ``stream()`` and ``astream()`` return: drivers of a stream's plan.

A stream starts when it is first iterated, for sync and async callers alike; its input
was validated when ``stream()`` was called, so bad input fails at the call. Stopping early
(``close()`` / ``aclose()``, ``break`` out of a ``with`` block, a cancelled task, or
dropping a stream that was never read) ends the call properly: the provider's stream is
closed and every step records the end exactly once — the audit says ``cancelled``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any

from typing_extensions import Self

from ._errors import ByomError
from ._pipeline import StreamCancelled
from ._runner import CANCELLED, ERROR, NEXT, RETURNED, VALUE, Effect, Emit, NotSent, Plan, Runner
from ._types import StreamEvent

__all__ = ["AsyncStream", "MakePlan", "SyncStream"]

log = logging.getLogger("byom_sdk")

#: what makes a stream's plan: ``make(True)`` for a stream dropped before it was read (its
#: steps record the cancelled call without sending), ``make(False)`` for the real call.
MakePlan = Callable[[bool], Plan[Any]]


class _Driver:
    """State shared by both drivers: the plan (started lazily) and how it ended.

    A stream is registered with its Client's :class:`CallTracker` when it is made, and
    each read is a call in flight: closing the Client waits for a read in progress, then
    ends the streams left open between two reads and those never read (both recorded as
    cancelled, while the audit is still open); a later read raises.
    """

    __slots__ = ("__weakref__", "_alias", "_closed_by_client", "_done", "_make_plan", "_plan", "_runner")

    def __init__(self, runner: Runner, make_plan: MakePlan, alias: str = "stream") -> None:
        self._runner = runner
        self._make_plan = make_plan
        self._alias = alias
        self._plan: Plan[None] | None = None
        self._done = False
        self._closed_by_client = False
        # Registered now, not at the first read: a stream made and never read still owes
        # an outcome, and once its Client closed nothing could record it any more.
        runner.executors.in_flight.streams.add(self)

    def _start(self) -> Plan[None]:
        plan = self._plan
        if plan is None:
            plan = self._plan = self._make_plan(False)
        return plan

    def _check_done(self) -> bool:
        if self._closed_by_client:
            raise ByomError(f"model '{self._alias}' is closed (its Client was closed while the stream was open)")
        return self._done

    def _never_started(self) -> None:
        """A stream dropped before its first read still counts as a call: its steps are
        opened and ended as cancelled, without running the request side or sending."""
        self._done = True
        try:
            self._runner.run(self._make_plan(True))
        except StreamCancelled:
            pass

    def _end_here(self) -> None:
        """End the stream from sync code in this thread: a started plan is thrown its
        cancellation (its steps end, the audit records it cancelled), else it never started."""
        if self._plan is None:
            self._never_started()
            return
        self._done = True
        try:
            self._runner.run(_throw_cancel(self._plan))
        except StreamCancelled:
            pass

    def __del__(self) -> None:
        if self._done:
            return
        try:
            if self._plan is None:
                # Run on a worker thread: a finaliser may fire on an event loop thread.
                self._runner.executors.io.submit(self._never_started)
            else:
                self._plan.close()  # the plan's GeneratorExit path ends every step inline
        except Exception:  # noqa: BLE001 - interpreter shutdown: executors may be gone.
            pass


def _throw_cancel(plan: Plan[None], first: BaseException | None = None) -> Plan[None]:
    """Throw the cancellation (``first``, else ``StreamCancelled``) into a running plan and
    perform what it still needs (close the provider's stream, write the audit outcome);
    events it would still emit are dropped."""
    value: Any = None
    error: BaseException | None = first or StreamCancelled("the consumer stopped reading the stream")
    while True:
        try:
            effect = plan.send(value) if error is None else plan.throw(error)
        except StopIteration:
            return
        value = error = None
        if isinstance(effect, Emit):
            error = StreamCancelled("the consumer stopped reading the stream")
            continue
        value = yield effect


class SyncStream(_Driver, Iterator[StreamEvent]):
    """Iterate for events; ``close()`` (or leave the ``with`` block) to stop early."""

    __slots__ = ("_lock",)

    def __init__(self, runner: Runner, make_plan: MakePlan, alias: str = "stream") -> None:
        super().__init__(runner, make_plan, alias)
        # Held by each read and by close(): the Client's close may end a stream left open
        # by another thread, never while that thread reads it.
        self._lock = threading.Lock()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> StreamEvent:
        if self._check_done():
            raise StopIteration
        in_flight, owner = self._runner.executors.in_flight, threading.get_ident()
        in_flight.enter(owner, self._alias)
        try:
            with self._lock:
                if self._check_done():
                    raise StopIteration
                return self._next()
        finally:
            in_flight.leave(owner)

    def _next(self) -> StreamEvent:
        plan = self._start()
        runner = self._runner
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = plan.send(value) if error is None else plan.throw(error)
            except StopIteration:
                self._done = True
                raise StopIteration from None
            except BaseException:
                self._done = True
                raise
            value = error = None
            if isinstance(effect, Emit):
                event: StreamEvent = effect.event
                return event
            try:
                value = effect.run(runner)
            except BaseException as exc:  # noqa: BLE001 - every failure goes back into the plan.
                error = exc

    def close(self) -> None:
        """Stop reading: the provider's stream is closed and the call recorded as cancelled."""
        with self._lock:
            self._close()

    def _close_for_client(self) -> None:
        """End a stream its consumer left open, as its Client closes (skipped while a read
        that outlived the Client's wait still holds it)."""
        if self._lock.acquire(blocking=False):
            try:
                if not self._done:
                    self._close()
                    self._closed_by_client = True
            finally:
                self._lock.release()

    def _close(self) -> None:
        if not self._done:
            self._end_here()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(_Driver, AsyncIterator[StreamEvent]):
    """``async for`` events; ``await aclose()`` (or leave ``async with``) to stop early."""

    __slots__ = ("_loop",)

    def __init__(self, runner: Runner, make_plan: MakePlan, alias: str = "stream") -> None:
        super().__init__(runner, make_plan, alias)
        self._loop: asyncio.AbstractEventLoop | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._check_done():
            raise StopAsyncIteration
        in_flight, owner = self._runner.executors.in_flight, asyncio.get_running_loop()
        in_flight.enter(owner, self._alias)
        try:
            self._loop = owner
            return await self._next()
        finally:
            in_flight.leave(owner)

    async def _next(self) -> StreamEvent:
        plan = self._start()
        runner = self._runner
        value: Any = None
        error: BaseException | None = None
        pending: Effect | None = None
        while True:
            if pending is None:
                try:
                    effect = plan.send(value) if error is None else plan.throw(error)
                except StopIteration:
                    self._done = True
                    raise StopAsyncIteration from None
                except BaseException:
                    self._done = True
                    raise
            else:
                effect, pending = pending, None
            value = error = None
            if isinstance(effect, Emit):
                event: StreamEvent = effect.event
                return event
            if effect.in_worker(runner):
                # A sync provider's stream: opening it and the first read (or the last read
                # and the outcome) on one worker.
                try:
                    outcome = await runner.hand_off(plan, effect)
                except asyncio.CancelledError:  # cancelled as the plan ended: nothing left to do
                    self._done = True
                    raise
                if outcome.kind is NEXT:
                    pending = outcome.value
                    continue
                if outcome.kind is VALUE:
                    value = outcome.value
                    continue
                if outcome.kind is ERROR:
                    error = outcome.value
                    continue
                self._done = True
                if outcome.kind is RETURNED:
                    raise StopAsyncIteration
                if outcome.kind is CANCELLED:
                    # NotSent: the stream never opened (the plan then records sent: false).
                    await self._cancelled(plan, outcome.value if isinstance(outcome.value, NotSent) else None)
                raise outcome.value
            try:
                value = await effect.arun(runner)
            except asyncio.CancelledError:
                # The consuming task was cancelled: end the call as cancelled, then let the
                # cancellation continue.
                self._done = True
                await self._cancelled(plan)
                raise
            except BaseException as exc:  # noqa: BLE001 - every failure goes back into the plan.
                error = exc

    async def _cancelled(self, plan: Plan[None], first: BaseException | None = None) -> None:
        try:
            await self._runner.arun(_throw_cancel(plan, first), cancelling=True)
        except (StreamCancelled, NotSent):
            pass

    def _close_from_sync(self) -> None:
        """End this stream as its Client closes from sync code, when no loop can: one never
        read (nothing loop-bound exists yet), or one left open on a loop that no longer runs
        (``asyncio.run`` returned). Its steps end here and the audit records it cancelled;
        a native async provider stream was already finalised with its loop. A stream open
        on a loop still running elsewhere is left to that loop (or to its finaliser)."""
        if self._done:
            return
        if self._plan is not None and self._loop is not None and self._loop.is_running():
            return
        self._end_here()
        self._closed_by_client = True

    async def _close_for_client(self) -> None:
        """End a stream its consumer left open between two reads on this loop, as its
        Client closes (the Client waited for the reads in progress)."""
        if not self._done and self._loop is asyncio.get_running_loop():
            await self.aclose()
            self._closed_by_client = True

    async def aclose(self) -> None:
        """Stop reading: the provider's stream is closed and the call recorded as cancelled."""
        if self._done:
            return
        if self._plan is None:
            await self._runner.in_thread(self._never_started, io=True)
            return
        self._done = True
        try:
            await self._runner.arun(_throw_cancel(self._plan), cancelling=True)
        except StreamCancelled:
            pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
