"""Container personalities: what the model container behind an endpoint speaks.

Each personality parses a request body the way its container does, runs it on a byom
:class:`~byom_sdk.Model` (any model: the scripted double, a local ONNX model, ...), and
writes the answer in the container's format. They are written from the container's side,
independently of the client codecs, so a codec bug shows up as a failing test rather
than as two mirrored mistakes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from byom_sdk import (
    BadRequest,
    ByomError,
    FinishEvent,
    GenerateRequest,
    Model,
    TextDelta,
    Throttled,
    ToolCallEvent,
    Unavailable,
    UsageEvent,
    messages_from_openai,
)

__all__ = [
    "ContainerFailure",
    "JumpStartPersonality",
    "LMIPersonality",
    "OpenAIPersonality",
    "Personality",
    "TEIPersonality",
    "TGIPersonality",
    "personality_for",
]


class ContainerFailure(Exception):
    """The container answered with an error status; SageMaker turns it into a ModelError.

    :param status: the container's HTTP status (becomes ``OriginalStatusCode``).
    :param body: the container's error body (becomes ``OriginalMessage``).
    """

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = dict(body)


def failure_from(error: ByomError) -> ContainerFailure:
    """The container status a backing model's error stands for."""
    if isinstance(error, Throttled):
        return ContainerFailure(429, {"error": "Model is overloaded", "error_type": "overloaded"})
    if isinstance(error, Unavailable):
        return ContainerFailure(503, {"error": str(error), "error_type": "unavailable"})
    if isinstance(error, BadRequest):
        return ContainerFailure(422, {"error": str(error), "error_type": "validation"})
    return ContainerFailure(500, {"error": str(error), "error_type": "generation"})


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ContainerFailure(
            400, {"error": f"Failed to deserialize the JSON body: {exc}", "error_type": "validation"}
        ) from None


def _invalid(message: str) -> ContainerFailure:
    return ContainerFailure(422, {"error": message, "error_type": "validation"})


def _request(**fields: Any) -> GenerateRequest:
    clean = {k: v for k, v in fields.items() if v is not None}
    try:
        return GenerateRequest(**clean)
    except ValueError as exc:
        raise _invalid(f"invalid parameters: {exc}") from None


class Personality:
    """Base class: override :meth:`invoke` and (for streaming containers) :meth:`stream`.

    ``headers`` are the request headers as SageMaker forwards them (lower-case names).
    """

    name = "custom"
    #: Content type of streamed output (``X-Amzn-SageMaker-Content-Type``).
    stream_content_type = "text/event-stream"

    def invoke(self, model: Model, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str]:
        """Answer a non-streamed call: ``(body, content type)``."""
        raise ContainerFailure(404, {"error": f"the {self.name} container has no invocations route"})

    def stream(self, model: Model, body: bytes, headers: Mapping[str, str]) -> Iterator[bytes]:
        """The container's streamed output as the byte chunks it writes."""
        raise ContainerFailure(400, {"error": f"the {self.name} container does not stream"})

    @staticmethod
    def generate(model: Model, request: GenerateRequest) -> Any:
        try:
            return model.generate(_followable(model, request))
        except ByomError as exc:
            raise failure_from(exc) from exc

    @staticmethod
    def events(model: Model, request: GenerateRequest) -> Iterator[Any]:
        try:
            yield from model.stream(_followable(model, request))
        except ByomError as exc:
            raise failure_from(exc) from exc


def _followable(model: Model, request: GenerateRequest) -> GenerateRequest:
    """The request for the backing model: a schema (``response_format``, a TGI grammar) goes
    along only when that model follows schemas itself (``ScriptedModel(structured=True)``, a
    local ONNX model); any other backing answers as it always does."""
    if request.response_format is not None and model.info.capabilities.structured_output not in (
        "native",
        "constrained",
    ):
        return request.model_copy(update={"response_format": None})
    return request


def _tgi_finish(reason: str) -> str:
    return {"length": "length", "stop": "eos_token"}.get(reason, reason)


