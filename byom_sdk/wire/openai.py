"""The OpenAI protocol family: chat completions, completions and embeddings.

Spoken by vLLM, SGLang, TGI's Messages API, the LMI chat route, Vertex Model Garden,
llama.cpp, Ollama and Azure ML's OpenAI-style deployments. Chat accepts a plain prompt as
one user message. Streams are ``chat.completion.chunk`` (or ``text_completion``) objects,
as SSE or JSON Lines, usually ending with ``[DONE]``; tool calls stream as fragments
(``index``, then ``id`` / ``name`` / ``arguments`` pieces) assembled by index.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from .._openai import messages_to_openai
from .._types import EmbedRequest, GenerateRequest, ToolCall
from ._codec import (
    Chunk,
    Codec,
    Decoded,
    Embedded,
    ToolDelta,
    container_error,
    finish_reason,
    parse_vectors,
    read_usage,
    sampling,
    usage_from,
)

__all__ = ["OpenAIChat", "OpenAICompletions", "OpenAIEmbeddings", "StreamFormat", "tool_calls_of"]

StreamFormat = Literal["sse", "jsonlines"]
STREAM_ACCEPT: Mapping[str, str] = {"sse": "text/event-stream", "jsonlines": "application/jsonlines"}

_NAMES = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",  # vLLM, SGLang, llama.cpp and Ollama accept it; OpenAI itself does not
    "seed": "seed",
    "stop": "stop",
}


def tool_calls_of(message: Any) -> tuple[ToolCall, ...]:
    """The ``tool_calls`` of an OpenAI message; arguments may come as a JSON string or
    (TGI 1.4) as an object."""
    if not isinstance(message, Mapping):
        return ()
    raw = message.get("tool_calls") or ()
    calls = []
    for index, call in enumerate([raw] if isinstance(raw, Mapping) else raw):
        if not isinstance(call, Mapping):
            continue
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if isinstance(arguments, Mapping):
            arguments = json.dumps(arguments, ensure_ascii=False)
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=str(function.get("name") or ""),
                arguments=str(arguments or "{}"),
            )
        )
    return tuple(calls)


def _tool_deltas(value: Any) -> tuple[ToolDelta, ...]:
    """A delta's tool-call fragments: a list (OpenAI), one object (TGI 2.0-3.1), fragments
    without ``index`` (Ollama before 0.4.7: their place in the list), arguments as an object."""
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return ()
    deltas = []
    for position, fragment in enumerate(value):
        if not isinstance(fragment, Mapping):
            continue
        function = fragment.get("function") or {}
        arguments = function.get("arguments") if isinstance(function, Mapping) else None
        if isinstance(arguments, Mapping):
            arguments = json.dumps(arguments, ensure_ascii=False)
        index = fragment.get("index")
        deltas.append(
            ToolDelta(
                index=index if isinstance(index, int) else position,
                id=str(fragment.get("id") or ""),
                name=str((function.get("name") if isinstance(function, Mapping) else "") or ""),
                arguments=str(arguments or ""),
            )
        )
    return tuple(deltas)


def _stream_fields(stream: bool, include_usage: bool) -> dict[str, Any]:
    if not stream:
        return {}
    fields: dict[str, Any] = {"stream": True}
    if include_usage:
        fields["stream_options"] = {"include_usage": True}
    return fields


class _OpenAIBase(Codec):
    streams = True
    seed = True
    #: OpenAI streams always end with a finish reason or [DONE]; a silent end was a cut.
    require_end = True

    def __init__(
        self,
        *,
        model: str | None = None,
        stream_format: StreamFormat = "sse",
        include_usage: bool = True,
        top_k: bool = True,
    ) -> None:
        if stream_format not in STREAM_ACCEPT:
            raise ValueError(f"stream_format must be 'sse' or 'jsonlines', got {stream_format!r}")
        self.model = model
        self.stream_format = stream_format
        self.stream_accept = STREAM_ACCEPT[stream_format]
        self.include_usage = include_usage
        self.top_k = top_k
        self._names = _NAMES if top_k else {k: v for k, v in _NAMES.items() if k != "top_k"}

    def _common(self, request: GenerateRequest, stream: bool) -> dict[str, Any]:
        if request.top_k and not self.top_k:  # 0 asks for no top-k: nothing to refuse
            # Refused, not dropped: sent without it, the answer would sample from the whole
            # vocabulary while the caller asked for top_k candidates.
            raise ValueError(f"top_k={request.top_k}: this API refuses top_k (leave it unset for this model)")
        body: dict[str, Any] = {} if self.model is None else {"model": self.model}
        body.update(sampling(request, self._names, zero_temperature=True))
        body.update(_stream_fields(stream, self.include_usage))
        return body

    def decode_chunk(self, record: Any) -> Chunk | None:
        if not isinstance(record, Mapping):
            return None
        error = container_error(record)
        if error is not None:
            return Chunk(error=error, error_body=record)
        usage = read_usage(record.get("usage"))
        text, reason = "", None
        tools: tuple[ToolDelta, ...] = ()
        for choice in record.get("choices") or ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue  # n > 1 is not part of the contract
            # Some servers stream whole messages ("message" for "delta"), or answer a
            # stream request with one chat.completion: its message is the one delta.
            delta = choice.get("delta") or choice.get("message")
            text = str((delta.get("content") if isinstance(delta, Mapping) else choice.get("text")) or "")
            if isinstance(delta, Mapping):
                tools = _tool_deltas(delta.get("tool_calls"))
            reason = finish_reason(choice.get("finish_reason"))
        return Chunk(text=text, finish_reason=reason, usage=usage, tools=tools)


class OpenAIChat(_OpenAIBase):
    """``/chat/completions``: ``{"model"?, "messages", sampling…, "tools"?, "stream"}`` →
    ``chat.completion``.

    :param model: the ``model`` field (vLLM checks it; TGI ignores it); omitted if None.
    :param stream_format: SSE or JSON Lines (LMI's chat route) for ``Accept`` on streams.
    :param include_usage: ask for a final usage chunk (``stream_options``).
    :param top_k: send ``top_k``; ``False`` for APIs that reject it (OpenAI itself, TGI's
        Messages API): a request that sets it is then refused before it is sent.
    """

    name = "openai"
    generates = True
    chat = True
    tools = True
    tools_mode = "native"
    structured_output = "native"

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = self._common(request, stream)
        body["messages"] = messages_to_openai(request.as_messages())
        if request.tools:
            body["tools"] = [dict(tool) for tool in request.tools]
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            body["response_format"] = dict(request.response_format)
        body.update(request.extra)
        return body

    def decode_generate(self, body: Any) -> Decoded:
        body = self.checked(body)
        try:
            choices = body["choices"]
            choice = next((c for c in choices if c.get("index", 0) == 0), choices[0])
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ValueError("the answer is not a chat completion (no choices)") from None
        message = choice.get("message") or {}
        text = message.get("content") if message else choice.get("text")
        calls = tool_calls_of(message)
        return Decoded(
            text=str(text or ""),
            finish_reason=finish_reason(choice.get("finish_reason"), "tool_calls" if calls else "stop"),
            usage=read_usage(body.get("usage")),
            tool_calls=calls,
        )


class OpenAICompletions(_OpenAIBase):
    """``/completions`` for plain prompts: ``{"model"?, "prompt", sampling…}`` →
    ``text_completion`` (chat is rendered with the model's tokenizer first)."""

    name = "openai-completions"
    generates = True

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        body = self._common(request, stream)
        body["prompt"] = request.prompt or ""
        body.update(request.extra)
        return body

    def decode_generate(self, body: Any) -> Decoded:
        body = self.checked(body)
        try:
            choice = body["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise ValueError("the answer is not a completion (no choices)") from None
        return Decoded(
            text=str(choice.get("text") or ""),
            finish_reason=finish_reason(choice.get("finish_reason"), "stop"),
            usage=read_usage(body.get("usage")),
        )


class OpenAIEmbeddings(Codec):
    """``/embeddings``: ``{"model"?, "input": [...], "encoding_format": "float"}`` →
    ``{"data": [{"index", "embedding"}], "usage"}``."""

    name = "openai-embeddings"
    embeds = True

    def __init__(self, *, model: str | None = None) -> None:
        self.model = model

    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        body: dict[str, Any] = {} if self.model is None else {"model": self.model}
        body.update({"input": list(request.texts), "encoding_format": "float"})
        body.update(request.extra)
        return body

    def decode_embed(self, body: Any) -> Embedded:
        body = self.checked(body)
        raw = body.get("usage") if isinstance(body, Mapping) else None
        # Embeddings report prompt tokens only; there is no output side.
        usage = usage_from(raw.get("prompt_tokens"), 0) if isinstance(raw, Mapping) else None
        return Embedded(vectors=parse_vectors(body), usage=usage)
