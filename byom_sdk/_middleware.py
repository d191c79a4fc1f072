"""Steps of the call pipeline: a :class:`Middleware` opens one :class:`Interceptor` per call.

Every concern of a call — telemetry, audit, the residency gate, plugin middleware,
scoring, masking, the tokenizer's context check — is a middleware, composed once when
the Client builds a model; per call each opens a fresh interceptor, so per-call state (a
stream's holdback buffer, a timer) never leaks between calls and no pluggy dispatch
happens per call or per token. A plugin's ``byom_middleware`` hook adds its own through
:class:`~byom_sdk.MiddlewareSpec`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from ._types import EmbedRequest, EmbedResponse, GenerateRequest, GenerateResponse, ModelInfo, StreamEvent

__all__ = ["CallContext", "Interceptor", "Middleware", "Operation"]

Operation = Literal["generate", "stream", "embed"]


@dataclass
class CallContext:
    """What the steps of one call share.

    :param alias: the name the application asked the Client for.
    :param info: the provider's ``info`` when the call started (read live per call).
    :param operation: ``generate``, ``stream`` or ``embed``.
    :param attempts: provider attempts made so far (kept by the retry loop).
    :param sent: whether a request was handed to the provider (nothing left before).
    :param received: stream events received from the provider so far.
    :param state: per-call state shared between cooperating steps (the trust steps keep
        their record here), keyed by the owning module's name.
    """

    alias: str
    info: ModelInfo
    operation: Operation
    #: 128 random bits as 32 hex digits, like ``uuid4().hex`` at a quarter of its cost (no
    #: UUID object per call).
    request_id: str = field(default_factory=lambda: os.urandom(16).hex())
    started: float = field(default_factory=time.perf_counter)
    attempts: int = 0
    sent: bool = False
    received: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    #: every opened step allows its hooks on a worker thread (``Interceptor.any_thread``).
    any_thread: bool = False

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


class Interceptor:
    """Per-call hooks, all optional; the defaults pass everything through unchanged.

    Order: ``on_request`` (or ``on_embed_request``) in pipeline order → ``on_send`` in
    pipeline order, once, before the first attempt reaches the provider → ``on_event``
    per stream event, or ``on_response`` / ``on_embed_response``, in reverse order →
    ``on_end`` in reverse order. ``on_error`` is called instead of the response hooks when
    the call fails (also when another step refused it, or a later step's ``on_end``
    failed); ``on_end`` is always called exactly once. An ``on_error`` may rewrite the
    error's message and details in place (the masking step restores placeholders there).

    Set ``blocking = True`` when ``on_send`` / ``on_end`` do blocking I/O (the audit step
    writes to disk): async callers then run them in a worker thread, off the event loop.
    The other hooks of an async call run on the event loop, in the caller's task — unless
    every step of the call sets ``any_thread = True`` (the built-in steps do: their hooks
    use neither the loop nor context variables), which lets one worker thread carry the
    call from its audit's intent to its outcome, one hop instead of one per blocking step.
    """

    blocking: ClassVar[bool] = False
    any_thread: ClassVar[bool] = False

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        return request

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        return request

    def on_send(self) -> None:
        return None

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