class TGIPersonality(Personality):
    """Hugging Face TGI: ``{"inputs", "parameters"}`` → list; SSE token events.

    Like TGI's router, a body with ``messages`` goes to the chat route.
    """

    name = "tgi"

    def _request(self, data: Mapping[str, Any], stop_key: str = "stop") -> GenerateRequest:
        if not isinstance(data.get("inputs"), str):
            raise _invalid("`inputs` must be a string")
        params = data.get("parameters") or {}
        temperature = params.get("temperature")
        if temperature is not None and temperature <= 0:
            raise _invalid("`temperature` must be strictly positive")
        top_p = params.get("top_p")
        if top_p is not None and not 0 < top_p < 1:
            raise _invalid("`top_p` must be > 0.0 and < 1.0")
        if params.get("top_k") is not None and params["top_k"] <= 0:
            raise _invalid("`top_k` must be strictly positive")
        grammar = params.get("grammar")
        response_format = None
        if isinstance(grammar, Mapping) and grammar.get("type") in ("json", "json_object"):
            response_format = {"type": "json_schema", "json_schema": {"name": "grammar", "schema": grammar["value"]}}
        return _request(
            prompt=data["inputs"],
            max_tokens=params.get("max_new_tokens"),
            temperature=temperature,
            top_p=top_p,
            top_k=params.get("top_k"),
            stop=tuple(params.get(stop_key) or ()),
            seed=params.get("seed"),
            response_format=response_format,
        )

    def invoke(self, model: Model, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str]:
        data = _json(body)
        if isinstance(data, Mapping) and "messages" in data:
            return OpenAIPersonality().invoke(model, body, headers)
        request = self._request(data)
        reply = self.generate(model, request)
        item: dict[str, Any] = {"generated_text": reply.text}
        if (data.get("parameters") or {}).get("details"):
            item["details"] = {
                "finish_reason": _tgi_finish(reply.finish_reason),
                "generated_tokens": reply.usage.output_tokens,
                "seed": request.seed,
                "prefill": [],
            }
        return json.dumps([item]).encode(), "application/json"

    def _token_records(self, model: Model, request: GenerateRequest) -> Iterator[dict[str, Any]]:
        index, text, pending = 0, [], None
        for event in self.events(model, request):
            if isinstance(event, TextDelta):
                if pending is not None:
                    yield pending
                index += 1
                text.append(event.text)
                pending = {
                    "index": index,
                    "token": {"id": index, "text": event.text, "logprob": -0.25, "special": False},
                    "generated_text": None,
                    "details": None,
                }
            elif isinstance(event, FinishEvent):
                details = {
                    "finish_reason": _tgi_finish(event.finish_reason),
                    "generated_tokens": index,
                    "seed": request.seed,
                }
                if event.finish_reason == "length" and pending is not None:
                    pending.update(generated_text="".join(text), details=details)
                    yield pending
                    return
                if pending is not None:
                    yield pending
                yield {
                    "index": index + 1,
                    "token": {"id": 2, "text": "</s>", "logprob": 0.0, "special": True},
                    "generated_text": "".join(text),
                    "details": details,
                }

    def stream(self, model: Model, body: bytes, headers: Mapping[str, str]) -> Iterator[bytes]:
        data = _json(body)
        if isinstance(data, Mapping) and "messages" in data:
            yield from OpenAIPersonality().stream(model, body, headers)
            return
        for record in self._token_records(model, self._request(data)):
            # TGI writes no space after "data:"; clients must accept both.
            yield b"data:" + json.dumps(record).encode() + b"\n\n"


class LMIPersonality(TGIPersonality):
    """DJL / LMI rolling batch: object response; JSON Lines stream (or SSE).

    :param stream_format: ``jsonlines`` (default) or ``sse`` (``option.output_formatter=sse``).
    """

    name = "lmi"

    def __init__(self, *, stream_format: str = "jsonlines") -> None:
        self.stream_format = stream_format
        self.stream_content_type = "text/event-stream" if stream_format == "sse" else "application/jsonlines"

    def _request(self, data: Mapping[str, Any], stop_key: str = "stop_sequences") -> GenerateRequest:
        params = data.get("parameters") or {}
        if params.get("do_sample") is False:
            params = {k: v for k, v in params.items() if k not in ("temperature", "top_p", "top_k")}
        return _request(
            prompt=data.get("inputs"),
            max_tokens=params.get("max_new_tokens"),
            temperature=params.get("temperature"),
            top_p=params.get("top_p"),
            top_k=params.get("top_k"),
            stop=tuple(params.get(stop_key) or ()),
            seed=params.get("seed"),
        )

    def invoke(self, model: Model, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str]:
        data = _json(body)
        if isinstance(data, Mapping) and "messages" in data:
            return OpenAIPersonality(stream_format="jsonlines").invoke(model, body, headers)
        reply = self.generate(model, self._request(data))
        out = {
            "generated_text": reply.text,
            "details": {
                "finish_reason": _tgi_finish(reply.finish_reason),
                "generated_tokens": reply.usage.output_tokens,
                "inputs": data.get("inputs"),
            },
        }
        return json.dumps(out).encode(), "application/json"

    def stream(self, model: Model, body: bytes, headers: Mapping[str, str]) -> Iterator[bytes]:
        data = _json(body)
        if isinstance(data, Mapping) and "messages" in data:
            yield from OpenAIPersonality(stream_format=self.stream_format).stream(model, body, headers)
            return
        prefix = b"data: " if self.stream_format == "sse" else b""
        suffix = b"\n\n" if self.stream_format == "sse" else b"\n"
        for record in self._token_records(model, self._request(data)):
            token = record["token"]
            line: dict[str, Any] = {"token": {"id": token["id"], "text": token["text"], "log_prob": -0.25}}
            if token["special"]:
                line["token"]["text"] = ""
            if record["details"] is not None:
                line["generated_text"] = record["generated_text"]
                line["details"] = record["details"]
            yield prefix + json.dumps(line).encode() + suffix


