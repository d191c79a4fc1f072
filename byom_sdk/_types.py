"""The contract's data types: immutable pydantic models shared by every provider.

Requests, responses, stream events, embeddings, usage, capabilities and the boundary
description are the same for SageMaker, Vertex and local ONNX models; a plugin returns
these and an application receives them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._errors import InvalidValue

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
    "StructuredMode",
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
StructuredMode = Literal["native", "constrained", "emulated"]
RegionSource = Literal["destination", "trusted_endpoint", "declared", "process"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    if not TYPE_CHECKING:  # type checkers keep the fields' signature pydantic derives

        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as exc:
                raise _invalid(type(self).__name__, exc) from None

        # Marked as pydantic's own: validation (model_validate, nested models) then builds
        # instances without calling it, and reports pydantic's errors as before.
        __init__.__pydantic_base_init__ = True

        def __setattr__(self, name: str, value: Any) -> None:
            try:
                super().__setattr__(name, value)
            except ValidationError as exc:
                raise _invalid(type(self).__name__, exc) from None


def _invalid(kind: str, error: ValidationError) -> InvalidValue:
    """The SDK's error for a contract type built (or assigned) with an invalid field."""
    from ._validation import describe_validation_error

    field, message = describe_validation_error(error, prefix=kind)
    if any(item["type"] == "frozen_instance" for item in error.errors()):
        message += f" ({kind} is immutable: build a changed copy with model_copy(update={{...}}))"
    errors = tuple(part for part in message.split("; "))
    return InvalidValue(f"invalid {kind}: {message}", field=field or kind, errors=errors)


def _valid_text(value: str) -> str:
    """Refuse text that cannot leave the process: lone surrogates cannot be encoded as
    UTF-8 (every wire format needs it) and NUL truncates C-string based servers."""
    if "\x00" in value:
        raise ValueError(f"contains a NUL character at index {value.index(chr(0))}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"contains a lone surrogate U+{ord(value[exc.start]):04X} at index {exc.start}; "
                "text must be valid Unicode"
            ) from None
    return value


