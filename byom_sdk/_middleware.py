"""Middleware: ordered per-call interceptors composed once per model.

A plugin's ``byom_middleware`` hook returns :class:`MiddlewareSpec` objects whose factory
is called once when the Client builds a model. The resulting :class:`Middleware` opens a
fresh :class:`Interceptor` for every call, so per-call state (a stream's holdback buffer,
a timer) never leaks between calls, and no pluggy dispatch happens per call or per token.
The trust pipeline is built on the same interface.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from ._types import EmbedRequest, EmbedResponse, GenerateRequest, GenerateResponse, ModelInfo, StreamEvent

__all__ = ["CallContext", "Interceptor", "Middleware"]

Operation = Literal["generate", "stream", "embed"]


@dataclass
class CallContext:
    """What an interceptor knows about the call it is part of."""

    alias: str
    info: ModelInfo
    operation: Operation
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)
    #: retry attempts made so far (updated by the retry policy).
    attempts: int = 0

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


class Interceptor:
    """Per-call hooks, all optional; the defaults pass everything through unchanged.

    Order: ``on_request`` (or ``on_embed_request``) → provider call → ``on_event`` per
    stream event, or ``on_response`` / ``on_embed_response`` → ``on_end``. ``on_error`` is
    called instead of the response hooks when the call fails (also when another
    interceptor refused it); ``on_end`` is always called exactly once.
    """

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        return request

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        return request

    def on_response(self, response: GenerateResponse) -> GenerateResponse:
        return response

    def on_embed_response(self, response: EmbedResponse) -> EmbedResponse:
        return response

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        """Return the events to pass on: none (hold back), this one, or several."""
        return (event,)

    def on_error(self, error: BaseException) -> None:
        return None

    def on_end(self) -> None:
        return None


@runtime_checkable
class Middleware(Protocol):
    """Opens one :class:`Interceptor` per call, or ``None`` to stay out of that call."""

    def open(self, call: CallContext) -> Interceptor | None: ...