class OpenAIPersonality(Personality):
    """OpenAI-compatible chat completions (TGI Messages API, vLLM, LMI chat).

    :param stream_format: ``sse`` (``data: {...}`` + ``[DONE]``) or ``jsonlines``.
    """

    name = "openai"

    def __init__(self, *, stream_format: str = "sse") -> None:
        self.stream_format = stream_format
        self.stream_content_type = "text/event-stream" if stream_format == "sse" else "application/jsonlines"

    @staticmethod
    def _request(data: Any) -> GenerateRequest:
        if not isinstance(data, Mapping) or not isinstance(data.get("messages"), list):
            raise _invalid("`messages` must be a list")
        stop = data.get("stop")
        try:
            messages = messages_from_openai(data["messages"])
        except ValueError as exc:
            raise _invalid(f"invalid messages: {exc}") from None
        tools = data.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise _invalid("`tools` must be a list")
        return _request(
            messages=messages,
            max_tokens=data.get("max_tokens"),
            temperature=data.get("temperature"),
            top_p=data.get("top_p"),
            top_k=data.get("top_k"),
            stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
            seed=data.get("seed"),
            tools=tuple(tools or ()) or None,
            tool_choice=data.get("tool_choice"),
            response_format=data.get("response_format"),
        )

    def invoke(self, model: Model, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str]:
        data = _json(body)
        reply = self.generate(model, self._request(data))
        out = {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "created": 0,
            "model": data.get("model") or "local",
            "choices": [
                {
                    "index": 0,
                    "message": _message(reply),
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": reply.usage.input_tokens,
                "completion_tokens": reply.usage.output_tokens,
                "total_tokens": reply.usage.total_tokens,
            },
        }
        return json.dumps(out).encode(), "application/json"

    def stream(self, model: Model, body: bytes, headers: Mapping[str, str]) -> Iterator[bytes]:
        data = _json(body)
        request = self._request(data)
        sse = self.stream_format == "sse"

        def frame(value: Any) -> bytes:
            raw = json.dumps(value).encode()
            return b"data: " + raw + b"\n\n" if sse else raw + b"\n"

        base = {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": data.get("model") or "local",
        }
        yield frame(
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        )
        usage = None
        calls = 0
        for event in self.events(model, request):
            if isinstance(event, TextDelta):
                yield frame(
                    {**base, "choices": [{"index": 0, "delta": {"content": event.text}, "finish_reason": None}]}
                )
            elif isinstance(event, ToolCallEvent):
                # vLLM's shape: id, type and name first, then the arguments in fragments.
                call, index = event.tool_call, calls
                calls += 1
                head = {
                    "index": index,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                yield frame({**base, "choices": [{"index": 0, "delta": {"tool_calls": [head]}, "finish_reason": None}]})
                for start in range(0, len(call.arguments), 8):
                    fragment = {"index": index, "function": {"arguments": call.arguments[start : start + 8]}}
                    yield frame(
                        {**base, "choices": [{"index": 0, "delta": {"tool_calls": [fragment]}, "finish_reason": None}]}
                    )
            elif isinstance(event, UsageEvent):
                usage = event.usage
            elif isinstance(event, FinishEvent):
                usage = usage or event.usage
                yield frame({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": event.finish_reason}]})
        if usage is not None and (data.get("stream_options") or {}).get("include_usage"):
            yield frame(
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": usage.input_tokens,
                        "completion_tokens": usage.output_tokens,
                        "total_tokens": usage.total_tokens,
                    },
                }
            )
        if sse:
            yield b"data: [DONE]\n\n"


def _message(reply: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    elif message["content"] is None:
        message["content"] = ""
    return message


class JumpStartPersonality(Personality):
    """JumpStart containers; ``variant`` as in :class:`byom_sagemaker.JumpStartCodec`.

    The Llama variants refuse calls whose CustomAttributes lack ``accept_eula=true``.
    """

    name = "jumpstart"

    def __init__(self, *, variant: str = "text2text") -> None:
        self.variant = variant

    def _check_eula(self, headers: Mapping[str, str]) -> None:
        attributes = headers.get("x-amzn-sagemaker-custom-attributes", "")
        if self.variant.startswith("llama") and "accept_eula=true" not in attributes.replace(" ", "").split(";"):
            raise ContainerFailure(
                400,
                {
                    "error": "Need to pass custom_attributes='accept_eula=true' as part of "
                    "header. This means you have read and accept the end-user-license "
                    "agreement (EULA) of the model."
                },
            )

    def _llama_request(self, data: Any) -> GenerateRequest:
        params = data.get("parameters") or {}
        if params.get("do_sample") is False:
            params = {k: v for k, v in params.items() if k not in ("temperature", "top_p")}
        fields = {
            "max_tokens": params.get("max_new_tokens"),
            "temperature": params.get("temperature"),
            "top_p": params.get("top_p"),
        }
        if self.variant == "llama-chat":
            dialogs = data.get("inputs")
            if not (isinstance(dialogs, list) and dialogs and isinstance(dialogs[0], list)):
                raise _invalid("`inputs` must be a list of dialogs (a list of message lists)")
            return _request(messages=tuple(dialogs[0]), **fields)
        return _request(prompt=data.get("inputs"), **fields)

    def invoke(self, model: Model, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str]:
        data = _json(body)
        self._check_eula(headers)
        if self.variant == "embedding":
            texts = data.get("text_inputs")
            texts = [texts] if isinstance(texts, str) else texts
            try:
                vectors = model.embed(texts)
            except ByomError as exc:
                raise failure_from(exc) from exc
            return json.dumps({"embedding": [list(v) for v in vectors.vectors]}).encode(), "application/json"
        if self.variant == "text2text":
            if "text_inputs" not in data:
                raise ContainerFailure(400, {"error": "Input payload must contain text_inputs key."})
            sample = data.get("do_sample", True)
            reply = self.generate(
                model,
                _request(
                    prompt=data["text_inputs"],
                    max_tokens=data.get("max_length"),
                    temperature=data.get("temperature") if sample else None,
                    top_p=data.get("top_p") if sample else None,
                    top_k=data.get("top_k") if sample else None,
                    seed=data.get("seed"),
                ),
            )
            return json.dumps({"generated_texts": [reply.text]}).encode(), "application/json"
        reply = self.generate(model, self._llama_request(data))
        generation: Any = reply.text
        if self.variant == "llama-chat":
            generation = {"role": "assistant", "content": reply.text}
        return json.dumps([{"generation": generation}]).encode(), "application/json"

    def stream(self, model: Model, body: bytes, headers: Mapping[str, str]) -> Iterator[bytes]:
        if not self.variant.startswith("llama"):
            yield from super().stream(model, body, headers)
            return
        data = _json(body)
        self._check_eula(headers)
        for record in TGIPersonality()._token_records(model, self._llama_request(data)):
            yield b"data: " + json.dumps(record).encode() + b"\n\n"


class TEIPersonality(Personality):
    """Hugging Face TEI embeddings: ``{"inputs", "normalize"=true, "truncate"}`` → ``[[...]]``."""

    name = "tei"

    def invoke(self, model: Model, body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str]:
        data = _json(body)
        texts = data.get("inputs") if isinstance(data, Mapping) else None
        texts = [texts] if isinstance(texts, str) else texts
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ContainerFailure(
                422, {"error": "`inputs` must be a string or a non-empty list of strings", "error_type": "validation"}
            )
        try:
            reply = model.embed(texts, normalize=data.get("normalize", True))
        except ByomError as exc:
            raise failure_from(exc) from exc
        return json.dumps([list(v) for v in reply.vectors]).encode(), "application/json"


def personality_for(codec: str, **options: Any) -> Personality:
    """The built-in personality matching a codec name, with its options."""
    if codec == "tgi":
        return TGIPersonality()
    if codec == "lmi":
        return LMIPersonality(**options)
    if codec == "openai":
        return OpenAIPersonality(**options)
    if codec == "jumpstart":
        return JumpStartPersonality(**options)
    if codec == "tei":
        return TEIPersonality()
    raise ValueError(f"no built-in personality for codec {codec!r}; pass a Personality instance")
