"""The built-in payload codecs: TGI, LMI/DJL, OpenAI-style messages, JumpStart and TEI.

Each maps the contract's parameters onto the names its container reads; ``request.extra``
is merged last into the container's parameter object so callers can pass anything the
container accepts. Wire shapes are documented in the reference (wire-protocols.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from byom_sdk import EmbedRequest, GenerateRequest, Usage

from ._codec import (
    Codec,
    Decoded,
    finish_reason,
    first,
    loads,
    messages_payload,
    parse_vectors,
    prompt_text,
    usage_from,
)
from ._stream import Chunk, ContainerError

__all__ = ["BUILTIN", "JumpStartCodec", "LMICodec", "OpenAICodec", "TEICodec", "TGICodec"]

StreamFormat = Literal["sse", "jsonlines"]
_STREAM_ACCEPT = {"sse": "text/event-stream", "jsonlines": "application/jsonlines"}


def _container_error(value: Any) -> str | None:
    """The message of a TGI / LMI / OpenAI error object, if ``value`` is one."""
    if isinstance(value, Mapping) and "error" in value:
        error = value["error"]
        if isinstance(error, Mapping):
            return str(error.get("message") or error)
        kind = value.get("error_type") or value.get("code")
        return f"{error} ({kind})" if kind else str(error)
    return None


def _token_chunk(record: Mapping[str, Any]) -> Chunk:
    """A TGI / LMI token record: ``{"token": {...}, "generated_text"?, "details"?}``."""
    token = record.get("token") or {}
    details = record.get("details") or {}
    reason = finish_reason(details.get("finish_reason")) if details else None
    if token.get("id") == -1 and reason == "error":  # LMI's in-stream failure record
        return Chunk(error=str(record.get("generated_text") or token.get("text") or "generation failed"))
    text = "" if token.get("special") else str(token.get("text") or "")
    if not token and "outputs" in record:  # the older LMI/JumpStart form: {"outputs": ["tok"]}
        text = "".join(str(t) for t in record.get("outputs") or ())
    usage = None
    if details:
        prefill = details.get("prefill")
        usage = usage_from(len(prefill) if prefill else None, details.get("generated_tokens"))
    return Chunk(text=text, finish_reason=reason, usage=usage)


class TGICodec(Codec):
    """Hugging Face TGI, native generate route.

    Request ``{"inputs", "parameters": {max_new_tokens, temperature, top_p, top_k, stop,
    seed, do_sample, details}, "stream"}``; response ``[{"generated_text", "details"}]``;
    stream: SSE ``data:{"token": {...}, "generated_text", "details"}`` events.

    :param parameters: default container parameters merged under each request's own.
    """

    name = "tgi"
    stream_accept = "text/event-stream"
    generates = True
    streams = True
    seed = True
    _names = {
        "max_tokens": "max_new_tokens",
        "temperature": "temperature",
        "top_p": "top_p",
        "top_k": "top_k",
        "seed": "seed",
        "stop": "stop",
        "do_sample": "do_sample",
    }

    def __init__(self, *, parameters: Mapping[str, Any] | None = None) -> None:
        self.parameters = dict(parameters or {})

    def _parameters(self, request: GenerateRequest) -> dict[str, Any]:
        params = {"details": True, "return_full_text": False, **self.parameters}
        params.update(self.sampling(request, self._names, zero_temperature=False))
        # TGI rejects top_p == 1.0 and top_k == 0 ("must be < 1.0" / "strictly positive"):
        # both mean "no truncation", which is what omitting them means.
        if params.get("top_p") == 1.0:
            del params["top_p"]
        if params.get("top_k") == 0:
            del params["top_k"]
        params.update(request.extra)
        return params

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> bytes:
        return self.dumps({"inputs": prompt_text(request), "parameters": self._parameters(request), "stream": stream})

    def decode_generate(self, body: bytes) -> Decoded:
        value = loads(body)
        error = _container_error(value)
        if error:
            raise ContainerError(error)
        item = first(value, "a generation")
        details = item.get("details") or {}
        prefill = details.get("prefill")
        return Decoded(
            text=str(item["generated_text"]),
            finish_reason=finish_reason(details.get("finish_reason")),
            usage=usage_from(len(prefill) if prefill else None, details.get("generated_tokens")),
        )

    def decode_chunk(self, record: Any) -> Chunk | None:
        error = _container_error(record)
        if error:
            return Chunk(error=error)
        return _token_chunk(record) if isinstance(record, Mapping) else None


class LMICodec(TGICodec):
    """DJL / LMI rolling-batch containers (vLLM, TensorRT-LLM, lmi-dist).

    Request as TGI but with ``stop_sequences``; response an object
    ``{"generated_text", "details"}``; stream JSON Lines ``{"token": {...}}`` (or SSE with
    ``option.output_formatter=sse``; the decoder accepts both either way). For LMI's chat
    route use the ``openai`` codec with ``stream_format = "jsonlines"``.

    :param stream_format: what to ask for in ``Accept`` on streams.
    """

    name = "lmi"
    _names = {**TGICodec._names, "stop": "stop_sequences"}

    def __init__(
        self, *, stream_format: StreamFormat = "jsonlines", parameters: Mapping[str, Any] | None = None
    ) -> None:
        if stream_format not in _STREAM_ACCEPT:
            raise ValueError(f"stream_format must be 'sse' or 'jsonlines', got {stream_format!r}")
        super().__init__(parameters=parameters)
        self.stream_format = stream_format
        self.stream_accept = _STREAM_ACCEPT[stream_format]

    def _parameters(self, request: GenerateRequest) -> dict[str, Any]:
        params = {"details": True, **self.parameters}
        params.update(self.sampling(request, self._names, zero_temperature=False))
        params.update(request.extra)
        return params


class OpenAICodec(Codec):
    """OpenAI-style chat completions (TGI Messages API, vLLM / LMI OpenAI routes, SGLang).

    Request ``{"messages", "max_tokens", "temperature", "top_p", "top_k"?, "stop", "seed",
    "stream", "stream_options"}``; response a ``chat.completion``; stream
    ``chat.completion.chunk`` objects as SSE or JSON Lines, ending with ``[DONE]``.

    :param model: the ``model`` field (vLLM checks it; TGI ignores it); omitted if None.
    :param stream_format: what to ask for in ``Accept`` on streams.
    :param include_usage: ask for a final usage chunk (``stream_options``).
    """

    name = "openai"
    generates = True
    chat = True
    streams = True
    seed = True
    _names = {
        "max_tokens": "max_tokens",
        "temperature": "temperature",
        "top_p": "top_p",
        "top_k": "top_k",
        "seed": "seed",
        "stop": "stop",
    }

    def __init__(
        self, *, model: str | None = None, stream_format: StreamFormat = "sse", include_usage: bool = True
    ) -> None:
        if stream_format not in _STREAM_ACCEPT:
            raise ValueError(f"stream_format must be 'sse' or 'jsonlines', got {stream_format!r}")
        self.model = model
        self.stream_format = stream_format
        self.stream_accept = _STREAM_ACCEPT[stream_format]
        self.include_usage = include_usage

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> bytes:
        body: dict[str, Any] = {"messages": messages_payload(request)}
        if self.model is not None:
            body["model"] = self.model
        body.update(self.sampling(request, self._names, zero_temperature=True))
        body["stream"] = stream
        if stream and self.include_usage:
            body["stream_options"] = {"include_usage": True}
        body.update(request.extra)
        return self.dumps(body)

    @staticmethod
    def _usage(value: Any) -> Usage | None:
        if not isinstance(value, Mapping):
            return None
        return usage_from(value.get("prompt_tokens"), value.get("completion_tokens"))

    def decode_generate(self, body: bytes) -> Decoded:
        value = loads(body)
        error = _container_error(value)
        if error:
            raise ContainerError(error)
        choice = value["choices"][0]
        message = choice.get("message") or {}
        return Decoded(
            text=str(message.get("content") or ""),
            finish_reason=finish_reason(choice.get("finish_reason")),
            usage=self._usage(value.get("usage")),
        )

    def decode_chunk(self, record: Any) -> Chunk | None:
        error = _container_error(record)
        if error:
            return Chunk(error=error)
        if not isinstance(record, Mapping):
            return None
        choices = record.get("choices") or ()
        text, reason = "", None
        if choices:
            delta = choices[0].get("delta") or {}
            text = str(delta.get("content") or "")
            reason = finish_reason(choices[0].get("finish_reason"))
        return Chunk(text=text, finish_reason=reason, usage=self._usage(record.get("usage")))


JumpStartVariant = Literal["text2text", "llama-chat", "llama-text", "embedding"]


class JumpStartCodec(Codec):
    """SageMaker JumpStart model containers.

    Variants:

    - ``text2text`` (Flan-T5 and kin): ``{"text_inputs", "max_length", ...}`` →
      ``{"generated_texts": [...]}``; no streaming, no stop sequences.
    - ``llama-chat`` (Meta Llama-2 chat): ``{"inputs": [[messages]], "parameters"}`` →
      ``[{"generation": {"role", "content"}}]``; needs ``accept_eula``.
    - ``llama-text``: ``{"inputs": "...", "parameters"}`` → ``[{"generation": "..."}]``.
    - ``embedding``: ``{"text_inputs": [...]}`` → ``{"embedding": [[...], ...]}``.

    The Llama variants stream TGI-style token events when the deployment supports it.

    :param variant: which JumpStart payload family the endpoint speaks.
    :param accept_eula: send ``accept_eula=true`` in CustomAttributes (Llama models
        refuse every call without it).
    """

    name = "jumpstart"

    def __init__(self, *, variant: JumpStartVariant, accept_eula: bool = False) -> None:
        if variant not in ("text2text", "llama-chat", "llama-text", "embedding"):
            raise ValueError(f"unknown JumpStart variant {variant!r}")
        self.variant = variant
        self.accept_eula = accept_eula
        llama = variant.startswith("llama")
        self.generates = variant != "embedding"
        self.chat = variant == "llama-chat"
        self.streams = llama
        self.stream_accept = "text/event-stream" if llama else None
        self.embeds = variant == "embedding"
        self.stop_sequences = False
        self.seed = variant == "text2text"

    def custom_attributes(self) -> str | None:
        return "accept_eula=true" if self.accept_eula else None

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> bytes:
        if self.variant == "text2text":
            body: dict[str, Any] = {"text_inputs": prompt_text(request)}
            body.update(
                self.sampling(
                    request,
                    {
                        "max_tokens": "max_length",
                        "temperature": "temperature",
                        "top_p": "top_p",
                        "top_k": "top_k",
                        "seed": "seed",
                        "do_sample": "do_sample",
                    },
                    zero_temperature=False,
                )
            )
            body.update(request.extra)
            return self.dumps(body)
        names = {
            "max_tokens": "max_new_tokens",
            "temperature": "temperature",
            "top_p": "top_p",
            "do_sample": "do_sample",
        }
        params = self.sampling(request, names, zero_temperature=False)
        params.update(request.extra)
        inputs: Any = [messages_payload(request)] if self.chat else prompt_text(request)
        body = {"inputs": inputs, "parameters": params}
        if stream:
            body["stream"] = True
        return self.dumps(body)

    def decode_generate(self, body: bytes) -> Decoded:
        value = loads(body)
        error = _container_error(value)
        if error:
            raise ContainerError(error)
        if self.variant == "text2text":
            generated = value.get("generated_texts") if isinstance(value, Mapping) else value
            text = first(generated, "a generated text") if isinstance(generated, list) else generated
            if text is None and isinstance(value, Mapping):
                text = value.get("generated_text")
            return Decoded(text=str(text or ""))
        generation = first(value, "a generation")["generation"]
        if isinstance(generation, Mapping):
            generation = generation.get("content", "")
        return Decoded(text=str(generation))

    def decode_chunk(self, record: Any) -> Chunk | None:
        error = _container_error(record)
        if error:
            return Chunk(error=error)
        if not isinstance(record, Mapping):
            return None
        if "generation" in record:
            generation = record["generation"]
            if isinstance(generation, Mapping):
                generation = generation.get("content", "")
            return Chunk(text=str(generation or ""))
        return _token_chunk(record)

    def encode_embed(self, request: EmbedRequest) -> bytes:
        body: dict[str, Any] = {"text_inputs": list(request.texts)}
        body.update(request.extra)
        return self.dumps(body)

    def decode_embed(self, body: bytes) -> list[list[float]]:
        return parse_vectors(loads(body))


class TEICodec(Codec):
    """Hugging Face Text Embeddings Inference: ``{"inputs": [...], "normalize"?,
    "truncate"}`` → ``[[f32, ...], ...]`` (always one vector per input).

    :param truncate: let the container truncate inputs longer than its window.
    """

    name = "tei"
    embeds = True

    def __init__(self, *, truncate: bool = False) -> None:
        self.truncate = truncate

    def encode_embed(self, request: EmbedRequest) -> bytes:
        body: dict[str, Any] = {"inputs": list(request.texts), "truncate": self.truncate}
        if request.normalize is not None:
            body["normalize"] = request.normalize
        body.update(request.extra)
        return self.dumps(body)

    def decode_embed(self, body: bytes) -> list[list[float]]:
        value = loads(body)
        error = _container_error(value)
        if error:
            raise ContainerError(error)
        return parse_vectors(value)


BUILTIN: dict[str, type[Codec]] = {
    "tgi": TGICodec,
    "lmi": LMICodec,
    "openai": OpenAICodec,
    "jumpstart": JumpStartCodec,
    "tei": TEICodec,
}
