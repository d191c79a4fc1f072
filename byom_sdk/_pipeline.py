"""The call pipeline: the ordered steps of every call to one model, written once.

A :class:`Pipeline` is built when the Client builds a model: an ordered tuple of
middleware (telemetry, audit, gate, plugin middleware, scoring, masking, the tokenizer's
context check — each its own module), the retry policy and the executors. Per call it
opens one interceptor per step and runs a *plan*: a generator holding the call's whole
logic, which yields effects for the runner to perform (:mod:`byom_sdk._runner`)::

    open steps → on_request (in order) → on_send (in order; the audit's intent record)
      → attempts: provider call, retried on retryable errors inside one deadline
      → on_response / on_event (reverse order) → on_end (reverse order; the outcome)

The same plan runs for sync and async callers, so their behaviour cannot drift. Every
failure — a refusal, a provider error, cancellation, a step failing in ``on_end`` — goes
to every opened interceptor's ``on_error`` and then ``on_end``, exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ByomError, InvalidValue, PluginError
from ._middleware import CallContext, Interceptor, Middleware, Operation
from ._runner import END, Blocking, CloseStream, Emit, Invoke, NextEvent, NotSent, Offload, OpenStream, Plan, Sleep
from ._types import EmbedRequest, GenerateRequest, GenerateResponse, ModelInfo, StreamEvent, TextDelta, well_formed

if TYPE_CHECKING:
    from ._executors import Executors
    from ._retry import RetryPolicy

__all__ = ["Pipeline", "StreamCancelled"]

log = logging.getLogger("byom_sdk")

#: requests with more text than this are prepared (masked, counted) off the event loop.
OFFLOAD_CHARS = 32_768


class StreamCancelled(BaseException):
    """Thrown into a stream's plan when its consumer stops reading (or its task is
    cancelled), so every step records the end of the call. Never reaches the caller."""


def _text_size(request: GenerateRequest | EmbedRequest) -> int:
    if isinstance(request, EmbedRequest):
        return sum(len(t) for t in request.texts)
    if request.prompt is not None:
        return len(request.prompt)
    return sum(len(m.content) for m in request.messages or ())


def _overrides(interceptor: Interceptor, hook: str) -> bool:
    return getattr(type(interceptor), hook) is not getattr(Interceptor, hook)


def _step_name(step: object) -> str:
    name = getattr(step, "name", None)
    if isinstance(name, str) and name:
        return name
    kind = type(step)
    return f"{kind.__module__}.{kind.__qualname__}"


class Pipeline:
    """How calls to one model run.

    :param middleware: the steps, outermost first (see :mod:`byom_sdk._client` for the
        order the Client uses).
    :param retry: the retry policy; ``None`` makes exactly one attempt with no deadline.
    :param executors: where async callers run blocking work.
    :param wrap_foreign: wrap non-``ByomError`` exceptions from the provider.
    """

    def __init__(
        self,
        middleware: Sequence[Middleware] = (),
        *,
        retry: RetryPolicy | None,
        executors: Executors,
        wrap_foreign: bool = True,
    ) -> None:
        self.middleware = tuple(middleware)
        self.retry = retry
        self.executors = executors
        self.wrap_foreign = wrap_foreign

    def context(self, alias: str, info: ModelInfo, operation: Operation) -> CallContext:
        return CallContext(alias=alias, info=info, operation=operation)

    # -- phases shared by every plan --------------------------------------------------------

    def _named(self, step: object, hook: str, error: Exception, call: CallContext) -> Exception:
        """``error`` raised by a step's ``hook``: a foreign exception (a plugin
        middleware's ``RuntimeError``) becomes a ``PluginError`` naming the step and the
        model, cause kept, so callers catch one hierarchy and the audit records it so. Our
        own errors (a refusal, ``AuditError``) pass as they are; a bare model lets foreign
        ones through, like its provider's."""
        if (isinstance(error, ByomError) and not isinstance(error, InvalidValue)) or not self.wrap_foreign:
            return error
        name = _step_name(step)
        wrapped = PluginError(
            f"middleware '{name}' of model '{call.alias}' failed in {hook}: {type(error).__name__}: {error}",
            plugin=name,
        )
        wrapped.__cause__ = error
        return wrapped

    def _open(self, call: CallContext, opened: list[Interceptor]) -> None:
        middleware: Middleware | None = None
        try:
            for middleware in self.middleware:
                interceptor = middleware.open(call)
                if interceptor is not None:
                    opened.append(interceptor)
        except Exception as exc:  # noqa: BLE001 - named and raised; the opened steps end it.
            raise self._named(middleware, "open", exc, call)  # noqa: B904 - _named sets the cause
        call.any_thread = all(interceptor.any_thread for interceptor in opened)

    def _before(self, call: CallContext, opened: Sequence[Interceptor], request: Any) -> Any:
        interceptor: Interceptor | None = None
        try:
            if isinstance(request, EmbedRequest):
                for interceptor in opened:
                    request = interceptor.on_embed_request(request)
            else:
                for interceptor in opened:
                    request = interceptor.on_request(request)
        except Exception as exc:  # noqa: BLE001 - a try around the loop costs nothing until it fails.
            raise self._named(interceptor, "on_request", exc, call)  # noqa: B904 - _named sets the cause
        return request

    def _request_phase(self, call: CallContext, opened: list[Interceptor], request: Any) -> Plan[Any]:
        self._open(call, opened)
        if _text_size(request) > OFFLOAD_CHARS:
            return (yield Offload(lambda: self._before(call, opened, request), free=call.any_thread))
        return self._before(call, opened, request)

    def _send_phase(self, call: CallContext, opened: Sequence[Interceptor]) -> Plan[None]:
        free = call.any_thread
        for interceptor in opened:
            if _overrides(interceptor, "on_send"):
                try:
                    if interceptor.blocking:
                        yield Blocking(interceptor.on_send, free=free, skippable=True)
                    else:
                        interceptor.on_send()
                except Exception as exc:  # noqa: BLE001 - named and raised.
                    raise self._named(interceptor, "on_send", exc, call)  # noqa: B904 - _named sets the cause

    @staticmethod
    def _fail(opened: Sequence[Interceptor], error: BaseException) -> None:
        for interceptor in reversed(opened):
            try:
                interceptor.on_error(error)
            except Exception:
                log.exception("%s.on_error failed", type(interceptor).__name__)

    def _end_phase(
        self, call: CallContext, opened: Sequence[Interceptor], error: BaseException | None
    ) -> Plan[BaseException | None]:
        """``on_end`` of every step, inner first. A step failing here fails a call that
        had succeeded: the steps outside it are told (``on_error``) before their own
        ``on_end``, so the audit records the failure the caller will see. A cancellation
        arriving meanwhile (the caller's task cancelled during a blocking ``on_end``) lets
        the outer steps end first — the audit's outcome is the outermost — and is then
        raised."""
        interrupted: BaseException | None = None
        free = call.any_thread
        for interceptor in reversed(opened):
            try:
                if interceptor.blocking:
                    yield Blocking(interceptor.on_end, free=free)
                else:
                    interceptor.on_end()
            except GeneratorExit:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded and raised once every step ended.
                if error is None:
                    error = exc = self._named(interceptor, "on_end", exc, call)
                    for outer in opened[: opened.index(interceptor)]:
                        try:
                            outer.on_error(exc)
                        except Exception:
                            log.exception("%s.on_error failed", type(outer).__name__)
                else:
                    log.error("%s.on_end failed after the call had failed: %s", type(interceptor).__name__, exc)
            except BaseException as exc:  # noqa: BLE001 - cancellation: raised once every step ended.
                if interrupted is None and error is None:  # the answer never reaches the caller
                    for outer in opened[: opened.index(interceptor)]:
                        try:
                            outer.on_error(exc)
                        except Exception:
                            log.exception("%s.on_error failed", type(outer).__name__)
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
        return error

    def _abandoned(self, opened: Sequence[Interceptor]) -> None:
        """The plan was closed without being driven to its end (its driver was dropped):
        end every step now, in this thread, since no more effects can be yielded."""
        cancelled = StreamCancelled("the call was abandoned before it finished")
        self._fail(opened, cancelled)
        for interceptor in reversed(opened):
            try:
                interceptor.on_end()
            except Exception:
                log.exception("%s.on_end failed for an abandoned call", type(interceptor).__name__)

    # -- unary ------------------------------------------------------------------------------

    def unary(self, call: CallContext, request: Any) -> Plan[Any]:
        """The plan of one ``generate`` or ``embed`` call."""
        opened: list[Interceptor] = []
        try:
            request = yield from self._request_phase(call, opened, request)
            yield from self._send_phase(call, opened)
            response = yield from self._attempts(call, request)
            if isinstance(response, GenerateResponse) and not response.text.isascii():
                response = response.model_copy(update={"text": well_formed(response.text)})
            response = self._after(call, opened, request, response)
        except GeneratorExit:
            self._abandoned(opened)
            raise
        except BaseException as error:
            self._fail(opened, error)
            yield from self._end_phase(call, opened, error)
            raise
        failure = yield from self._end_phase(call, opened, None)
        if failure is not None:
            raise failure
        return response

    def _after(self, call: CallContext, opened: Sequence[Interceptor], request: Any, response: Any) -> Any:
        interceptor: Interceptor | None = None
        try:
            if isinstance(request, EmbedRequest):
                for interceptor in reversed(opened):
                    response = interceptor.on_embed_response(response)
            else:
                for interceptor in reversed(opened):
                    response = interceptor.on_response(response)
        except Exception as exc:  # noqa: BLE001 - named and raised.
            raise self._named(interceptor, "on_response", exc, call)  # noqa: B904 - _named sets the cause
        return response

    def _attempts(self, call: CallContext, request: Any) -> Plan[Any]:
        operation = "embed" if isinstance(request, EmbedRequest) else "generate"
        retry = self.retry
        if retry is None:
            call.attempts = 1
            call.sent = True
            try:
                return (yield Invoke(operation, request, free=call.any_thread))
            except NotSent:
                call.sent = False
                raise
        start = retry.now()
        attempt = 0
        while True:
            attempt += 1
            call.attempts = attempt
            sent = retry.attempt_request(request, start)
            call.sent = True
            try:
                return (yield Invoke(operation, sent, free=call.any_thread))
            except NotSent:
                call.sent = attempt > 1  # an earlier attempt had reached the provider
                raise
            except ByomError as error:
                delay = retry.backoff(attempt, error)
                if retry.give_up(error, attempt, start, delay):
                    retry.mark(error, attempt)
                    raise
            yield Sleep(delay)

    # -- stream -----------------------------------------------------------------------------

    def stream(self, call: CallContext, request: GenerateRequest) -> Plan[None]:
        """The plan of one stream: yields :class:`~byom_sdk._runner.Emit` per event."""
        opened: list[Interceptor] = []
        try:
            request = yield from self._request_phase(call, opened, request)
            yield from self._send_phase(call, opened)
            yield from self._stream_attempts(call, opened, request)
        except GeneratorExit:
            self._abandoned(opened)
            raise
        except BaseException as error:
            self._fail(opened, error)
            yield from self._end_phase(call, opened, error)
            raise
        failure = yield from self._end_phase(call, opened, None)
        if failure is not None:
            raise failure

    def cancelled(self, call: CallContext) -> Plan[None]:
        """The plan of a stream dropped before it was read: nothing is prepared or sent."""
        opened: list[Interceptor] = []
        error = StreamCancelled("the stream was closed before it was read")
        try:
            self._open(call, opened)
        except Exception as exc:  # noqa: BLE001 - a failing step still ends the others.
            error = StreamCancelled(f"the stream was closed before it was read ({exc})")
        self._fail(opened, error)
        yield from self._end_phase(call, opened, error)
        raise error

    def _stream_attempts(
        self, call: CallContext, opened: Sequence[Interceptor], request: GenerateRequest
    ) -> Plan[None]:
        retry = self.retry
        start = retry.now() if retry is not None else 0.0
        attempt = 0
        while True:
            attempt += 1
            call.attempts = attempt
            sent = retry.attempt_request(request, start) if retry is not None else request
            call.sent = True
            try:
                yield from self._one_stream(call, opened, sent)
                return
            except NotSent:
                call.sent = attempt > 1
                raise
            except ByomError as error:
                if retry is None:
                    raise
                delay = retry.backoff(attempt, error)
                # Never again once the provider sent an event: part of an answer exists.
                if call.received or retry.give_up(error, attempt, start, delay):
                    retry.mark(error, attempt)
                    raise
            yield Sleep(delay)

    def _one_stream(self, call: CallContext, opened: Sequence[Interceptor], request: GenerateRequest) -> Plan[None]:
        free = call.any_thread
        stream = yield OpenStream(request, free=free)
        next_event = NextEvent(stream, free=free)
        inner_first = tuple(reversed(opened))
        try:
            while True:
                event = yield next_event
                if event is END:
                    break
                call.received += 1
                if type(event) is TextDelta and not event.text.isascii():
                    event = TextDelta(text=well_formed(event.text))
                events: Sequence[StreamEvent] = (event,)
                try:
                    for interceptor in inner_first:
                        if len(events) == 1:
                            events = interceptor.on_event(events[0])
                        else:
                            passed: list[StreamEvent] = []
                            for item in events:
                                passed.extend(interceptor.on_event(item))
                            events = passed
                except Exception as exc:  # noqa: BLE001 - only the hooks: provider errors arrive at the yield.
                    raise self._named(interceptor, "on_event", exc, call)  # noqa: B904 - _named sets the cause
                for item in events:
                    yield Emit(item)
        except GeneratorExit:
            close = getattr(stream, "close", None)  # abandoned: only a sync stream can close now
            if close is not None:
                close()
            raise
        except BaseException:
            yield CloseStream(stream, free=free)
            raise
        yield CloseStream(stream, free=free)
