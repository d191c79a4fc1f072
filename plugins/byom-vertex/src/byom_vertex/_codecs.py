"""Payload codecs: how a byom request becomes the body a Vertex container understands,
and how its answer (whole or streamed) becomes byom responses.

A codec is pure data transformation: it never does I/O, so the same codec runs under
the sync and the async client, over gRPC and REST, and in the local test server's
tests. Each codec names the PredictionService RPC that carries each operation:

=====================  ==============  ====================  =========
codec                  generate        stream                embed
=====================  ==============  ====================  =========
``vllm``               predict         streamRawPredict      -
``tgi``                predict         streamRawPredict      -
``openai``             rawPredict      streamRawPredict      -
``tei``                -               -                     predict
``google-embeddings``  -               -                     predict
=====================  ==============  ====================  =========

``predict`` bodies are ``{"instances": [...], "parameters": {...}}`` and answers are
``{"predictions": ...}``; raw bodies are the container's own JSON. A custom codec
subclasses :class:`Codec` and is named in config as ``codec_options.class =
"package.module:Class"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from byom_sdk import (
    ConfigError,
    EmbedRequest,
    GenerateRequest,
    ModelError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    messages_to_openai,
)

__all__ = [
    "BUILTIN_CODECS",
    "Codec",
    "Embedded",
    "Generated",
    "GoogleEmbeddingsCodec",
    "OpenAIChatCodec",
    "OpenAIStreamParser",
    "StreamParser",
    "TEICodec",
    "TGICodec",
    "TGIStreamParser",
    "VLLMCodec",
    "load_codec",
]

GenerateRpc = Literal["predict", "raw_predict"]
StreamRpc = Literal["stream_raw_predict", "server_streaming_predict"]

_FINISH: dict[str, Any] = {
    "stop": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "error": "error",
}


def finish_reason(value: Any, default: str = "stop") -> Any:
    """A container's finish reason in the contract's vocabulary."""
    return _FINISH.get(str(value), default) if value is not None else default


@dataclass
class Generated:
    """What a codec read from a non-streamed answer; the model adds id, latency and raw."""

    text: str
    finish_reason: Any = "stop"
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass
class Embedded:
    """Vectors (one per input text) and usage, when the endpoint reported it."""

    vectors: list[list[float]]
    usage: Usage | None = None


@dataclass
class StreamParser:
    """Turns the decoded items of one stream into events.

    ``feed`` returns :class:`~byom_sdk.TextDelta` / :class:`~byom_sdk.ToolCallEvent`
    events; the model sends usage and the single final :class:`~byom_sdk.FinishEvent`
    from ``finish_reason`` and ``usage`` once the stream ends.
    """

    finish_reason: Any = None
    usage: Usage | None = None
    text_parts: list[str] = field(default_factory=list)

    def feed(self, item: Any) -> list[Any]:
        raise NotImplementedError

    def end(self) -> list[Any]:
        """Events owed once the stream has ended (e.g. assembled tool calls)."""
        return []

    def _text(self, text: str) -> list[Any]:
        if not text:
            return []
        self.text_parts.append(text)
        return [TextDelta(text=text)]


class Codec:
    """Base of payload codecs. Subclass it for a container the built-ins do not cover.

    :param options: ``codec_options`` from the model's config.

    Class attributes declare which RPCs carry each operation (``None``: unsupported) and
    what the model can do; override the ``encode_*`` / ``decode_*`` methods you use.
    """

    name: ClassVar[str] = "custom"
    generate_rpc: ClassVar[GenerateRpc | None] = None
    stream_rpc: ClassVar[StreamRpc | None] = None
    embed_rpc: ClassVar[GenerateRpc | None] = None
    #: True when the container takes chat messages natively (else prompts only).
    chat: ClassVar[bool] = False
    #: True when a plain prompt is accepted (False: chat-only; prompts become one message).
    prompt: ClassVar[bool] = True
    tools: ClassVar[bool] = False
    seed: ClassVar[bool] = False
    content_type: ClassVar[str] = "application/json"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})

    # generate ------------------------------------------------------------------------
    def encode_generate(self, request: GenerateRequest) -> dict[str, Any]:
        """The body of a non-streamed generation (``predict`` shape or raw JSON)."""
        raise NotImplementedError(f"codec '{self.name}' does not generate")

    def decode_generate(self, body: Any, request: GenerateRequest) -> Generated:
        raise NotImplementedError(f"codec '{self.name}' does not generate")

    # stream --------------------------------------------------------------------------
    def encode_stream(self, request: GenerateRequest) -> dict[str, Any]:
        """The body of a streamed generation: raw JSON for ``stream_raw_predict``,
        ``{"inputs": [Tensor], "parameters": Tensor}`` dicts for
        ``server_streaming_predict``."""
        raise NotImplementedError(f"codec '{self.name}' does not stream")

    def stream_parser(self, request: GenerateRequest) -> StreamParser:
        """A fresh parser for one stream. Items are decoded JSON lines (raw streams) or
        ``StreamingPredictResponse`` dicts (server streaming)."""
        raise NotImplementedError(f"codec '{self.name}' does not stream")

    # embed ---------------------------------------------------------------------------
    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        raise NotImplementedError(f"codec '{self.name}' does not embed")

    def decode_embed(self, body: Any, request: EmbedRequest) -> Embedded:
        raise NotImplementedError(f"codec '{self.name}' does not embed")


# -- shared helpers ------------------------------------------------------------------------


def _predictions(body: Any) -> list[Any]:
    """``predictions`` as a list: endpoints return a list, some a single object."""
    if not isinstance(body, Mapping) or "predictions" not in body:
        raise ModelError("answer has no 'predictions'", provider="vertex", details={"body": body})
    predictions = body["predictions"]
    if isinstance(predictions, list):
        return predictions
    return [predictions]


def _messages(request: GenerateRequest) -> list[dict[str, Any]]:
    return messages_to_openai(request.as_messages())


def _openai_params(request: GenerateRequest) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.top_p is not None:
        params["top_p"] = request.top_p
    if request.top_k is not None:
        params["top_k"] = request.top_k
    if request.stop:
        params["stop"] = list(request.stop)
    if request.seed is not None:
        params["seed"] = request.seed
    return params


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None
    prompt = raw.get("prompt_tokens", raw.get("input_tokens"))
    completion = raw.get("completion_tokens", raw.get("output_tokens"))
    if prompt is None or completion is None:
        return None
    return Usage(input_tokens=int(prompt), output_tokens=int(completion), source="server")


def _tool_calls(raw: Any) -> tuple[ToolCall, ...]:
    calls = []
    for index, call in enumerate(raw or ()):
        function = call.get("function") or {}
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=str(function.get("name", "")),
                arguments=str(function.get("arguments") or "{}"),
            )
        )
    return tuple(calls)


def _chat_completion(body: Any) -> Generated:
    """An OpenAI ``chat.completion`` (or ``text_completion``) object."""
    try:
        choice = body["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise ModelError(
            "answer is not a chat completion (no choices)", provider="vertex", details={"body": body}
        ) from None
    message = choice.get("message") or {}
    text = message.get("content") if message else choice.get("text")
    calls = _tool_calls(message.get("tool_calls"))
    return Generated(
        text=text or "",
        finish_reason=finish_reason(choice.get("finish_reason"), "tool_calls" if calls else "stop"),
        usage=_usage(body.get("usage")),
        tool_calls=calls,
    )


class OpenAIStreamParser(StreamParser):
    """``chat.completion.chunk`` / ``text_completion`` chunks; tool-call fragments are
    assembled per index and sent as whole :class:`~byom_sdk.ToolCallEvent` at the end."""

    def __init__(self) -> None:
        super().__init__()
        self._calls: dict[int, dict[str, str]] = {}

    def feed(self, item: Any) -> list[Any]:
        if not isinstance(item, Mapping):
            return []
        if item.get("usage"):
            self.usage = _usage(item["usage"]) or self.usage
        events: list[Any] = []
        for choice in item.get("choices") or ():
            delta = choice.get("delta")
            text = (delta.get("content") if delta else choice.get("text")) or ""
            events += self._text(text)
            for fragment in (delta or {}).get("tool_calls") or ():
                slot = self._calls.setdefault(int(fragment.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                function = fragment.get("function") or {}
                slot["id"] = fragment.get("id") or slot["id"]
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.finish_reason = finish_reason(choice["finish_reason"])
        return events

    def end(self) -> list[Any]:
        return [
            ToolCallEvent(
                tool_call=ToolCall(
                    id=slot["id"] or f"call_{index}", name=slot["name"], arguments=slot["arguments"] or "{}"
                )
            )
            for index, slot in sorted(self._calls.items())
        ]


class TGIStreamParser(StreamParser):
    """TGI's native stream: ``{"token": {"text", "special"}, "generated_text", "details"}``."""

    def feed(self, item: Any) -> list[Any]:
        if not isinstance(item, Mapping):
            return []
        if "choices" in item:  # TGI also serves OpenAI chat chunks
            return self._openai(item)
        token = item.get("token") or {}
        events = [] if token.get("special") else self._text(token.get("text") or "")
        details = item.get("details")
        if isinstance(details, Mapping):
            self.finish_reason = finish_reason(details.get("finish_reason"))
            if details.get("generated_tokens") is not None and details.get("input_length") is not None:
                self.usage = Usage(
                    input_tokens=int(details["input_length"]),
                    output_tokens=int(details["generated_tokens"]),
                    source="server",
                )
        return events

    def _openai(self, item: Mapping[str, Any]) -> list[Any]:
        if not hasattr(self, "_chat"):
            self._chat = OpenAIStreamParser()
        events = self._chat.feed(item)
        self.text_parts = self._chat.text_parts
        self.finish_reason, self.usage = self._chat.finish_reason, self._chat.usage
        return events


