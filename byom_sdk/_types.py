"""The contract's data types: immutable pydantic models shared by every provider.

Requests, responses, stream events, embeddings, usage, capabilities and the boundary
description are the same for SageMaker, Vertex and local ONNX models; a plugin returns
these and an application receives them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Attestation",
    "Boundary",
    "Capabilities",
    "EmbedRequest",
    "EmbedResponse",
    "FinishEvent",
    "FinishReason",
    "GenerateRequest",
    "GenerateResponse",
    "LocationKind",
    "Message",
    "MessageInput",
    "ModelInfo",
    "RequestMetadata",
    "Role",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolCallEvent",
    "Usage",
    "UsageEvent",
    "UsageSource",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "content_filter", "tool_calls", "error"]
UsageSource = Literal["server", "tokenizer", "estimate"]
LocationKind = Literal["process", "customer-cloud", "third-party"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ToolCall(_Frozen):
    """A tool call the model asked for; ``arguments`` is the JSON text the model produced."""

    id: str
    name: str
    arguments: str = "{}"


class Message(_Frozen):
    """One chat message."""

    role: Role
    content: str = ""
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


MessageInput = Union[str, Sequence[Union[Message, Mapping[str, Any]]]]


class RequestMetadata(_Frozen):
    """Who the call is for; carried to the trust layer and into the audit record.

    ``conversation_id`` scopes the masking vault: the same value gets the same placeholder
    across every message of one conversation.
    """

    tenant: str | None = None
    user: str | None = None
    conversation_id: str | None = None
    request_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class GenerateRequest(_Frozen):
    """A text-generation request: either ``prompt`` or ``messages``, never both.

    ``extra`` is passed through to the provider untouched (e.g. container-specific
    parameters); ``tools`` are JSON-schema tool definitions in the OpenAI shape.
    """

    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    stop: tuple[str, ...] = ()
    seed: int | None = None
    tools: tuple[dict[str, Any], ...] = ()
    metadata: RequestMetadata = Field(default_factory=RequestMetadata)
    extra: dict[str, Any] = Field(default_factory=dict)
    #: seconds left for this attempt; set by the retry policy from its deadline.
    timeout: float | None = Field(default=None, gt=0.0)

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(s == "" for s in value):
            raise ValueError("stop strings must be non-empty")
        return value

    @model_validator(mode="after")
    def _prompt_xor_messages(self) -> GenerateRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' must not be empty")
        return self

    @property
    def is_greedy(self) -> bool:
        """True when the request asks for deterministic (temperature 0) decoding."""
        return self.temperature == 0.0

    def as_messages(self) -> tuple[Message, ...]:
        """The request as chat messages (a prompt becomes one user message)."""
        if self.messages is not None:
            return self.messages
        return (Message(role="user", content=self.prompt or ""),)


class Usage(_Frozen):
    """Token usage and where the numbers came from.

    ``server``: reported by the endpoint; ``tokenizer``: counted with the model's real
    tokenizer; ``estimate``: a character-based guess (never silently a foreign tokenizer).
    """

    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    source: UsageSource

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def estimate(cls, prompt: str, completion: str) -> Usage:
        """A rough 4-characters-per-token estimate, tagged ``source="estimate"``."""
        return cls(
            input_tokens=math.ceil(len(prompt) / 4),
            output_tokens=math.ceil(len(completion) / 4),
            source="estimate",
        )


class GenerateResponse(_Frozen):
    """The result of ``generate``. ``raw`` holds the provider body for debugging only."""

    text: str
    finish_reason: FinishReason
    usage: Usage
    model: str
    latency_ms: float = Field(default=0.0, ge=0.0)
    tool_calls: tuple[ToolCall, ...] = ()
    raw: Any = Field(default=None, repr=False, exclude=True)


class TextDelta(_Frozen):
    """A piece of generated text. Concatenated deltas equal the non-streamed text."""

    type: Literal["text"] = "text"
    text: str


class ToolCallEvent(_Frozen):
    """A complete tool call produced during a stream."""

    type: Literal["tool_call"] = "tool_call"
    tool_call: ToolCall


class UsageEvent(_Frozen):
    """Token usage, usually sent once near the end of a stream."""

    type: Literal["usage"] = "usage"
    usage: Usage


class FinishEvent(_Frozen):
    """The last event of every stream."""

    type: Literal["finish"] = "finish"
    finish_reason: FinishReason
    usage: Usage | None = None


StreamEvent = Annotated[Union[TextDelta, ToolCallEvent, UsageEvent, FinishEvent], Field(discriminator="type")]


class EmbedRequest(_Frozen):
    """Texts to embed; ``normalize`` asks for unit-length vectors where the model can."""

    texts: tuple[str, ...] = Field(min_length=1)
    normalize: bool | None = None
    metadata: RequestMetadata = Field(default_factory=RequestMetadata)
    extra: dict[str, Any] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0.0)


class EmbedResponse(_Frozen):
    """One vector per input text, in input order."""

    vectors: tuple[tuple[float, ...], ...]
    model: str
    normalized: bool = False
    usage: Usage | None = None
    latency_ms: float = Field(default=0.0, ge=0.0)
    raw: Any = Field(default=None, repr=False, exclude=True)

    @property
    def dimension(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0


class Capabilities(_Frozen):
    """What a model can do, declared by the model at runtime.

    Calling a capability that is not declared raises ``CapabilityNotSupported``.
    """

    generate: bool = False
    chat: bool = False
    stream: bool = False
    embed: bool = False
    tools: bool = False
    async_native: bool = False
    stop_sequences: bool = True
    seed: bool = False
    max_context: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)


class Attestation(_Frozen):
    """A fact about the boundary the plugin verified (e.g. read back from a control plane).

    ``value`` is what was found; ``ok`` says whether it is the privacy-preserving state
    (data capture off, logging off, network isolation on…).
    """

    name: str
    value: str
    ok: bool
    source: str


class Boundary(_Frozen):
    """Where a model's data goes: checked by the trust policy before any byte leaves.

    ``retention`` is what the provider keeps of prompts and responses: ``"none"`` only when
    the plugin knows it (in-process, or verified capture/logging off); ``None`` means unknown.
    """

    provider: str
    location_kind: LocationKind
    region: str | None = None
    network_path: str = "unknown"
    endpoint: str | None = None
    tls: bool | None = None
    retention: str | None = None
    attestations: tuple[Attestation, ...] = ()

    def attestation(self, name: str) -> Attestation | None:
        """The attestation called ``name``, if the plugin recorded one."""
        for item in self.attestations:
            if item.name == name:
                return item
        return None


class ModelInfo(_Frozen):
    """Identity, capabilities and boundary of a model."""

    id: str
    provider: str
    capabilities: Capabilities
    boundary: Boundary
    embedding_dimension: int | None = Field(default=None, ge=1)
    embedding_normalized: bool = False
    description: str = ""
