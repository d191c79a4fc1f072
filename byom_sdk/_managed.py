"""The model the Client hands out: middleware, trust pipeline and retries around a plugin.

Composition happens once, when the Client builds the model; per call there is one
interceptor per middleware and no pluggy dispatch. Any exception a plugin lets escape
that is not a ``ByomError`` is wrapped in ``ProviderError`` (kept as ``__cause__``) so an
application only ever catches the core hierarchy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from ._errors import BadRequest, ByomError, ProviderError
from ._middleware import CallContext, Interceptor, Middleware
from ._model import Model
from ._retry import RetryPolicy
from ._types import (
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    StreamEvent,
    TextDelta,
    Usage,
    UsageEvent,
)

if TYPE_CHECKING:
    from ._tokenizer import Tokenizer

__all__ = ["ManagedModel"]

log = logging.getLogger("byom_sdk")

Operation = Literal["generate", "stream", "embed"]
_Req = TypeVar("_Req", GenerateRequest, EmbedRequest)
_Resp = TypeVar("_Resp", GenerateResponse, EmbedResponse)


def _wrap_foreign(error: Exception, plugin: str) -> ByomError:
    if isinstance(error, ByomError):
        return error
    log.warning("plugin %r let %s escape unmapped; wrapped in ProviderError", plugin, type(error).__name__)
    return ProviderError(
        f"provider '{plugin}' raised {type(error).__name__}: {error}", provider=plugin, retryable=False
    )


class ManagedModel(Model):
    """A plugin's model wrapped with middleware (trust first), retries and context checks.

    :param alias: the name the application asked the Client for.
    :param inner: the plugin's model.
    :param middleware: ordered outermost first; the trust pipeline is innermost so that it
        sees exactly what would leave the boundary.
    """

    def __init__(
        self,
        alias: str,
        inner: Model,
        *,
        middleware: Sequence[Middleware] = (),
        retry: RetryPolicy | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.alias = alias
        self.inner = inner
        self.middleware = tuple(middleware)
        self.retry = retry or RetryPolicy()
        self._tokenizer = tokenizer
        self._info = inner.info

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def tokenizer(self) -> Tokenizer | None:
        return self._tokenizer or self.inner.tokenizer

    def refresh_info(self) -> None:
        """Re-read the plugin's ``info`` (after it verified its boundary, say)."""
        self._info = self.inner.info

    # -- helpers --------------------------------------------------------------------------

    def _open(self, operation: Operation) -> tuple[CallContext, list[Interceptor]]:
        call = CallContext(alias=self.alias, info=self._info, operation=operation)
        opened = []
        for middleware in self.middleware:
            interceptor = middleware.open(call)
            if interceptor is not None:
                opened.append(interceptor)
        return call, opened

    @staticmethod
    def _fail(interceptors: Sequence[Interceptor], error: BaseException) -> None:
        for interceptor in reversed(interceptors):
            interceptor.on_error(error)
        for interceptor in reversed(interceptors):
            interceptor.on_end()

    def _check_context(self, request: GenerateRequest) -> None:
        limit = self._info.capabilities.max_context
        tokenizer = self.tokenizer
        if limit is None or tokenizer is None:
            return
        if request.prompt is not None:
            used = tokenizer.count(request.prompt)
        else:
            used = tokenizer.count(tokenizer.apply_chat_template(request.as_messages()))
        wanted = used + (request.max_tokens or 0)
        if wanted > limit:
            raise BadRequest(
                f"model '{self.alias}': prompt is {used} tokens + max_tokens "
                f"{request.max_tokens or 0} = {wanted}, over the context window of {limit}",
                provider=self._info.provider,
            )

    def _before(self, operation: Operation, request: _Req) -> tuple[CallContext, list[Interceptor], _Req]:
        """Open one interceptor per middleware and pass the request through them in order."""
        call, interceptors = self._open(operation)
        try:
            if isinstance(request, GenerateRequest):
                self._check_context(request)
                for interceptor in interceptors:
                    request = interceptor.on_request(request)
            else:
                for interceptor in interceptors:
                    request = interceptor.on_embed_request(request)
        except BaseException as error:
            self._fail(interceptors, error)
            raise
        return call, interceptors, request

    @staticmethod
    def _after(interceptors: Sequence[Interceptor], response: _Resp) -> _Resp:
        for interceptor in reversed(interceptors):
            if isinstance(response, GenerateResponse):
                response = interceptor.on_response(response)
            else:
                response = interceptor.on_embed_response(response)
        for interceptor in reversed(interceptors):
            interceptor.on_end()
        return response

    def _usage_from_tokenizer(self, request: GenerateRequest, text: str) -> Usage | None:
        tokenizer = self._tokenizer
        if tokenizer is None:
            return None
        prompt = request.prompt if request.prompt is not None else tokenizer.apply_chat_template(request.as_messages())
        return Usage(input_tokens=tokenizer.count(prompt), output_tokens=tokenizer.count(text), source="tokenizer")

    def _recount(self, request: GenerateRequest, response: GenerateResponse) -> GenerateResponse:
        """Replace an estimated usage with real counts when a tokenizer was configured."""
        if response.usage.source != "estimate" or self._tokenizer is None:
            return response
        usage = self._usage_from_tokenizer(request, response.text)
        return response.model_copy(update={"usage": usage})

    def _recount_stream(self, request: GenerateRequest, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        text: list[str] = []
        for event in events:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, UsageEvent) and event.usage.source == "estimate":
                usage = self._usage_from_tokenizer(request, "".join(text))
                event = UsageEvent(usage=usage) if usage is not None else event
            elif isinstance(event, FinishEvent) and event.usage is not None and event.usage.source == "estimate":
                usage = self._usage_from_tokenizer(request, "".join(text))
                event = FinishEvent(finish_reason=event.finish_reason, usage=usage)
            yield event

    async def _arecount_stream(
        self, request: GenerateRequest, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        text: list[str] = []
        async for event in events:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif (
                isinstance(event, (UsageEvent, FinishEvent))
                and event.usage is not None
                and event.usage.source == "estimate"
            ):
                usage = self._usage_from_tokenizer(request, "".join(text))
                event = event.model_copy(update={"usage": usage})
            yield event

    @staticmethod
    def _on_attempt(call: CallContext) -> Callable[[int], None]:
        def note(attempt: int) -> None:
            call.attempts = attempt

        return note

    # -- unary calls: generate and embed ------------------------------------------------

    def _unary(self, operation: Operation, request: _Req, invoke: Callable[[_Req], _Resp]) -> _Resp:
        call, interceptors, request = self._before(operation, request)
        plugin = self._info.provider

        def attempt(req: _Req) -> _Resp:
            try:
                return invoke(req)
            except ByomError:
                raise
            except Exception as error:
                raise _wrap_foreign(error, plugin) from error

        try:
            response = self.retry.call(attempt, request, on_attempt=self._on_attempt(call))
            if isinstance(request, GenerateRequest) and isinstance(response, GenerateResponse):
                response = self._recount(request, response)
            return self._after(interceptors, response)
        except BaseException as error:
            self._fail(interceptors, error)
            raise

    async def _aunary(self, operation: Operation, request: _Req, invoke: Callable[[_Req], Awaitable[_Resp]]) -> _Resp:
        call, interceptors, request = self._before(operation, request)
        plugin = self._info.provider

        async def attempt(req: _Req) -> _Resp:
            try:
                return await invoke(req)
            except ByomError:
                raise
            except Exception as error:
                raise _wrap_foreign(error, plugin) from error

        try:
            response = await self.retry.acall(attempt, request, on_attempt=self._on_attempt(call))
            if isinstance(request, GenerateRequest) and isinstance(response, GenerateResponse):
                response = self._recount(request, response)
            return self._after(interceptors, response)
        except BaseException as error:
            self._fail(interceptors, error)
            raise

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        return self._unary("generate", request, self.inner._call_generate)

    async def _agenerate(self, request: GenerateRequest) -> GenerateResponse:
        return await self._aunary("generate", request, self.inner._acall_generate)

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        return self._unary("embed", request, self.inner._call_embed)

    async def _aembed(self, request: EmbedRequest) -> EmbedResponse:
        return await self._aunary("embed", request, self.inner._acall_embed)

    # -- stream ---------------------------------------------------------------------------

    @staticmethod
    def _through(interceptors: Sequence[Interceptor], event: StreamEvent) -> Sequence[StreamEvent]:
        events: Sequence[StreamEvent] = (event,)
        for interceptor in reversed(interceptors):
            passed: list[StreamEvent] = []
            for item in events:
                passed.extend(interceptor.on_event(item))
            events = passed
        return events

    def _stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        call, interceptors, request = self._before("stream", request)
        inner = self.inner
        plugin = self._info.provider

        def attempt(req: GenerateRequest) -> Iterator[StreamEvent]:
            try:
                yield from inner._call_stream(req)
            except Exception as error:
                if isinstance(error, ByomError):
                    raise
                raise _wrap_foreign(error, plugin) from error

        events = self.retry.stream(attempt, request, on_attempt=self._on_attempt(call))
        if self._tokenizer is not None:
            events = self._recount_stream(request, events)
        return self._drive(interceptors, events)

    def _drive(self, interceptors: list[Interceptor], events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        try:
            if not interceptors:
                yield from events
            else:
                for event in events:
                    yield from self._through(interceptors, event)
        except BaseException as error:
            if isinstance(error, GeneratorExit):
                # The caller stopped early: still close the interceptors, as a normal end.
                for interceptor in reversed(interceptors):
                    interceptor.on_end()
                raise
            self._fail(interceptors, error)
            raise
        for interceptor in reversed(interceptors):
            interceptor.on_end()

    async def _astream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:
        call, interceptors, request = self._before("stream", request)
        inner = self.inner
        plugin = self._info.provider

        async def attempt(req: GenerateRequest) -> AsyncIterator[StreamEvent]:
            try:
                async for event in inner._acall_stream(req):
                    yield event
            except Exception as error:
                if isinstance(error, ByomError):
                    raise
                raise _wrap_foreign(error, plugin) from error

        events = self.retry.astream(attempt, request, on_attempt=self._on_attempt(call))
        if self._tokenizer is not None:
            events = self._arecount_stream(request, events)
        try:
            async for event in events:
                for item in self._through(interceptors, event):
                    yield item
        except BaseException as error:
            if isinstance(error, GeneratorExit):
                for interceptor in reversed(interceptors):
                    interceptor.on_end()
                raise
            self._fail(interceptors, error)
            raise
        for interceptor in reversed(interceptors):
            interceptor.on_end()

    def _close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"<ManagedModel {self.alias!r} provider={self._info.provider!r} id={self._info.id!r}>"