# -- built-in codecs --------------------------------------------------------------------------


class VLLMCodec(Codec):
    """Model Garden vLLM: ``predict`` with ``instances[{prompt, max_tokens, …,
    raw_response: true}]``; chat with ``"@requestFormat": "chatCompletions"``; streams
    through ``streamRawPredict`` with an OpenAI body.

    Options: ``raw_response`` (default true; false returns "Prompt:…Output:…", which the
    codec strips), ``model`` (the OpenAI ``model`` field of streamed bodies, default ""),
    ``use_raw_predict`` (send the instances through rawPredict; for endpoints whose
    ``predictions`` is a single object).
    """

    name = "vllm"
    generate_rpc = "predict"
    stream_rpc = "stream_raw_predict"
    chat = True
    seed = True

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        if self.options.get("use_raw_predict"):
            # Same instances body through rawPredict: the answer is the container's JSON, so
            # `predictions` may be a single object (which PredictResponse cannot carry).
            self.generate_rpc = "raw_predict"  # type: ignore[misc,assignment]  # per-instance override of a class constant

    def encode_generate(self, request: GenerateRequest) -> dict[str, Any]:
        instance = _openai_params(request)
        if request.messages is not None:
            instance["@requestFormat"] = "chatCompletions"
            instance["messages"] = _messages(request)
        else:
            instance["prompt"] = request.prompt
            instance["raw_response"] = bool(self.options.get("raw_response", True))
        instance.update(request.extra)
        return {"instances": [instance]}

    def decode_generate(self, body: Any, request: GenerateRequest) -> Generated:
        predictions = _predictions(body)
        first = predictions[0] if predictions else ""
        if isinstance(first, Mapping):
            return _chat_completion(first)
        if isinstance(first, list) and first and isinstance(first[0], str):
            first = first[0]
        text = str(first)
        if not self.options.get("raw_response", True) and "\nOutput:\n" in text:
            text = text.split("\nOutput:\n", 1)[1]
        return Generated(text=text, finish_reason="stop")

    def encode_stream(self, request: GenerateRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.options.get("model", ""),
            "stream": True,
            "stream_options": {"include_usage": True},
            **_openai_params(request),
        }
        if request.messages is not None:
            body["messages"] = _messages(request)
        else:
            body["prompt"] = request.prompt
        body.update(request.extra)
        return body

    def stream_parser(self, request: GenerateRequest) -> StreamParser:
        return OpenAIStreamParser()


