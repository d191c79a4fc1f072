"""The codec interface and the helpers every protocol shares — each implemented once.

A :class:`Codec` knows one container's JSON format: how a request becomes a body, how a
body becomes a response, how one stream record becomes a :class:`Chunk`. It never does
I/O and never sees bytes framing, so the same codec runs over boto3 (SageMaker), GAPIC
(Vertex) and plain HTTP, sync and async. The helpers here are the single place for what
used to be written per plugin: the finish-reason table, the sampling-parameter mapping,
reading usage, reading container error objects, and reading embedding vectors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .._types import (
    EmbedRequest,
    FinishReason,
    GenerateRequest,
    StructuredMode,
    ToolCall,
    Usage,
)

__all__ = [
    "Chunk",
    "Codec",
    "ContainerError",
    "Decoded",
    "Embedded",
    "ToolDelta",
    "container_error",
    "embedded",
    "finish_reason",
    "parse_vectors",
    "prompt_text",
    "read_usage",
    "sampling",
    "usage_from",
]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",  # TGI
    "eos_token": "stop",  # TGI, LMI, older vLLM
    "stop_sequence": "stop",  # TGI
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "max_new_tokens": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "error": "error",
    "abort": "error",  # vLLM: the request was aborted, the text is partial
}


def finish_reason(value: Any, default: FinishReason | None = None) -> FinishReason | None:
    """A container's finish reason (TGI, LMI, vLLM, OpenAI spellings) in the contract's
    words; an unknown non-empty reason counts as a normal stop, a missing one as ``default``."""
    if not isinstance(value, str) or not value:
        return default
    return _FINISH.get(value.lower(), "stop")


class ContainerError(RuntimeError):
    """The container answered (HTTP 200, or inside a stream) with an error object (kept in
    ``body``, which decides the byom error it becomes)."""

    def __init__(self, message: str, *, body: Any = None) -> None:
        super().__init__(message)
        self.body = body


def container_error(value: Any) -> str | None:
    """The message of a TGI / LMI / OpenAI / FastAPI error object, if ``value`` is one."""
    if not isinstance(value, Mapping):
        return None
    if value.get("error"):
        error = value["error"]
        if isinstance(error, Mapping):
            return str(error.get("message") or error)
        kind = value.get("error_type") or value.get("code")
        return f"{error} ({kind})" if kind else str(error)
    if value.get("object") == "error":  # vLLM's unwrapped ErrorResponse
        kind = value.get("type") or value.get("code")
        message = str(value.get("message") or "error")
        return f"{message} ({kind})" if kind else message
    return None


def usage_from(input_tokens: Any, output_tokens: Any) -> Usage | None:
    """Server usage when both counts are integers, else ``None`` (never a guess)."""
    if isinstance(input_tokens, int) and isinstance(output_tokens, int) and input_tokens >= 0 and output_tokens >= 0:
        return Usage(input_tokens=input_tokens, output_tokens=output_tokens, source="server")
    return None


def read_usage(value: Any) -> Usage | None:
    """Usage from any of the shapes containers send: an OpenAI ``usage`` object
    (``prompt_tokens``/``completion_tokens``), ``input_tokens``/``output_tokens``, or TGI /
    LMI ``details`` (``input_length`` or the ``prefill`` list, and ``generated_tokens``)."""
    if not isinstance(value, Mapping):
        return None
    if "generated_tokens" in value:  # TGI / LMI details (LMI's legacy formatter: prompt_tokens)
        prompt = value.get("input_length")
        if prompt is None:
            prompt = value.get("prompt_tokens")
        if prompt is None and value.get("prefill"):
            prompt = len(value["prefill"])
        return usage_from(prompt, value.get("generated_tokens"))
    if "prompt_tokens" in value or "completion_tokens" in value:
        return usage_from(value.get("prompt_tokens"), value.get("completion_tokens"))
    if "input_tokens" in value or "output_tokens" in value:
        return usage_from(value.get("input_tokens"), value.get("output_tokens"))
    return None


def sampling(request: GenerateRequest, names: Mapping[str, str], *, zero_temperature: bool = True) -> dict[str, Any]:
    """The request's sampling parameters under a container's names.

    :param names: contract name → container name, for the parameters it accepts
        (``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``seed``, ``stop``, and
        ``do_sample`` for containers that take an explicit sampling switch).
    :param zero_temperature: whether the container accepts ``temperature = 0``. TGI and LMI
        refuse it: greedy there is ``do_sample = false`` without a temperature.

    ``do_sample`` is sent only when the request says something about sampling: ``false``
    for a greedy request (temperature 0), ``true`` when it sets a positive temperature,
    ``top_p`` or ``top_k``; otherwise the container's default stands.
    """
    out: dict[str, Any] = {}
    values = {
        "max_tokens": request.max_tokens,
        "top_p": request.top_p,
        "top_k": request.top_k,
        "seed": request.seed,
        "stop": list(request.stop) if request.stop else None,
    }
    for key, value in values.items():
        if value is not None and key in names:
            out[names[key]] = value
    temperature = request.temperature
    if temperature is not None and "temperature" in names and (temperature > 0 or zero_temperature):
        out[names["temperature"]] = temperature
    if "do_sample" in names:
        if request.is_greedy:
            out[names["do_sample"]] = False
        elif (temperature or 0) > 0 or request.top_p is not None or request.top_k is not None:
            out[names["do_sample"]] = True
    return out


def prompt_text(request: GenerateRequest) -> str:
    """The text a request sends (for usage estimates and plain-prompt containers)."""
    if request.prompt is not None:
        return request.prompt
    return "\n".join(m.content for m in request.as_messages())


def _number_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, (int, float)) for x in value)


def parse_vectors(value: Any) -> list[list[float]]:
    """One vector per input from the shapes containers return: a flat vector, a list of
    vectors, ``{"embedding" | "embeddings" | "vectors" | "predictions" | "values": ...}``,
    OpenAI ``data`` items, or a list of such objects. A token-level answer (a list of
    vectors per input) is refused: pooling is the model's business."""
    if isinstance(value, Mapping):
        if "data" in value and isinstance(value["data"], list):  # OpenAI embeddings
            items = sorted(value["data"], key=lambda item: int(item.get("index", 0)))
            return [vec for item in items for vec in parse_vectors(item)]
        for key in ("embedding", "embeddings", "vectors", "predictions", "values"):
            if key in value:
                return parse_vectors(value[key])
        raise ValueError(f"no embedding found in an object with keys {sorted(value)[:8]}")
    if isinstance(value, str):
        return [_base64_vector(value)]
    if _number_list(value):
        return [[float(x) for x in value]]
    if isinstance(value, list) and value and all(_number_list(v) for v in value):
        return [[float(x) for x in v] for v in value]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [vec for item in value for vec in parse_vectors(item)]
    raise ValueError(f"unrecognised embedding shape: {json.dumps(value)[:120]}")