#: ``str`` that every wire format can carry (valid Unicode, no NUL).
Text = Annotated[str, AfterValidator(_valid_text)]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD. A model's answer is not the
    caller's input to refuse: a server may send ``"\\ud800"`` in valid JSON, and the text
    must still be hashed, audited, masked and served (all need UTF-8)."""
    if text.isascii():
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


class ToolCall(_Frozen):
    """A tool call the model asked for; ``arguments`` is the JSON text the model produced."""

    id: Text
    name: Text
    arguments: Text = "{}"


class Message(_Frozen):
    """One chat message."""

    role: Role
    content: Text = ""
    name: Text | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: Text | None = None


MessageInput = Union[str, Sequence[Union[Message, Mapping[str, Any]]]]


class RequestMetadata(_Frozen):
    """Who the call is for; carried to the trust layer and into the audit record.

    ``conversation_id`` scopes the masking vault: the same value gets the same placeholder
    across every message of one conversation.
    """

    tenant: Text | None = None
    user: Text | None = None
    conversation_id: Text | None = None
    request_id: Text | None = None
    tags: dict[Text, Text] = Field(default_factory=dict)


def _tool_name(tool: Mapping[str, Any]) -> str | None:
    """The function name of an OpenAI tool definition or named ``tool_choice`` (also the
    flat ``{"name": ...}`` form), or None."""
    function = tool.get("function", tool)
    name = function.get("name") if isinstance(function, Mapping) else None
    return name if isinstance(name, str) and name else None


class GenerateRequest(_Frozen):
    """A text-generation request: either ``prompt`` or ``messages``, never both.

    ``extra`` is passed through to the provider untouched (e.g. container-specific
    parameters); ``tools`` are JSON-schema tool definitions in the OpenAI shape and
    ``tool_choice`` OpenAI's (``"auto"``, ``"none"``, ``"required"`` or
    ``{"type": "function", "function": {"name": ...}}``); ``response_format`` asks for
    output that follows a JSON schema, in OpenAI's shape (``{"type": "json_schema",
    "json_schema": {"name", "schema", "strict"}}`` or ``{"type": "json_object"}``).
    """

    prompt: Text | None = None
    messages: tuple[Message, ...] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=5.0, allow_inf_nan=False)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    top_k: int | None = Field(default=None, ge=0)
    stop: tuple[Text, ...] = ()
    seed: int | None = None
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
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

    @field_validator("tools")
    @classmethod
    def _named_tools(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        for index, tool in enumerate(value):
            if not _tool_name(tool):
                raise ValueError(
                    f"tools[{index}] has no function name (give {{'type': 'function', 'function': {{'name': ...}}}})"
                )
        return value

    @field_validator("tool_choice")
    @classmethod
    def _known_tool_choice(
        cls, value: str | dict[str, Any] | None, info: ValidationInfo
    ) -> str | dict[str, Any] | None:
        if isinstance(value, str) and value not in ("auto", "none", "required"):
            raise ValueError(f"must be 'auto', 'none', 'required' or a tool object, got {value!r}")
        names = [_tool_name(tool) for tool in info.data.get("tools", ())]
        if value == "required" and not names:
            raise ValueError("'required' needs tools to call")
        if isinstance(value, Mapping):
            wanted = _tool_name(value)
            if wanted not in names:
                offered = ", ".join(repr(n) for n in names) or "none"
                raise ValueError(f"names tool {wanted!r}, which tools does not offer (offered: {offered})")
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
    """The result of ``generate``. ``raw`` holds the provider body for debugging only.

    ``parsed`` is the validated object when the request asked for a ``response_format``
    (an instance of the pydantic model given, or the decoded JSON for a schema).
    """

    text: str
    finish_reason: FinishReason
    usage: Usage
    model: str
    latency_ms: float = Field(default=0.0, ge=0.0)
    tool_calls: tuple[ToolCall, ...] = ()
    parsed: Any = None
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

    texts: tuple[Text, ...] = Field(min_length=1)
    # Strict: "yes", "no", 0 or "false" from a batch file or a form would be read as a bool.
    normalize: StrictBool | None = None
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
    ``tools_mode`` and ``structured_output`` say how tool calls and schema-following output
    are obtained: ``native`` (the server's own mechanism), ``constrained`` (decoding
    constrained by a grammar) or, when the model declares nothing, ``emulated`` by the SDK
    (instructions in the prompt, validation, one repair round).
    """

    generate: bool = False
    chat: bool = False
    stream: bool = False
    embed: bool = False
    tools: bool = False
    tools_mode: StructuredMode | None = None
    structured_output: StructuredMode | None = None
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

    The residency facts come from the destination, not from configuration: ``host`` is the
    ``host[:port]`` the client will connect to (filled from ``endpoint`` when a plugin gives
    only that), and the gate derives the region, cloud and location kind of any
    non-loopback host itself. ``region`` is the region the plugin was configured for; the
    gate refuses a call whose host contradicts it. ``endpoint`` never carries URL userinfo,
    query values or fragments (they are redacted on construction).

    :param host: the resolved destination ``host[:port]``; ``None`` for in-process models.
    :param cloud: ``aws``, ``gcp`` or ``azure`` when the host is a known cloud endpoint.
    :param region_source: where ``region`` came from: ``destination`` (parsed from the
        host), ``trusted_endpoint`` (a policy entry names the host), ``declared``
        (configuration only: no host to derive it from, or a loopback host) or ``process``.
        Informational: the gate derives it again and never trusts this field.
    :param signing_region: the region requests are signed for (AWS SigV4 scope), when the
        protocol signs per region; a host in another region is refused.
    """

    provider: str
    location_kind: LocationKind
    region: str | None = None
    network_path: str = "unknown"
    endpoint: str | None = None
    tls: bool | None = None
    retention: str | None = None
    attestations: tuple[Attestation, ...] = ()
    host: str | None = None
    cloud: Literal["aws", "gcp", "azure"] | None = None
    region_source: RegionSource | None = None
    signing_region: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _destination(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        from .trust._residency._hosts import host_of, redact_url, unparseable_host

        values = dict(data)
        endpoint = values.get("endpoint")
        if isinstance(endpoint, str):
            values["endpoint"] = redact_url(endpoint)
            if values.get("host") is None:
                values["host"] = host_of(endpoint) or unparseable_host(endpoint)
        host = values.get("host")
        if isinstance(host, str):
            # A host given as a URL or with userinfo is normalised; one that cannot be
            # parsed is kept redacted and marked, so the gate refuses it by name (its
            # redacted form alone might parse, as another host than the client's).
            values["host"] = host_of(host) or unparseable_host(host)
        if values.get("region_source") is None:
            in_process = values.get("location_kind") == "process" and values.get("host") is None
            values["region_source"] = "process" if in_process else "declared"
        return values

    def attestation(self, name: str) -> Attestation | None:
        """The attestation called ``name``, if the plugin recorded one."""
        for item in self.attestations:
            if item.name == name:
                return item
        return None


class ModelInfo(_Frozen):
    """Identity, capabilities and boundary of a model.

    ``version`` names the exact version that serves the calls, when the provider pins one
    (a SageMaker production variant or inference component, a Vertex deployed model id, a
    model name, an ONNX file hash); every audit record carries it.
    """

    id: str
    provider: str
    capabilities: Capabilities
    boundary: Boundary
    embedding_dimension: int | None = Field(default=None, ge=1)
    embedding_normalized: bool = False
    description: str = ""
    version: str | None = None
