"""Hugging Face and SageMaker container protocols: TGI, LMI (DJL), JumpStart and TEI.

- **TGI** native route: ``{"inputs", "parameters": {max_new_tokens, temperature, top_p,
  top_k, stop, seed, do_sample, details, return_full_text}, "stream"}`` → ``[{"generated_text",
  "details"}]``; streams SSE ``{"token": {...}, "generated_text", "details"}`` records whose
  last one carries ``details`` (``finish_reason``, ``generated_tokens``, ``input_length``).
  TGI also serves OpenAI chat chunks; the stream decoder reads both.
- **LMI** rolling batch: as TGI with ``stop_sequences``; an object answer; JSON Lines streams;
  an in-stream failure is a ``{"token": {"id": -1}, "details": {"finish_reason": "error"}}`` line.
- **JumpStart** model families (Flan ``text2text``, Llama chat and text, embeddings).
- **TEI** embeddings: ``{"inputs": [...], "normalize"?, "truncate"}`` → ``[[f32, ...], ...]``.

Sources: wire-protocols.md §2 (TGI router ``sagemaker.rs``, djl-serving schemas).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .._openai import messages_to_openai
from .._types import EmbedRequest, GenerateRequest, StructuredMode
from ._codec import (
    Chunk,
    Codec,
    Decoded,
    Embedded,
    container_error,
    finish_reason,
    parse_vectors,
    prompt_text,
    read_usage,
    sampling,
)
from .openai import STREAM_ACCEPT, OpenAIChat, StreamFormat

__all__ = ["LMI", "TEI", "TGI", "JumpStart", "JumpStartVariant", "tgi_chunk", "tgi_grammar"]

_TGI_NAMES = {
    "max_tokens": "max_new_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "stop": "stop",
    "do_sample": "do_sample",
}

_chat_chunks = OpenAIChat()


def tgi_chunk(record: Any) -> Chunk | None:
    """One TGI / LMI stream record (or an OpenAI chunk, which TGI's chat route sends)."""
    if not isinstance(record, Mapping):
        return None
    error = container_error(record)
    if error:
        return Chunk(error=error, error_body=record)
    if "choices" in record:
        return _chat_chunks.decode_chunk(record)
    token = record.get("token") or {}
    details = record.get("details") or {}
    reason = finish_reason(details.get("finish_reason")) if details else None
    if token.get("id") == -1 and reason == "error":  # LMI's in-stream failure record
        # Newer LMI puts the message in error_msg (generated_text is then the partial text);
        # older releases put it in generated_text.
        message = (
            token.get("error_msg")
            or record.get("error_msg")
            or record.get("generated_text")
            or token.get("text")
            or "generation failed"
        )
        return Chunk(error=str(message))
    if reason is None and token and record.get("generated_text") is not None:
        reason = "stop"  # TGI's last event carries the whole text, even when sent without details
    # TGI says "special", LMI "special_token": neither is text (</s>, <|eot_id|>).
    text = "" if token.get("special") or token.get("special_token") else str(token.get("text") or "")
    if not token and "outputs" in record:  # the older LMI / JumpStart form: {"outputs": ["tok"]}
        text = "".join(str(t) for t in record.get("outputs") or ())
    return Chunk(text=text, finish_reason=reason, usage=read_usage(details) if details else None)


def tgi_grammar(request: GenerateRequest) -> dict[str, Any] | None:
    """TGI's ``grammar`` for a request's schema or tools: ``{"type": "json", "value": S}``.

    Tools become one schema whose answer is ``{"tool_calls": [{"name", "arguments"}]}``
    (TGI needs top-level ``properties``; the tools go under them), so the server constrains
    decoding to a valid call and the SDK reads the call from the text.
    """
    if request.tools and request.tool_choice != "none":
        from .._structured import tool_schema

        return {"type": "json", "value": tool_schema(request.tools, request.tool_choice)}
    if request.response_format is not None:
        from .._structured import schema_of

        schema = schema_of(request.response_format)
        if schema is not None:  # TGI needs top-level ``properties``; it refuses other schemas
            return {"type": "json", "value": schema}
    return None


class TGI(Codec):
    """Hugging Face TGI, native generate route (see the module docstring). JSON schemas and
    tools go as TGI's ``grammar`` (decoding constrained on the server).

    :param parameters: default container parameters merged under each request's own.
    """

    name = "tgi"
    stream_accept = "text/event-stream"
    generates = True
    streams = True
    seed = True
    tools_mode: StructuredMode | None = "constrained"
    structured_output: StructuredMode | None = "native"
    # TGI always ends a stream with an event carrying the generated text and its details:
    # a stream without it was cut, and its text is not the answer.
    require_end = True
    _names: Mapping[str, str] = _TGI_NAMES

    def __init__(self, *, parameters: Mapping[str, Any] | None = None) -> None:
        self.parameters = dict(parameters or {})

    def parameters_for(self, request: GenerateRequest) -> dict[str, Any]:
        params = {"details": True, "return_full_text": False, **self.parameters}
        params.update(sampling(request, self._names, zero_temperature=False))
        # TGI rejects top_p == 1.0 and top_k == 0 ("must be < 1.0" / "strictly positive"):
        # both mean "no truncation", which is what omitting them means.
        if params.get("top_p") == 1.0:
            del params["top_p"]
        if params.get("top_k") == 0:
            del params["top_k"]
        grammar = tgi_grammar(request)
        if grammar is not None:
            params["grammar"] = grammar
        params.update(request.extra)
        return params

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        return {"inputs": prompt_text(request), "parameters": self.parameters_for(request), "stream": stream}

    def decode_generate(self, body: Any) -> Decoded:
        item = self.first(self.checked(body), "a generation")
        if isinstance(item, str):  # TGI behind Vertex predict answers with the text itself
            return Decoded(text=item)
        details = item.get("details") or {}
        return Decoded(
            text=str(item["generated_text"]),
            finish_reason=finish_reason(details.get("finish_reason")),
            usage=read_usage(details),
        )

    def decode_chunk(self, record: Any) -> Chunk | None:
        return tgi_chunk(record)


class LMI(TGI):
    """DJL / LMI rolling-batch containers (vLLM, TensorRT-LLM, lmi-dist): TGI's request
    with ``stop_sequences``, an object answer, JSON Lines streams (or SSE with
    ``option.output_formatter=sse``; both are decoded either way). For LMI's chat route use
    the ``openai`` codec with ``stream_format = "jsonlines"``.

    :param stream_format: what to ask for in ``Accept`` on streams.
    """

    name = "lmi"
    # Not every LMI release ends a JSON Lines stream with a details record.
    require_end = False
    _names = {**_TGI_NAMES, "stop": "stop_sequences"}
    # LMI's rolling-batch route takes no grammar: the SDK emulates both.
    tools_mode = None
    structured_output = None

    def __init__(
        self, *, stream_format: StreamFormat = "jsonlines", parameters: Mapping[str, Any] | None = None
    ) -> None:
        if stream_format not in STREAM_ACCEPT:
            raise ValueError(f"stream_format must be 'sse' or 'jsonlines', got {stream_format!r}")
        super().__init__(parameters=parameters)
        self.stream_format = stream_format
        self.stream_accept = STREAM_ACCEPT[stream_format]

    def parameters_for(self, request: GenerateRequest) -> dict[str, Any]:
        params = {"details": True, **self.parameters}
        params.update(sampling(request, self._names, zero_temperature=False))
        params.update(request.extra)
        return params


JumpStartVariant = Literal["text2text", "llama-chat", "llama-text", "embedding"]


class JumpStart(Codec):
    """SageMaker JumpStart model containers.

    - ``text2text`` (Flan-T5 and kin): ``{"text_inputs", "max_length", ...}`` →
      ``{"generated_texts": [...]}``; no streaming, no stop sequences.
    - ``llama-chat``: ``{"inputs": [[messages]], "parameters"}`` →
      ``[{"generation": {"role", "content"}}]``; needs ``accept_eula``.
    - ``llama-text``: ``{"inputs": "...", "parameters"}`` → ``[{"generation": "..."}]``.
    - ``embedding``: ``{"text_inputs": [...]}`` → ``{"embedding": [[...], ...]}``.

    The Llama variants stream TGI-style token events when the deployment supports it.

    :param accept_eula: send ``accept_eula=true`` in CustomAttributes (Llama models refuse
        every call without it).
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

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if self.variant == "text2text":
            names = {
                "max_tokens": "max_length",
                "temperature": "temperature",
                "top_p": "top_p",
                "top_k": "top_k",
                "seed": "seed",
                "do_sample": "do_sample",
            }
            body: dict[str, Any] = {"text_inputs": prompt_text(request)}
            body.update(sampling(request, names, zero_temperature=False))
            body.update(request.extra)
            return body
        names = {
            "max_tokens": "max_new_tokens",
            "temperature": "temperature",
            "top_p": "top_p",
            "do_sample": "do_sample",
        }
        params = sampling(request, names, zero_temperature=False)
        params.update(request.extra)
        inputs: Any = [messages_to_openai(request.as_messages())] if self.chat else prompt_text(request)
        body = {"inputs": inputs, "parameters": params}
        if stream:
            body["stream"] = True
        return body

    def decode_generate(self, body: Any) -> Decoded:
        value = self.checked(body)
        if self.variant == "text2text":
            generated = value.get("generated_texts") if isinstance(value, Mapping) else value
            text = self.first(generated, "a generated text") if isinstance(generated, list) else generated
            if text is None and isinstance(value, Mapping):
                text = value.get("generated_text")
            return Decoded(text=str(text or ""))
        generation = self.first(value, "a generation")["generation"]
        if isinstance(generation, Mapping):
            generation = generation.get("content", "")
        return Decoded(text=str(generation))

    def decode_chunk(self, record: Any) -> Chunk | None:
        if isinstance(record, Mapping) and "generation" in record and not container_error(record):
            generation = record["generation"]
            if isinstance(generation, Mapping):
                generation = generation.get("content", "")
            return Chunk(text=str(generation or ""))
        return tgi_chunk(record)

    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"text_inputs": list(request.texts)}
        body.update(request.extra)
        return body

    def decode_embed(self, body: Any) -> Embedded:
        return Embedded(vectors=parse_vectors(self.checked(body)))


class TEI(Codec):
    """Hugging Face Text Embeddings Inference: one vector per input, always.

    :param truncate: let the container truncate inputs longer than its window.
    """

    name = "tei"
    embeds = True

    def __init__(self, *, truncate: bool = False) -> None:
        self.truncate = truncate

    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": list(request.texts), "truncate": self.truncate}
        if request.normalize is not None:
            body["normalize"] = request.normalize
        body.update(request.extra)
        return body

    def decode_embed(self, body: Any) -> Embedded:
        return Embedded(vectors=parse_vectors(self.checked(body)))
