"""Running a call plan: the only place where sync and async differ.

A call's logic — steps in order, the retry loop, the deadline, the audit before sending —
is written once, as a plan (a generator, see :mod:`byom_sdk._pipeline`) that yields
*effects*: call the provider, read the next stream event, sleep, do blocking I/O, hand an
event to the caller. A runner performs each effect and sends the result back. The sync
runner performs effects in the caller's thread; the async one awaits them, moving
blocking work to the Client's bounded executors so the event loop never blocks. Since the
plan is shared, sync and async cannot drift: they differ only in the few lines of each
effect's ``run`` / ``arun`` below.

This is also where the missing side of a provider is derived: a sync-only provider serves
async callers from the ``calls`` executor; an async-only one serves sync callers on the
private bridge loop (:mod:`byom_sdk._bridge`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ._bridge import iter_sync, run_sync
from ._errors import ByomError, ProviderError

if TYPE_CHECKING:
    from ._executors import Executors
    from ._provider import Provider

__all__ = [
    "END",
    "Blocking",
    "CloseStream",
    "Effect",
    "Emit",
    "Invoke",
    "NextEvent",
    "Offload",
    "OpenStream",
    "Plan",
    "Runner",
    "Sleep",
    "rewrite_effects",
]

log = logging.getLogger("byom_sdk")

T = TypeVar("T")
#: what a plan is: it yields effects, receives their results and returns its value.
Plan = Generator["Effect", Any, T]


class _End:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


#: returned by :class:`NextEvent` when the provider's stream is exhausted.
END = _End()


def rewrite_effects(plan: Plan[T], rewrite: Callable[[Effect], Effect | None]) -> Plan[T]:
    """``plan`` run inside another plan with each effect it yields passed through
    ``rewrite``: the effect to perform instead, or ``None`` to skip it (the plan gets
    ``None`` back). Results and failures go back into ``plan``; closing the outer plan
    closes ``plan``, so its own abandon path (audit outcome, stream close) runs."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = plan.send(value) if error is None else plan.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value = error = None
        performed = rewrite(effect)
        if performed is None:
            continue
        try:
            value = yield performed
        except GeneratorExit:
            plan.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure goes back into the plan.
            error = exc


def _wrap_foreign(error: Exception, plugin: str) -> ByomError:
    log.warning("plugin %r let %s escape unmapped; wrapped in ProviderError", plugin, type(error).__name__)
    return ProviderError(
        f"provider '{plugin}' raised {type(error).__name__}: {error}", provider=plugin, retryable=False
    )


