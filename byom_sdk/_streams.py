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
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any

from typing_extensions import Self

from ._pipeline import StreamCancelled
from ._runner import CANCELLED, ERROR, NEXT, RETURNED, VALUE, Effect, Emit, NotSent, Plan, Runner
from ._types import StreamEvent

__all__ = ["AsyncStream", "MakePlan", "SyncStream"]

log = logging.getLogger("byom_sdk")

#: what makes a stream's plan: ``make(True)`` for a stream dropped before it was read (its
#: steps record the cancelled call without sending), ``make(False)`` for the real call.
MakePlan = Callable[[bool], Plan[Any]]


class _Driver:
    """State shared by both drivers: the plan (started lazily) and how it ended."""

    __slots__ = ("__weakref__", "_done", "_make_plan", "_plan", "_runner")

    def __init__(self, runner: Runner, make_plan: MakePlan) -> None:
        self._runner = runner
        self._make_plan = make_plan
        self._plan: Plan[None] | None = None
        self._done = False

    def _start(self) -> Plan[None]:
        plan = self._plan
        if plan is None:
            plan = self._plan = self._make_plan(False)
        return plan

    def _never_started(self) -> None:
        """A stream dropped before its first read still counts as a call: its steps are
        opened and ended as cancelled, without running the request side or sending."""
        self._done = True
        try:
            self._runner.run(self._make_plan(True))
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

    __slots__ = ()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> StreamEvent:
        if self._done:
            raise StopIteration
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
        if self._done:
            return
        if self._plan is None:
            self._never_started()
            return
        self._done = True
        try:
            self._runner.run(_throw_cancel(self._plan))
        except StreamCancelled:
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(_Driver, AsyncIterator[StreamEvent]):
    """``async for`` events; ``await aclose()`` (or leave ``async with``) to stop early."""

    __slots__ = ()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._done:
            raise StopAsyncIteration
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