class TGICodec(Codec):
    """Hugging Face TGI on Vertex: ``predict`` with ``instances[{inputs, parameters}]`` (or
    an OpenAI chat request) answered by plain strings; streams TGI's native SSE (prompts)
    or OpenAI chunks (messages) through ``streamRawPredict``."""

    name = "tgi"
    generate_rpc = "predict"
    stream_rpc = "stream_raw_predict"
    chat = True
    seed = True

    @staticmethod
    def _parameters(request: GenerateRequest) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if request.max_tokens is not None:
            params["max_new_tokens"] = request.max_tokens
        # TGI refuses temperature 0: greedy is do_sample=false without a temperature.
        if request.temperature:
            params["temperature"] = request.temperature
            params["do_sample"] = True
        elif request.temperature is not None:
            params["do_sample"] = False
        if request.top_p is not None and request.top_p < 1.0:
            params["top_p"] = request.top_p
        if request.top_k:
            params["top_k"] = request.top_k
        if request.stop:
            params["stop"] = list(request.stop)
        if request.seed is not None:
            params["seed"] = request.seed
        return params

    def _chat_body(self, request: GenerateRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": _messages(request), **_openai_params(request)}
        body.pop("top_k", None)
        if self.options.get("model"):
            body["model"] = self.options["model"]
        return body

    def encode_generate(self, request: GenerateRequest) -> dict[str, Any]:
        if request.messages is not None:
            instance = self._chat_body(request)
        else:
            instance = {"inputs": request.prompt, "parameters": self._parameters(request)}
        instance.update(request.extra)
        return {"instances": [instance]}

    def decode_generate(self, body: Any, request: GenerateRequest) -> Generated:
        predictions = _predictions(body)
        first = predictions[0] if predictions else ""
        if isinstance(first, Mapping):  # an older image answering with the object itself
            if "choices" in first:
                return _chat_completion(first)
            return Generated(text=str(first.get("generated_text", "")))
        return Generated(text=str(first))

    def encode_stream(self, request: GenerateRequest) -> dict[str, Any]:
        if request.messages is not None:
            body = {**self._chat_body(request), "stream": True}
        else:
            body = {"inputs": request.prompt, "parameters": self._parameters(request), "stream": True}
        body.update(request.extra)
        return body

    def stream_parser(self, request: GenerateRequest) -> StreamParser:
        return TGIStreamParser()


class OpenAIChatCodec(Codec):
    """OpenAI chat completions through ``rawPredict`` / ``streamRawPredict`` (vLLM or TGI
    OpenAI servers, SSE with ``[DONE]``). Options: ``model`` (default "")."""

    name = "openai"
    generate_rpc = "raw_predict"
    stream_rpc = "stream_raw_predict"
    chat = True
    prompt = False
    tools = True
    seed = True

    def _body(self, request: GenerateRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.options.get("model", ""),
            "messages": _messages(request),
            **_openai_params(request),
        }
        body.pop("top_k", None)
        if request.tools:
            body["tools"] = list(request.tools)
        body.update(request.extra)
        return body

    def encode_generate(self, request: GenerateRequest) -> dict[str, Any]:
        return self._body(request)

    def decode_generate(self, body: Any, request: GenerateRequest) -> Generated:
        return _chat_completion(body)

    def encode_stream(self, request: GenerateRequest) -> dict[str, Any]:
        return {**self._body(request), "stream": True, "stream_options": {"include_usage": True}}

    def stream_parser(self, request: GenerateRequest) -> StreamParser:
        return OpenAIStreamParser()


def _vectors(prediction: Any) -> list[list[float]]:
    """TEI answers each instance with a list of vectors; accept a flat vector too."""
    if isinstance(prediction, Mapping):
        for key in ("embeddings", "embedding"):
            if key in prediction:
                return _vectors(prediction[key])
    if isinstance(prediction, list) and prediction and isinstance(prediction[0], (int, float)):
        return [[float(v) for v in prediction]]
    if isinstance(prediction, list):
        out: list[list[float]] = []
        for item in prediction:
            out += _vectors(item)
        return out
    raise ModelError(f"cannot read an embedding from {type(prediction).__name__}", provider="vertex")


class TEICodec(Codec):
    """Hugging Face TEI on Vertex: ``instances[{inputs}]`` → ``predictions[[[f32]]]``."""

    name = "tei"
    embed_rpc = "predict"

    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        instances = []
        for text in request.texts:
            instance: dict[str, Any] = {"inputs": text}
            if request.normalize is not None:
                instance["normalize"] = request.normalize
            instance.update(request.extra)
            instances.append(instance)
        return {"instances": instances}

    def decode_embed(self, body: Any, request: EmbedRequest) -> Embedded:
        return Embedded(vectors=_vectors(_predictions(body)))


class GoogleEmbeddingsCodec(Codec):
    """Google text embeddings: ``instances[{content, task_type?}]`` →
    ``predictions[{embeddings: {values, statistics: {token_count}}}]``.

    Options: ``task_type`` (e.g. ``RETRIEVAL_DOCUMENT``), ``auto_truncate``,
    ``output_dimensionality``.
    """

    name = "google-embeddings"
    embed_rpc = "predict"

    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        task = self.options.get("task_type")
        instances = [{"content": t, **({"task_type": task} if task else {})} for t in request.texts]
        parameters: dict[str, Any] = {}
        if "auto_truncate" in self.options:
            parameters["autoTruncate"] = bool(self.options["auto_truncate"])
        if "output_dimensionality" in self.options:
            parameters["outputDimensionality"] = int(self.options["output_dimensionality"])
        parameters.update(request.extra)
        return {"instances": instances, **({"parameters": parameters} if parameters else {})}

    def decode_embed(self, body: Any, request: EmbedRequest) -> Embedded:
        vectors: list[list[float]] = []
        tokens = 0
        counted = True
        for prediction in _predictions(body):
            embeddings = prediction.get("embeddings") if isinstance(prediction, Mapping) else None
            if not isinstance(embeddings, Mapping) or "values" not in embeddings:
                raise ModelError(
                    "prediction has no embeddings.values", provider="vertex", details={"prediction": prediction}
                )
            vectors.append([float(v) for v in embeddings["values"]])
            count = (embeddings.get("statistics") or {}).get("token_count")
            if count is None:
                counted = False
            else:
                tokens += int(count)
        usage = Usage(input_tokens=tokens, output_tokens=0, source="server") if counted and vectors else None
        return Embedded(vectors=vectors, usage=usage)


BUILTIN_CODECS: dict[str, type[Codec]] = {
    codec.name: codec for codec in (VLLMCodec, TGICodec, OpenAIChatCodec, TEICodec, GoogleEmbeddingsCodec)
}


def load_codec(name: str, options: Mapping[str, Any]) -> Codec:
    """Build the codec called ``name``; ``custom`` imports ``options["class"]``.

    :raises ConfigError: naming the field when the class cannot be loaded.
    """
    if name != "custom":
        return BUILTIN_CODECS[name](options)
    options = dict(options)
    path = str(options.pop("class"))
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"'{path}' is not 'package.module:Class'", field="codec_options.class")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load codec '{path}': {exc}", field="codec_options.class") from exc
    if not (isinstance(target, type) and issubclass(target, Codec)):
        raise ConfigError(f"'{path}' is not a byom_vertex.Codec subclass", field="codec_options.class")
    return target(options)