class Runner:
    """Performs effects against one provider.

    :param provider: the provider the plan calls.
    :param executors: where async callers run blocking work.
    :param wrap_foreign: wrap exceptions that are not ``ByomError`` in ``ProviderError``
        (a Client does; a bare model for conformance testing lets them through, so plugin
        authors see their own defects).
    """

    __slots__ = ("executors", "provider", "wrap_foreign")

    def __init__(self, provider: Provider, executors: Executors, *, wrap_foreign: bool) -> None:
        self.provider = provider
        self.executors = executors
        self.wrap_foreign = wrap_foreign

    # -- drivers --------------------------------------------------------------------------

    def run(self, plan: Plan[T]) -> T:
        """Drive ``plan`` to completion in this thread."""
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = plan.send(value) if error is None else plan.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value = error = None
            try:
                value = effect.run(self)
            except BaseException as exc:  # noqa: BLE001 - every failure goes back into the plan.
                error = exc

    async def arun(self, plan: Plan[T]) -> T:
        """Drive ``plan`` to completion on the running event loop."""
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = plan.send(value) if error is None else plan.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value = error = None
            try:
                value = await effect.arun(self)
            except BaseException as exc:  # noqa: BLE001 - cancellation too: the plan records it.
                error = exc

    # -- helpers the effects share ----------------------------------------------------------

    def _foreign(self, error: Exception) -> BaseException:
        """``error`` itself, or (for a Client) a ``ProviderError`` wrapping a foreign one.
        Callers re-raise the error itself with a bare ``raise``, keeping its own cause."""
        if isinstance(error, ByomError) or not self.wrap_foreign:
            return error
        wrapped = _wrap_foreign(error, self.provider.info.provider)
        return wrapped

    async def in_thread(self, func: Callable[[], T], *, io: bool = False) -> T:
        pool = self.executors.io if io else self.executors.calls
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(pool, ctx.run, func)

    def _one_vector_per_text(self, request: Any, response: Any) -> Any:
        """The contract every caller relies on (``zip(texts, vectors)``): a provider that
        drops or adds vectors (a batch cut at its limit) is at fault, not silently short."""
        vectors = getattr(response, "vectors", None)
        texts = getattr(request, "texts", None)
        if vectors is not None and texts is not None and len(vectors) != len(texts):
            name = self.provider.info.provider
            raise ProviderError(
                f"provider '{name}' returned {len(vectors)} vector(s) for {len(texts)} text(s)",
                provider=name,
                code="VectorCountMismatch",
            )
        return response

    def invoke(self, operation: str, request: Any) -> Any:
        provider = self.provider
        native = provider.native
        try:
            if operation == "generate":
                if "generate" in native or "agenerate" not in native:
                    return provider.handle_generate(request)
                return run_sync(provider.ahandle_generate(request))
            if "embed" in native or "aembed" not in native:
                return self._one_vector_per_text(request, provider.handle_embed(request))
            return self._one_vector_per_text(request, run_sync(provider.ahandle_embed(request)))
        except Exception as exc:
            wrapped = self._foreign(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc

    async def ainvoke(self, operation: str, request: Any) -> Any:
        provider = self.provider
        native_async = ("a" + operation) in provider.native
        if not native_async:
            return await self.in_thread(lambda: self.invoke(operation, request))
        try:
            if operation == "generate":
                return await provider.ahandle_generate(request)
            return self._one_vector_per_text(request, await provider.ahandle_embed(request))
        except Exception as exc:
            wrapped = self._foreign(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc

    def open_stream(self, request: Any) -> Iterator[Any]:
        provider = self.provider
        try:
            if "stream" in provider.native or "astream" not in provider.native:
                return iter(provider.handle_stream(request))
            return iter_sync(provider.ahandle_stream(request))
        except Exception as exc:
            wrapped = self._foreign(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc

    def next_event(self, stream: Iterator[Any]) -> Any:
        try:
            return next(stream, END)
        except Exception as exc:
            wrapped = self._foreign(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc

    async def aopen_stream(self, request: Any) -> Any:
        if "astream" not in self.provider.native:
            return _Threaded(await self.in_thread(lambda: self.open_stream(request)))
        try:
            return self.provider.ahandle_stream(request).__aiter__()
        except Exception as exc:
            wrapped = self._foreign(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc

    async def anext_event(self, stream: Any) -> Any:
        if isinstance(stream, _Threaded):
            return await self.in_thread(lambda: stream.read(self.next_event))
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return END
        except Exception as exc:
            wrapped = self._foreign(exc)
            if wrapped is exc:
                raise
            raise wrapped from exc


class _Threaded:
    """A sync iterator read from worker threads on behalf of an async caller.

    A cancelled consumer leaves its worker inside ``next()``; a generator cannot be closed
    while it runs, so a close that arrives then is left to that worker, which performs it as
    soon as ``next()`` returns. The consumer's cancellation completes without waiting.
    """

    __slots__ = ("_close_pending", "_lock", "_reading", "iterator")

    def __init__(self, iterator: Iterator[Any]) -> None:
        self.iterator = iterator
        self._lock = threading.Lock()
        self._reading = False
        self._close_pending = False

    def read(self, next_event: Callable[[Iterator[Any]], Any]) -> Any:
        with self._lock:
            self._reading = True
        try:
            return next_event(self.iterator)
        finally:
            with self._lock:
                self._reading = False
                close_now, self._close_pending = self._close_pending, False
            if close_now:
                _close_sync(self.iterator)

    def close(self) -> None:
        with self._lock:
            if self._reading:
                self._close_pending = True
                return
        _close_sync(self.iterator)


def _close_sync(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


# -- effects ---------------------------------------------------------------------------------


class Effect:
    """Something a plan asks its runner to do; ``run`` in the caller's thread, ``arun`` on
    the event loop."""

    __slots__ = ()

    def run(self, runner: Runner) -> Any:
        raise NotImplementedError

    async def arun(self, runner: Runner) -> Any:
        raise NotImplementedError


class Invoke(Effect):
    """One unary provider call (``generate`` or ``embed``)."""

    __slots__ = ("operation", "request")

    def __init__(self, operation: str, request: Any) -> None:
        self.operation = operation
        self.request = request

    def run(self, runner: Runner) -> Any:
        return runner.invoke(self.operation, self.request)

    async def arun(self, runner: Runner) -> Any:
        return await runner.ainvoke(self.operation, self.request)


class OpenStream(Effect):
    """Start the provider's stream; the result is passed to :class:`NextEvent`."""

    __slots__ = ("request",)

    def __init__(self, request: Any) -> None:
        self.request = request

    def run(self, runner: Runner) -> Any:
        return runner.open_stream(self.request)

    async def arun(self, runner: Runner) -> Any:
        return await runner.aopen_stream(self.request)


class NextEvent(Effect):
    """The provider stream's next event, or :data:`END`."""

    __slots__ = ("stream",)

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def run(self, runner: Runner) -> Any:
        return runner.next_event(self.stream)

    async def arun(self, runner: Runner) -> Any:
        return await runner.anext_event(self.stream)


class CloseStream(Effect):
    """Release the provider's stream (cancels the RPC / closes the connection)."""

    __slots__ = ("stream",)

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def run(self, runner: Runner) -> Any:
        _close_sync(self.stream)

    async def arun(self, runner: Runner) -> Any:
        stream = self.stream
        if isinstance(stream, _Threaded):
            await runner.in_thread(stream.close)
            return
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


class Sleep(Effect):
    """Back off before the next attempt."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def run(self, runner: Runner) -> Any:
        time.sleep(self.seconds)

    async def arun(self, runner: Runner) -> Any:
        await asyncio.sleep(self.seconds)


class Blocking(Effect):
    """Blocking I/O (an audit append): inline for sync callers, the ``io`` pool for async."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[[], Any]) -> None:
        self.func = func

    def run(self, runner: Runner) -> Any:
        return self.func()

    async def arun(self, runner: Runner) -> Any:
        return await runner.in_thread(self.func, io=True)


class Offload(Effect):
    """CPU work too large for the event loop (masking a long prompt, counting its tokens)."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[[], Any]) -> None:
        self.func = func

    def run(self, runner: Runner) -> Any:
        return self.func()

    async def arun(self, runner: Runner) -> Any:
        return await runner.in_thread(self.func)


class Emit(Effect):
    """Hand one event to the stream's consumer (only stream drivers see this effect)."""

    __slots__ = ("event",)

    def __init__(self, event: Any) -> None:
        self.event = event

    def run(self, runner: Runner) -> Any:  # pragma: no cover - drivers intercept Emit
        raise RuntimeError("Emit outside a stream driver")

    async def arun(self, runner: Runner) -> Any:  # pragma: no cover - drivers intercept Emit
        raise RuntimeError("Emit outside a stream driver")
