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
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ._bridge import iter_sync, run_sync
from ._errors import ByomError, InvalidValue, ProviderError

if TYPE_CHECKING:
    from ._executors import Executors
    from ._provider import Provider

__all__ = [
    "CANCELLED",
    "END",
    "ERROR",
    "NEXT",
    "RAISED",
    "RETURNED",
    "VALUE",
    "Blocking",
    "CloseStream",
    "Effect",
    "Emit",
    "Invoke",
    "NextEvent",
    "NotSent",
    "Offload",
    "OpenStream",
    "Outcome",
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

    async def arun(self, plan: Plan[T], *, cancelling: bool = False) -> T:
        """Drive ``plan`` to completion on the running event loop.

        A run of consecutive effects that each need a worker thread (an audit append, the
        call of a sync-only provider, the next audit append) is handed to *one* worker,
        which performs them and advances the plan between them (:class:`_Handoff`): each
        hop between the loop and a thread costs two thread wake-ups (about 60-100 µs on a
        2-core machine), and an audited call to a sync provider needed three hops.

        :param cancelling: the plan is ending a cancelled call (its appends go to ``io``).
        """
        value: Any = None
        error: BaseException | None = None
        pending: Effect | None = None
        while True:
            if pending is None:
                try:
                    effect = plan.send(value) if error is None else plan.throw(error)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
            else:
                effect, pending = pending, None
            value = error = None
            if effect.in_worker(self):
                outcome = await self.hand_off(plan, effect, cancelling=cancelling)
                if outcome.kind is RETURNED:
                    returned: T = outcome.value
                    return returned
                if outcome.kind is RAISED:
                    raise outcome.value
                if outcome.kind is NEXT:
                    pending = outcome.value  # the next effect, for the loop to perform
                elif outcome.kind is VALUE:
                    value = outcome.value
                else:  # CANCELLED or ERROR: thrown into the plan where it stands
                    error = outcome.value
                    cancelling = cancelling or outcome.kind is CANCELLED
                continue
            try:
                value = await effect.arun(self)
            except BaseException as exc:  # noqa: BLE001 - cancellation too: the plan records it.
                error = exc
                cancelling = cancelling or isinstance(exc, asyncio.CancelledError)

    async def hand_off(self, plan: Plan[Any], effect: Effect, *, cancelling: bool = False) -> Outcome:
        """Lend ``plan``, standing at ``effect``, to one worker thread for as long as its
        effects need a thread (see :class:`_Handoff`).

        :param cancelling: the plan is ending a cancelled call: an append goes to ``io``,
            never behind the provider call the caller left on a ``calls`` thread.
        """
        native = self.provider.native
        on_io = isinstance(effect, _IO_EFFECTS) and (cancelling or native >= _ALL_ASYNC)
        return await _Handoff(self, plan, effect, on_io=on_io).drive()

    # -- helpers the effects share ----------------------------------------------------------

    def _foreign(self, error: Exception) -> BaseException:
        """``error`` itself, or (for a Client) a ``ProviderError`` wrapping a foreign one.
        Callers re-raise the error itself with a bare ``raise``, keeping its own cause."""
        # InvalidValue: the plugin built a contract type wrongly (its bug, named as such).
        if (isinstance(error, ByomError) and not isinstance(error, InvalidValue)) or not self.wrap_foreign:
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


# -- one worker for a run of blocking effects ------------------------------------------------

#: how a hand-off ended (:attr:`Outcome.kind`): the plan returned ``value``; it raised
#: ``value``; the caller was cancelled and throws ``value`` into the plan where it stands;
#: ``value`` is the plan's next effect, for the loop to perform; ``value`` is the result
#: (or the error) of the effect, for the loop to send into the plan (a call whose steps
#: must run their hooks on the loop: ``CallContext.any_thread`` is false).
RETURNED, RAISED, CANCELLED, NEXT, VALUE, ERROR = "returned", "raised", "cancelled", "next", "value", "error"
_STOPPED = "stopped"  # the worker stopped for a cancellation (only the caller sees this)


class NotSent(asyncio.CancelledError):
    """The caller was cancelled while its provider call or stream waited for a worker:
    the request never left (the pipeline records ``sent: false``)."""


class Outcome(NamedTuple):
    kind: str
    value: Any


class _Handoff:
    """A plan lent to one worker thread while its effects need a thread.

    The worker performs the effect, sends the result into the plan and goes on with the
    plan's next effect while that one needs a thread too; it hands the plan back with the
    first effect that needs the loop (a native async call, a backoff sleep, an event for
    the consumer) or with the plan's end. Only one side drives the plan at a time.

    A cancelled caller gets the semantics of one hop per effect. Waiting on the provider
    (or queued before it), the worker is left behind at once: the call finishes in its
    thread, its result dropped, and the caller throws the cancellation into the plan. An
    audit append or masking is never skipped or raced (the outcome record must follow the
    intent): the caller waits for the worker to finish it and throws the cancellation in
    where the plan then stands.
    """

    __slots__ = ("cancel_requested", "effect", "lock", "on_io", "plan", "runner", "stage")

    #: not started; waiting on the provider; in the plan, an append or masking; left behind.
    _WAITING, _CALLING, _BUSY, _LEFT = range(4)

    def __init__(self, runner: Runner, plan: Plan[Any], effect: Effect, *, on_io: bool) -> None:
        self.runner = runner
        self.plan = plan
        self.effect = effect
        self.lock = threading.Lock()
        self.stage = self._WAITING
        self.cancel_requested = False
        self.on_io = on_io

    async def drive(self) -> Outcome:
        runner = self.runner
        # A call to a sync provider runs on one ``calls`` worker from its intent to its
        # outcome. An ``io`` worker (the appends of a natively async provider, and of a
        # cancelled call: never behind the call its caller left) does nothing but appends,
        # so no provider work ever waits on audit I/O.
        try:
            pool = runner.executors.io if self.on_io else runner.executors.calls
            work = asyncio.get_running_loop().run_in_executor(pool, contextvars.copy_context().run, self._work)
        except Exception as exc:  # noqa: BLE001 - no worker (executors shut down): into the plan.
            return Outcome(ERROR, exc)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError as cancel:
            with self.lock:
                calling = self.stage == self._CALLING
                first = self.effect
                if calling or (self.stage == self._WAITING and (first.waits_on_provider or first.skippable)):
                    queued = self.stage == self._WAITING and first.waits_on_provider
                    self.stage = self._LEFT
                    if queued:
                        not_sent = NotSent(*cancel.args)
                        not_sent.__cause__ = cancel
                        return Outcome(CANCELLED, not_sent)
                    return Outcome(CANCELLED, cancel)
                self.cancel_requested = True
            outcome = await _finish(work)
            if outcome.kind in (_STOPPED, NEXT, VALUE, ERROR):
                return Outcome(CANCELLED, cancel)
            # The call ended meanwhile: the cancellation still reaches the caller (TaskGroups
            # and asyncio.timeout rely on it), in the one narrow window where the outcome
            # append had already begun.
            raise

    def _work(self) -> Outcome:
        runner = self.runner
        plan = self.plan
        effect = self.effect
        while True:
            with self.lock:
                if self.stage == self._LEFT:
                    return Outcome(CANCELLED, None)  # nobody waits for this
                calling = effect.waits_on_provider
                if calling and self.cancel_requested:
                    return Outcome(_STOPPED, None)  # not sent or read: cancelled before it
                self.stage = self._CALLING if calling else self._BUSY
            value: Any = None
            error: BaseException | None = None
            try:
                value = effect.run_in_worker(runner)
            except BaseException as exc:  # noqa: BLE001 - every failure goes back into the plan.
                error = exc
            with self.lock:
                if self.stage == self._LEFT:
                    if error is None:
                        effect.drop(value)  # the caller left: release what it would have got
                    return Outcome(CANCELLED, None)
                if self.cancel_requested:
                    return Outcome(_STOPPED, None)  # the caller's cancellation lands here
                self.stage = self._BUSY
            if not effect.free:
                # A step of this call keeps its hooks on the loop: the loop advances the plan.
                return Outcome(VALUE, value) if error is None else Outcome(ERROR, error)
            try:
                effect = plan.send(value) if error is None else plan.throw(error)
            except StopIteration as stop:
                return Outcome(RETURNED, stop.value)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's task.
                return Outcome(RAISED, exc)
            if not effect.in_worker(runner) or (self.on_io and not isinstance(effect, _IO_EFFECTS)):
                return Outcome(NEXT, effect)


async def _finish(work: asyncio.Future[Outcome]) -> Outcome:
    """The worker's outcome, waited for through further cancellations (it is about to stop)."""
    while True:
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            continue


# -- effects ---------------------------------------------------------------------------------


class Effect:
    """Something a plan asks its runner to do; ``run`` in the caller's thread, ``arun`` on
    the event loop; for an async caller, ``run_in_worker`` in a worker thread when
    ``in_worker`` says the effect needs one (see :class:`_Handoff`)."""

    __slots__ = ()

    #: a cancelled caller does not wait for this effect (a provider call or read).
    waits_on_provider = False
    #: a caller cancelled before a worker started this effect may skip it.
    skippable = False
    #: a worker that performed this effect may also advance the plan past it (every step
    #: of the call allows its hooks on any thread).
    free = False

    def run(self, runner: Runner) -> Any:
        raise NotImplementedError

    async def arun(self, runner: Runner) -> Any:
        raise NotImplementedError

    def in_worker(self, runner: Runner) -> bool:
        return False

    def run_in_worker(self, runner: Runner) -> Any:
        return self.run(runner)

    def drop(self, result: Any) -> None:
        """Release ``result``, which nobody will read (its caller was cancelled)."""


class Invoke(Effect):
    """One unary provider call (``generate`` or ``embed``)."""

    __slots__ = ("free", "operation", "request")

    def __init__(self, operation: str, request: Any, *, free: bool = False) -> None:
        self.operation = operation
        self.request = request
        self.free = free

    waits_on_provider = True

    def run(self, runner: Runner) -> Any:
        return runner.invoke(self.operation, self.request)

    async def arun(self, runner: Runner) -> Any:
        return await runner.ainvoke(self.operation, self.request)

    def in_worker(self, runner: Runner) -> bool:
        return ("a" + self.operation) not in runner.provider.native


class OpenStream(Effect):
    """Start the provider's stream; the result is passed to :class:`NextEvent`."""

    __slots__ = ("free", "request")

    def __init__(self, request: Any, *, free: bool = False) -> None:
        self.request = request
        self.free = free

    waits_on_provider = True

    def run(self, runner: Runner) -> Any:
        return runner.open_stream(self.request)

    async def arun(self, runner: Runner) -> Any:
        return await runner.aopen_stream(self.request)

    def in_worker(self, runner: Runner) -> bool:
        return "astream" not in runner.provider.native

    def run_in_worker(self, runner: Runner) -> Any:
        return _Threaded(runner.open_stream(self.request))  # read later from any worker

    def drop(self, result: Any) -> None:
        if isinstance(result, _Threaded):
            result.close()


class NextEvent(Effect):
    """The provider stream's next event, or :data:`END`."""

    __slots__ = ("free", "stream")

    def __init__(self, stream: Any, *, free: bool = False) -> None:
        self.stream = stream
        self.free = free

    waits_on_provider = True

    def run(self, runner: Runner) -> Any:
        return runner.next_event(self.stream)

    async def arun(self, runner: Runner) -> Any:
        return await runner.anext_event(self.stream)

    def in_worker(self, runner: Runner) -> bool:
        return isinstance(self.stream, _Threaded)

    def run_in_worker(self, runner: Runner) -> Any:
        stream: _Threaded = self.stream
        return stream.read(runner.next_event)


class CloseStream(Effect):
    """Release the provider's stream (cancels the RPC / closes the connection)."""

    __slots__ = ("free", "stream")

    def __init__(self, stream: Any, *, free: bool = False) -> None:
        self.stream = stream
        self.free = free

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

    def in_worker(self, runner: Runner) -> bool:
        return isinstance(self.stream, _Threaded)

    def run_in_worker(self, runner: Runner) -> Any:
        self.stream.close()


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
    """Blocking I/O (an audit append): inline for sync callers, the ``io`` pool for async.

    :param skippable: a caller cancelled before it started may skip it (an ``on_send``:
        nothing has been sent yet); an ``on_end`` (the outcome) is never skipped.
    """

    __slots__ = ("free", "func", "skippable")

    def __init__(self, func: Callable[[], Any], *, free: bool = False, skippable: bool = False) -> None:
        self.func = func
        self.free = free
        self.skippable = skippable

    def run(self, runner: Runner) -> Any:
        return self.func()

    async def arun(self, runner: Runner) -> Any:
        return await runner.in_thread(self.func, io=True)

    def in_worker(self, runner: Runner) -> bool:
        return True


class Offload(Effect):
    """CPU work too large for the event loop (masking a long prompt, counting its tokens)."""

    __slots__ = ("free", "func")

    def __init__(self, func: Callable[[], Any], *, free: bool = False) -> None:
        self.func = func
        self.free = free

    def run(self, runner: Runner) -> Any:
        return self.func()

    async def arun(self, runner: Runner) -> Any:
        return await runner.in_thread(self.func)

    def in_worker(self, runner: Runner) -> bool:
        return True


class Emit(Effect):
    """Hand one event to the stream's consumer (only stream drivers see this effect)."""

    __slots__ = ("event",)

    def __init__(self, event: Any) -> None:
        self.event = event

    def run(self, runner: Runner) -> Any:  # pragma: no cover - drivers intercept Emit
        raise RuntimeError("Emit outside a stream driver")

    async def arun(self, runner: Runner) -> Any:  # pragma: no cover - drivers intercept Emit
        raise RuntimeError("Emit outside a stream driver")


#: effects an ``io`` worker performs: appends and closing a stream, never a provider call.
_IO_EFFECTS = (Blocking, CloseStream)
#: a provider natively async in every operation: its appends go to ``io``.
_ALL_ASYNC = frozenset({"agenerate", "aembed", "astream"})