def _base64_vector(text: str) -> list[float]:
    """OpenAI's ``encoding_format: "base64"``: little-endian float32 values, base64-coded."""
    import array
    import base64
    import binascii
    import sys

    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"an embedding given as a string that is not base64: {text[:40]!r}") from None
    if not raw or len(raw) % 4:
        raise ValueError(f"a base64 embedding of {len(raw)} bytes is no float32 vector")
    values = array.array("f", raw)
    if sys.byteorder == "big":
        values.byteswap()
    return [float(x) for x in values]


@dataclass(frozen=True)
class Embedded:
    """Vectors (one per input text) and, when the container reported it, usage."""

    vectors: list[list[float]]
    usage: Usage | None = None


def embedded(vectors: Sequence[Sequence[float]], request: EmbedRequest) -> tuple[tuple[tuple[float, ...], ...], bool]:
    """The vectors as the contract returns them and whether they are unit length:
    normalised here when the request asks for it, measured otherwise (a container may
    normalise on its own)."""
    norms = [math.sqrt(sum(x * x for x in v)) for v in vectors]
    if request.normalize:
        return tuple(tuple(x / n for x in v) if n else tuple(v) for v, n in zip(vectors, norms, strict=True)), True
    return tuple(tuple(v) for v in vectors), bool(norms) and all(abs(n - 1.0) < 1e-3 for n in norms)


@dataclass(frozen=True)
class Decoded:
    """A non-streamed generation as read from a body; ``usage`` only when the container
    reported both counts."""

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolDelta:
    """A fragment of a streamed tool call (OpenAI shape), assembled by index."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True)
class Chunk:
    """What one stream record carries.

    :param text: new text (a delta, never the whole text so far).
    :param finish_reason: set on the record that ends the generation.
    :param usage: token usage, when the record carries it.
    :param error: an in-stream error message from the container.
    :param tools: tool-call fragments.
    :param error_body: the in-stream error object, when ``error`` came from one.
    """

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    error: str | None = None
    tools: tuple[ToolDelta, ...] = ()
    error_body: Any = None


class Codec:
    """Base of codecs: one container's JSON format. Subclass it for a container the
    built-ins do not cover, and override what it supports.

    The boolean attributes declare capabilities (a codec may set them per instance);
    ``chat`` means messages are sent as messages (otherwise the pipeline renders them with
    the model's chat template, when it has one), ``generates`` that plain prompts are
    accepted.
    """

    name: ClassVar[str] = "custom"
    content_type: str = "application/json"
    accept: str = "application/json"
    #: ``Accept`` for streams; ``None`` to omit it.
    stream_accept: str | None = None
    generates: bool = False
    chat: bool = False
    streams: bool = False
    embeds: bool = False
    tools: bool = False
    #: how the container serves tools / structured output (None: the SDK emulates them);
    #: see :class:`~byom_sdk.Capabilities`.
    tools_mode: StructuredMode | None = None
    structured_output: StructuredMode | None = None
    stop_sequences: bool = True
    seed: bool = False

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> Any:
        """The JSON body of a generation (``stream``: the streamed form)."""
        raise NotImplementedError(f"codec '{self.name}' does not generate")

    def decode_generate(self, body: Any) -> Decoded:
        """A non-streamed answer; raise :class:`ContainerError` for an error object."""
        raise NotImplementedError(f"codec '{self.name}' does not generate")

    def decode_chunk(self, record: Any) -> Chunk | None:
        """One decoded stream record; ``None`` to skip it."""
        raise NotImplementedError(f"codec '{self.name}' does not stream")

    def encode_embed(self, request: EmbedRequest) -> Any:
        raise NotImplementedError(f"codec '{self.name}' does not embed")

    def decode_embed(self, body: Any) -> Embedded:
        raise NotImplementedError(f"codec '{self.name}' does not embed")

    def custom_attributes(self) -> str | None:
        """SageMaker ``CustomAttributes`` the container needs (JumpStart's EULA flag)."""
        return None

    @staticmethod
    def checked(body: Any) -> Any:
        """``body``, unless it is a container error object."""
        error = container_error(body)
        if error:
            raise ContainerError(error, body=body)
        return body

    @staticmethod
    def first(value: Any, what: str) -> Any:
        """The first item of a list answer (TGI and JumpStart wrap one result in a list)."""
        if isinstance(value, list):
            if not value:
                raise ValueError(f"empty list where {what} was expected")
            return value[0]
        return value
