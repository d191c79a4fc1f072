"""What a model conformance class needs from its author, and helpers the checks share."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from ..._types import (
    EmbedRequest,
    FinishEvent,
    GenerateRequest,
    Message,
    TextDelta,
    ToolCallEvent,
    Usage,
    UsageEvent,
)
from ._core import NEW_FAULTS, Conformance

if TYPE_CHECKING:
    from ..._provider import Provider
    from ..._tokenizer import Tokenizer

__all__ = ["ModelSubject", "Operation", "StreamResult", "collect", "collect_async", "vectors_close"]

#: one call of the contract on a given model, run to completion (streams drained).
Operation = Callable[["Provider"], object]


@dataclass
class StreamResult:
    """A drained stream: the joined text and what arrived besides text."""

    events: list[object] = field(default_factory=list)
    text: str = ""
    finishes: list[FinishEvent] = field(default_factory=list)
    usage: Usage | None = None
    tool_calls: list[ToolCallEvent] = field(default_factory=list)
    foreign: list[object] = field(default_factory=list)

    def add(self, event: object) -> None:
        self.events.append(event)
        if isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, FinishEvent):
            self.finishes.append(event)
            if event.usage is not None:
                self.usage = event.usage
        elif isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, ToolCallEvent):
            self.tool_calls.append(event)
        else:
            self.foreign.append(event)

    @property
    def finish_reason(self) -> str | None:
        return self.finishes[-1].finish_reason if self.finishes else None


def collect(events: Iterable[object]) -> StreamResult:
    result = StreamResult()
    for event in events:
        result.add(event)
    return result


async def collect_async(events: AsyncIterator[object]) -> StreamResult:
    result = StreamResult()
    async for event in events:
        result.add(event)
    return result


def vectors_close(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], tol: float) -> bool:
    if len(a) != len(b):
        return False
    for va, vb in zip(a, b, strict=True):
        if len(va) != len(vb) or any(not math.isclose(x, y, abs_tol=tol) for x, y in zip(va, vb, strict=True)):
            return False
    return True


class ModelSubject(Conformance):
    """The author's side of :class:`ModelConformance`: factories, scenarios and inputs.

    Required: :meth:`make_model`. Optional scenarios, each enabling checks that are
    otherwise skipped with a reason: :meth:`make_faulty_model` (``errors.*``),
    :meth:`make_slow_model` (``timeout.request``, ``concurrency.parallel``,
    ``concurrency.async_parallel``, ``generate.latency``, and ``stream.incremental`` for fast
    models), :meth:`tool_request` (``tools.call``, required when ``tools`` is declared),
    :meth:`make_unreachable_model` (``errors.unavailable`` on a refused connection),
    :meth:`make_broken_stream_model` (``errors.mid_stream``), :meth:`fault_requests`
    (the ``errors.*`` checks then also catch a provider that retries on its own) and
    :meth:`received_requests` (``wire.*`` over protocols the suite cannot read off the
    sockets).

    :cvar prompts: distinct prompts; the first is the reference prompt. Each should make
        the model produce more than ``max_tokens`` tokens so that cutting is observable.
    :cvar max_tokens: length of reference generations (keep small for slow models).
    :cvar embed_texts: distinct texts for embedding checks.
    :cvar usage_tolerance: tokens of slack when comparing ``usage`` with a tokenizer count
        (special tokens, re-tokenisation of the decoded text).
    :cvar server_usage_tolerance: relative slack (on top of ``usage_tolerance``) when
        comparing ``source="server"`` usage with the model's tokenizer: the server may
        render the chat template or count special tokens differently.
    :cvar slow_seconds: how long the :meth:`make_slow_model` scenario stalls.
    :cvar throttled_retry_after: the ``Retry-After`` (seconds) the ``throttled`` fault
        scenario sends; ``errors.retry_after`` checks it arrives in ``Throttled.retry_after``.
        ``None``: the scenario sends none (the check is skipped with that reason).
    :cvar request_extra: a nested ``extra`` sent by ``request.unchanged`` to catch plugins
        that mutate the caller's dicts. A provider may refuse unknown keys with
        ``BadRequest``; the check then repeats with an empty ``extra``.
    :cvar max_loop_lag: seconds an event loop may stall during an async call
        (``async.event_loop``).
    :cvar unicode_prompt: a prompt with non-ASCII text (accents, CJK, an emoji) for
        ``stream.matches_generate``: a stream that decodes each token's bytes on its own
        breaks characters split across tokens.
    :cvar embed_batch_size: the size of the large batch ``embed.batch`` sends.
    """

    prompts: ClassVar[tuple[str, ...]] = (
        "Count from one to twenty in words, separated by spaces.",
        "Name the colours of the rainbow, one per word.",
        "Write one sentence about the sea and the wind.",
        "List ten fruits, separated by commas.",
    )
    max_tokens: ClassVar[int] = 16
    embed_texts: ClassVar[tuple[str, ...]] = (
        "The cat sat on the mat.",
        "Quarterly revenue grew by four percent.",
        "Zürich liegt in der Schweiz ✓",
    )
    usage_tolerance: ClassVar[int] = 2
    server_usage_tolerance: ClassVar[float] = 0.15
    slow_seconds: ClassVar[float] = 1.0
    throttled_retry_after: ClassVar[float | None] = None
    request_extra: ClassVar[Mapping[str, Any]] = {"byom_conformance": {"probe": ["nested"], "depth": {"n": 1}}}
    max_loop_lag: ClassVar[float] = 0.2
    unicode_prompt: ClassVar[str] = "Repeat after me: Zürich, naïve café, 東京, emoji 🎉 — done."
    embed_batch_size: ClassVar[int] = 64

    def make_model(self) -> Provider:
        """Build a fresh provider of the plugin under test (required).

        Its greedy output must depend only on the request (no scripted reply queues), so
        results can be compared across calls, threads and event loops. Return the plugin's
        own provider, not ``Client.model(...)``: the managed wrapper retries and wraps
        foreign exceptions, which would hide exactly the defects the suite looks for.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement make_model(self) -> Provider")

    def make_faulty_model(self, fault: str) -> Provider | None:
        """A fresh provider whose calls fail with ``fault``, or ``None`` if the plugin has no
        way to provoke it (the ``errors.<fault>`` check is then skipped with that reason).

        ``fault`` is one of :data:`FAULTS`: ``"throttled"`` (HTTP 429 / quota; send
        ``Retry-After`` and declare it in ``throttled_retry_after``), ``"unavailable"`` (503
        / connection refused), ``"bad_request"`` (400 / 422), ``"timeout"`` (a read
        timeout), ``"model_error"`` (the model container failed) and ``"auth"`` (401 / 403).
        Typically a provider pointed at a local server scenario.
        """
        return None

    def make_slow_model(self) -> Provider | None:
        """A fresh provider whose endpoint stalls ``slow_seconds`` before the first byte of
        every answer and, when streaming, stalls ``slow_seconds`` again after the first
        event — or ``None`` (``timeout.request``, ``concurrency.parallel``,
        ``concurrency.async_parallel`` and ``generate.latency`` are then skipped).

        ``timeout.request`` sends requests with ``timeout`` well under ``slow_seconds``
        and expects ``Timeout`` from every operation in about that time. The configured
        (default) timeout of this provider must be longer than ``slow_seconds``.
        """
        return None

    def tool_request(self, model: Provider) -> GenerateRequest | None:
        """A request (with ``tools``) that makes the model under test call a tool — or
        ``None``. Required when the model declares ``tools``: ``tools.call`` fails without
        it, since a declared capability must be exercised."""
        return None

    def make_unreachable_model(self) -> Provider | None:
        """A fresh provider pointed at an endpoint where nothing listens (connection
        refused) — or ``None``. ``errors.unavailable`` expects ``Unavailable``
        (``retryable=True``) from every operation: an endpoint that is restarting is an
        outage, never a ``BadRequest`` ("check your URL"). Give it a short timeout.
        """
        return None

    def make_broken_stream_model(self) -> Provider | None:
        """A fresh provider whose streams break after the first event — the endpoint sends
        one chunk, then drops the connection (or sends the provider's in-stream error
        event) — or ``None``. ``errors.mid_stream`` expects a core error (``ByomError``)
        from ``stream`` and ``astream``, never a raw client exception or a normal end.
        """
        return None

    def fault_requests(self, fault: str) -> int | None:
        """How many generate / embed requests the ``fault`` scenario of
        :meth:`make_faulty_model` has received so far — or ``None`` when the harness
        cannot count them. With it, every ``errors.*`` check also requires that one call
        reaches the endpoint once: retrying is the SDK's ``RetryPolicy``'s job, and a
        provider that retries on its own multiplies every retry of the policy.
        """
        return None

    def received_requests(self) -> Sequence[object] | None:
        """Every generate and embed request body the endpoint behind :meth:`make_model` has
        received so far, oldest first — or ``None`` (the default): the ``wire.*`` checks
        then read the HTTP/1.1 requests the provider sends off this process's sockets, and
        skip when there are none (gRPC, HTTP/2, an in-process model).

        A body is the parsed JSON (a dict or list), or its text or bytes; other formats are
        searched as text (decode protobuf with ``MessageToDict`` first). With it the suite
        looks at what actually left the plugin: every message verbatim under its own role,
        the sampling parameters and ``extra`` sent, the caller's identity (``metadata``) not
        sent, one request per call. A loopback server usually logs its requests already.
        """
        return None

    def make_tokenizer(self) -> Tokenizer | None:
        """The tokenizer whose counts ``usage`` must match (``usage.*``) and that the
        ``tokenizer.*`` checks examine. Defaults to the model's own ``tokenizer``.
        """
        return None

    # -- helpers for the checks -----------------------------------------------------------

    def request_for(self, model: Provider, prompt: str, **fields: Any) -> GenerateRequest:
        """A greedy request in the form the model declares (messages for chat models)."""
        caps = model.info.capabilities
        fields.setdefault("temperature", 0.0)
        if caps.chat or not caps.generate:
            return GenerateRequest(messages=(Message(role="user", content=prompt),), **fields)
        return GenerateRequest(prompt=prompt, **fields)

    def reference(self, model: Provider, *, prompt: str | None = None, **fields: Any) -> GenerateRequest:
        fields.setdefault("max_tokens", self.max_tokens)
        return self.request_for(model, prompt or self.prompts[0], **fields)

    def embed_request(self, **fields: Any) -> EmbedRequest:
        return EmbedRequest(texts=tuple(self.embed_texts), **fields)

    def tokenizer_for(self, model: Provider) -> Tokenizer | None:
        return self.make_tokenizer() or model.tokenizer

    def prompt_text(self, model: Provider, request: GenerateRequest) -> str:
        """The text the model actually reads: the prompt, or the rendered chat."""
        if request.prompt is not None:
            return request.prompt
        tokenizer = self.tokenizer_for(model)
        if tokenizer is None:
            return "\n".join(m.content for m in request.as_messages())
        return tokenizer.apply_chat_template(request.as_messages(), add_generation_prompt=True)

    def faulty(self, fault: str) -> Provider | None:
        """``make_faulty_model(fault)``, treating a subject written for suite 1.0 that does
        not know a newer fault as not offering it."""
        try:
            return self.make_faulty_model(fault)
        except (KeyError, ValueError, NotImplementedError) as exc:
            if fault in NEW_FAULTS:
                return None
            raise AssertionError(f"make_faulty_model({fault!r}) raised {type(exc).__name__}: {exc}") from exc

    def operations(
        self,
        model: Provider,
        *,
        request: Callable[[Provider], GenerateRequest] | None = None,
        embed: Callable[[], EmbedRequest] | None = None,
    ) -> dict[str, Operation]:
        """Every declared operation, sync and async, unary and streaming, as a callable that
        runs it to the end on the model it is given (streams drained)."""
        caps = model.info.capabilities
        build = request or (lambda m: self.reference(m))
        build_embed = embed or self.embed_request
        ops: dict[str, Operation] = {}
        if caps.generate or caps.chat:
            ops["generate"] = lambda m: m.generate(build(m))
            ops["agenerate"] = lambda m: asyncio.run(m.agenerate(build(m)))
            if caps.stream:
                ops["stream"] = lambda m: collect(m.stream(build(m)))
                ops["astream"] = lambda m: asyncio.run(collect_async(m.astream(build(m))))
        if caps.embed:
            ops["embed"] = lambda m: m.embed(build_embed())
            ops["aembed"] = lambda m: asyncio.run(m.aembed(build_embed()))
        return ops

    def skip_without(self, model: Provider | None, what: str, hook: str) -> Provider:
        if model is None:
            pytest.skip(f"{type(self).__name__}.{hook} offers no {what}")
        return model
