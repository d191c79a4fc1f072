"""What a model conformance class needs from its author, and helpers the checks share."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..._types import (
    FinishEvent,
    GenerateRequest,
    Message,
    TextDelta,
    ToolCallEvent,
    Usage,
    UsageEvent,
)
from ._core import Conformance

if TYPE_CHECKING:
    from ..._model import Model
    from ..._tokenizer import Tokenizer

__all__ = ["ModelSubject", "StreamResult", "collect", "collect_async", "vectors_close"]


@dataclass
class StreamResult:
    """A drained stream: the joined text and what arrived besides text."""

    events: list[object] = field(default_factory=list)
    text: str = ""
    finishes: list[FinishEvent] = field(default_factory=list)
    usage: Usage | None = None
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
        elif not isinstance(event, ToolCallEvent):
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
    """The author's side of :class:`ModelConformance`: factories and inputs.

    :cvar prompts: distinct prompts; the first is the reference prompt. Each should make
        the model produce more than ``max_tokens`` tokens so that cutting is observable.
    :cvar max_tokens: length of reference generations (keep small for slow models).
    :cvar embed_texts: distinct texts for embedding checks.
    :cvar usage_tolerance: tokens of slack when comparing ``usage`` with a tokenizer count
        (special tokens, re-tokenisation of the decoded text).
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

    def make_model(self) -> Model:
        """Build a fresh model of the plugin under test (required).

        Its greedy output must depend only on the request (no scripted reply queues), so
        results can be compared across calls, threads and event loops. Return the plugin's
        own model, not ``Client.model(...)``: the managed wrapper retries and wraps foreign
        exceptions, which would hide exactly the defects the suite looks for.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement make_model(self) -> Model")

    def make_faulty_model(self, fault: str) -> Model | None:
        """A fresh model whose calls fail with ``fault``, or ``None`` if the plugin has no way
        to provoke it (the ``errors.<fault>`` check is then skipped with that reason).

        ``fault`` is one of :data:`FAULTS`: ``"throttled"`` (HTTP 429 / quota),
        ``"unavailable"`` (503 / connection refused), ``"bad_request"`` (400 / 422),
        ``"timeout"`` (a read timeout) and ``"model_error"`` (the model container failed).
        Typically a model pointed at a local server scenario.
        """
        return None

    def make_tokenizer(self) -> Tokenizer | None:
        """The tokenizer whose counts ``usage.source == "tokenizer"`` must match.

        Defaults to the model's own ``tokenizer``.
        """
        return None

    # -- helpers for the checks -----------------------------------------------------------

    def request_for(self, model: Model, prompt: str, **fields: Any) -> GenerateRequest:
        """A greedy request in the form the model declares (messages for chat models)."""
        caps = model.info.capabilities
        fields.setdefault("temperature", 0.0)
        if caps.chat or not caps.generate:
            return GenerateRequest(messages=(Message(role="user", content=prompt),), **fields)
        return GenerateRequest(prompt=prompt, **fields)

    def reference(self, model: Model, *, prompt: str | None = None, **fields: Any) -> GenerateRequest:
        fields.setdefault("max_tokens", self.max_tokens)
        return self.request_for(model, prompt or self.prompts[0], **fields)

    def tokenizer_for(self, model: Model) -> Tokenizer | None:
        return self.make_tokenizer() or model.tokenizer

    def prompt_text(self, model: Model, request: GenerateRequest) -> str:
        """The text the model actually reads: the prompt, or the rendered chat."""
        if request.prompt is not None:
            return request.prompt
        tokenizer = self.tokenizer_for(model)
        if tokenizer is None:
            return "\n".join(m.content for m in request.as_messages())
        return tokenizer.apply_chat_template(request.as_messages(), add_generation_prompt=True)
