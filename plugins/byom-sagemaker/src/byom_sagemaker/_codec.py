"""The payload-codec interface, shared helpers, and loading a codec by name.

A codec knows one container's wire format: how to encode a request body, decode a
response body, and decode one record of a stream (the line framing itself is handled once
for all codecs by :mod:`byom_sagemaker._stream`). Write your own by subclassing
:class:`Codec` and naming it in config::

    [models.scorer]
    provider = "sagemaker"
    codec = "custom"
    codec_class = "my_pkg.codecs:ScorerCodec"
    codec_options = { temperature_floor = 0.01 }   # passed to ScorerCodec(**codec_options)
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from byom_sdk import ConfigError, EmbedRequest, GenerateRequest, Usage, messages_to_openai

from ._stream import Chunk

if TYPE_CHECKING:
    from byom_sdk import FinishReason

    from ._config import SageMakerConfig

__all__ = [
    "Codec",
    "Decoded",
    "finish_reason",
    "first",
    "load_codec",
    "loads",
    "messages_payload",
    "parse_vectors",
    "prompt_text",
    "usage_from",
]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos_token": "stop",
    "eos": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "error": "error",
}


def finish_reason(value: Any) -> FinishReason | None:
    """Map a container's finish reason (TGI, LMI, OpenAI spellings) onto the contract's."""
    if not isinstance(value, str):
        return None
    return _FINISH.get(value.lower(), "stop")


def loads(body: bytes) -> Any:
    """Parse a JSON body; a ``ValueError`` names what was wrong with it."""
    try:
        return json.loads(body)
    except ValueError as exc:
        shown = body[:200].decode("utf-8", "replace")
        raise ValueError(f"response is not JSON: {shown!r} ({exc})") from None


def _is_number_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, (int, float)) for x in value)


def parse_vectors(value: Any) -> list[list[float]]:
    """Normalise the embedding shapes containers return into one vector per input.

    Accepts a flat vector, a list of vectors, ``{"embedding": ...}``,
    ``{"embeddings": ...}``, and token-level ``[[[...]]]`` (mean-pooled is not done here:
    a token-level answer is rejected, since pooling is the model's business).
    """
    if isinstance(value, Mapping):
        for key in ("embedding", "embeddings", "vectors", "predictions"):
            if key in value:
                return parse_vectors(value[key])
        raise ValueError(f"no embedding found in object with keys {sorted(value)[:8]}")
    if _is_number_list(value):
        return [[float(x) for x in value]]
    if isinstance(value, list) and value and all(_is_number_list(v) for v in value):
        return [[float(x) for x in v] for v in value]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [vec for item in value for vec in parse_vectors(item)]
    raise ValueError(f"unrecognised embedding shape: {json.dumps(value)[:120]}")


@dataclass(frozen=True)
class Decoded:
    """A decoded non-streamed generation.

    :param usage: token usage when the container reported both counts, else ``None``
        (the provider then estimates and tags the usage ``estimate``).
    """

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


class Codec:
    """Base class of payload codecs. Subclasses override what their container supports.

    The boolean attributes declare capabilities (a codec may set them per instance, as
    JumpStart's variants do); ``chat`` means ``messages`` are sent as such
    (otherwise the core renders them with the model's chat template, when it has one).
    """

    name: ClassVar[str] = "custom"
    content_type: str = "application/json"
    accept: str = "application/json"
    #: ``Accept`` for streams (sent as ``X-Amzn-SageMaker-Accept``); None to omit it.
    stream_accept: str | None = None
    generates: bool = False
    chat: bool = False
    streams: bool = False
    embeds: bool = False
    stop_sequences: bool = True
    seed: bool = False

    def custom_attributes(self) -> str | None:
        """Attributes the codec itself needs (e.g. JumpStart's EULA acceptance)."""
        return None

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> bytes:
        raise NotImplementedError(f"codec '{self.name}' does not generate")

    def decode_generate(self, body: bytes) -> Decoded:
        raise NotImplementedError(f"codec '{self.name}' does not generate")

    def decode_chunk(self, record: Any) -> Chunk | None:
        """One JSON record of a stream (already unframed); ``None`` to skip it."""
        raise NotImplementedError(f"codec '{self.name}' does not stream")

    def encode_embed(self, request: EmbedRequest) -> bytes:
        raise NotImplementedError(f"codec '{self.name}' does not embed")

    def decode_embed(self, body: bytes) -> list[list[float]]:
        raise NotImplementedError(f"codec '{self.name}' does not embed")

    # -- helpers for subclasses --------------------------------------------------------

    @staticmethod
    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @staticmethod
    def sampling(request: GenerateRequest, names: Mapping[str, str], *, zero_temperature: bool) -> dict[str, Any]:
        """The request's sampling parameters under the container's names.

        :param names: contract name → container name, for the parameters it accepts.
        :param zero_temperature: whether the container accepts ``temperature = 0``; when
            not, a greedy request sends ``do_sample = false`` without a temperature.
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
            sampled = (request.temperature or 0) > 0 or request.top_p is not None or request.top_k is not None
            out[names["do_sample"]] = bool(sampled and not request.is_greedy)
        return out


def _builtin(name: str) -> type[Codec]:
    from . import _codecs

    return _codecs.BUILTIN[name]


def load_codec(config: SageMakerConfig, *, source: str = "sagemaker") -> Codec:
    """Instantiate the codec a config names, reporting bad names and options as config errors."""
    if config.codec == "custom":
        assert config.codec_class is not None  # ensured by SageMakerConfig
        module_name, _, attr = config.codec_class.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"cannot import codec_class {config.codec_class!r}: {exc}", source=source, field="codec_class"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Codec)):
            raise ConfigError(
                f"codec_class {config.codec_class!r} is not a subclass of byom_sagemaker.Codec",
                source=source,
                field="codec_class",
            )
    else:
        cls = _builtin(config.codec)
    try:
        return cls(**config.codec_options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"bad codec_options for codec '{cls.name}': {exc}", source=source, field="codec_options"
        ) from exc


def prompt_text(request: GenerateRequest) -> str:
    """The text a request sends, for usage estimates."""
    if request.prompt is not None:
        return request.prompt
    return "\n".join(m.content for m in request.as_messages())


def messages_payload(request: GenerateRequest) -> list[dict[str, Any]]:
    """The request's messages as OpenAI-style dicts."""
    return messages_to_openai(request.as_messages())


def usage_from(prompt_tokens: Any, completion_tokens: Any) -> Usage | None:
    """Server usage when both counts are integers, else ``None``."""
    if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int):
        return Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens, source="server")
    return None


def first(value: Any, what: str) -> Any:
    """The first item of a list answer (TGI and JumpStart wrap one result in a list)."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"empty list where {what} was expected")
        return value[0]
    return value
