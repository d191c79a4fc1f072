"""The OpenAI-compatible API and Salesforce's LLM Open Connector.

``/v1/chat/completions`` (SSE with ``stream_options.include_usage``), ``/v1/completions``,
``/v1/embeddings`` and ``/v1/models`` as openai-python reads them; ``/chat/completions``
as the Open Connector specification (salesforce/einstein-platform, OpenAPI 3.0, "v1")
declares it. The chat and completion bodies and their streams are also what the SageMaker
and Vertex container routes answer to OpenAI-shaped requests.

``tools``, ``tool_choice`` and ``response_format`` (``json_object`` / ``json_schema``) pass
through to the contract's own fields, so the model answers natively or the SDK emulates
them. What byom's contract cannot honour is refused with a 400 naming the field, never
silently dropped: OpenAI parameters it has no use for are accepted only at their no-op
value (``logprobs: false``, ``frequency_penalty: 0``, ``logit_bias: {}``, …: see
``_openai_body._NO_OP``), non-text content parts and malformed tool-call histories are refused, and on
the ``/v1`` routes so is any parameter the route does not read (``unknown_parameter``), as
OpenAI refuses an unrecognized argument.
"""

from __future__ import annotations

import base64
import sys
import time
from array import array
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from byom_sdk import (
    ByomError,
    FinishEvent,
    GenerateResponse,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)

from ._app import Call, ServeState, endpoint, openai_error
from ._calls import (
    EventStream,
    ServeError,
    classify,
    dumps,
    frames_of,
    gather_all,
    guarded,
    invalid,
    opt_bool,
    opt_dict,
    opt_int,
)
from ._openai_body import (
    _CHAT_PARAMETERS,
    _COMPLETION_PARAMETERS,
    _EMBEDDING_PARAMETERS,
    _model_name,
    _object,
    end_user,
    parse_messages,
    read_openai,
    refuse_unknown,
    sampling,
)

__all__ = [
    "chat_completion",
    "connector_routes",
    "openai_routes",
    "respond_openai",
    "usage_json",
]

#: byom finish reasons → the OpenAI / Open Connector enum (a failed generation raises
#: instead, so ``error`` only appears if a provider reports it on a finished answer).
_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter", "tool_calls": "tool_calls"}


def finish(reason: str) -> str:
    return _FINISH.get(reason, "stop")


def usage_json(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _tool_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]


def _total_usage(results: Sequence[GenerateResponse]) -> dict[str, int]:
    prompt = results[0].usage.input_tokens
    completion = sum(r.usage.output_tokens for r in results)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_completion(
    results: Sequence[GenerateResponse], *, request_id: str, model: str, created: int, connector: bool = False
) -> dict[str, Any]:
    """A ``chat.completion``; ``connector`` keeps to the Open Connector's fields."""
    choices = []
    for index, result in enumerate(results):
        message: dict[str, Any] = {"role": "assistant", "content": result.text}
        choice: dict[str, Any] = {"index": index, "message": message, "finish_reason": finish(result.finish_reason)}
        if not connector:
            if result.tool_calls:
                message["tool_calls"] = _tool_calls(result.tool_calls)
                message["content"] = result.text or None
            message["refusal"] = None
            choice["logprobs"] = None
        choices.append(choice)
    body: dict[str, Any] = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": _total_usage(results),
    }
    if not connector:
        body["system_fingerprint"] = None
    return body


def text_completion(
    results: Sequence[GenerateResponse], *, request_id: str, model: str, created: int
) -> dict[str, Any]:
    return {
        "id": f"cmpl-{request_id}",
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": i, "text": r.text, "logprobs": None, "finish_reason": finish(r.finish_reason)}
            for i, r in enumerate(results)
        ],
        "usage": _total_usage(results),
        "system_fingerprint": None,
    }


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


# -- streaming --------------------------------------------------------------------------------


def _frame(payload: bytes, sse: bool) -> bytes:
    return b"data: " + payload + b"\n\n" if sse else payload + b"\n"


def error_frame(error: ServeError, sse: bool) -> bytes:
    """An in-band error after a 200: openai-python raises ``APIError`` on it."""
    body = {"error": {"message": error.message, "type": error.kind, "param": error.param, "code": error.code}}
    return _frame(dumps(body), sse)


async def _first(stream: AsyncIterator[StreamEvent]) -> StreamEvent | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


async def open_stream(call: Call, stream: Any) -> StreamEvent | None:
    """The first event, read before any byte is sent: a refusal or failure here is still
    an ordinary HTTP error with its status."""
    return await guarded(call.request.receive, _first(stream), call.deadline, call.timeout)


async def openai_events(
    stream: Any,
    first: StreamEvent | None,
    *,
    chat: bool,
    request_id: str,
    model: str,
    created: int,
    include_usage: bool,
    sse: bool,
) -> AsyncIterator[bytes]:
    """``chat.completion.chunk`` (or ``text_completion``) events, ``[DONE]`` for SSE."""
    head = {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{request_id}",
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
    }

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        out: dict[str, Any] = {**head, "choices": choices}
        if include_usage:
            out["usage"] = usage
        return _frame(dumps(out), sse)

    def text(value: str) -> list[dict[str, Any]]:
        if chat:
            return [{"index": 0, "delta": {"content": value}, "logprobs": None, "finish_reason": None}]
        return [{"index": 0, "text": value, "logprobs": None, "finish_reason": None}]

    usage: Usage | None = None
    reason = "stop"
    tool_index = 0
    try:
        if chat:
            yield chunk(
                [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}]
            )

        def handle(event: StreamEvent) -> bytes | None:
            nonlocal usage, reason, tool_index
            if isinstance(event, TextDelta):
                return chunk(text(event.text)) if event.text else None
            if isinstance(event, ToolCallEvent) and chat:
                call = _tool_calls([event.tool_call])[0]
                tool_index += 1
                delta = {"tool_calls": [{"index": tool_index - 1, **call}]}
                return chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])
            if isinstance(event, UsageEvent):
                usage = event.usage
            elif isinstance(event, FinishEvent):
                reason = event.finish_reason
                usage = event.usage or usage
            return None

        async for frame in frames_of(first, stream, handle):
            yield frame
        last: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish(reason)}
        if chat:
            last["delta"] = {}
        else:
            last["text"] = ""
        yield chunk([last])
        if include_usage:
            yield chunk([], usage_json(usage))
        if sse:
            yield b"data: [DONE]\n\n"
    except ByomError as exc:
        yield error_frame(classify(exc, model=model, request_id=request_id), sse)
    finally:
        await stream.aclose()


def timeout_frame(call: Call, sse: bool) -> bytes:
    error = ServeError(504, f"the request did not finish within {call.timeout:g} s", kind="timeout", code="timeout")
    return error_frame(error, sse)


async def respond_openai(
    call: Call, model: Any, alias: str, body: Mapping[str, Any], *, chat: bool, sse: bool = True
) -> Response:
    """Answer an OpenAI chat (``chat``) or completions body: JSON, or a stream when the body
    says ``stream: true`` (SSE, or JSON Lines with ``sse=False``)."""
    # A text completion has no place for tool calls: `tools` is refused there (chat only).
    wanted = read_openai(body, model, chat=chat, max_n=call.state.settings.max_n, tool_calls=chat)
    source, params = wanted.source, wanted.params
    metadata = call.metadata(**wanted.tags)
    created = int(time.time())
    if wanted.stream:
        stream = model.astream(source, metadata=metadata, **params)
        first = await open_stream(call, stream)
        events = openai_events(
            stream,
            first,
            chat=chat,
            request_id=call.request_id,
            model=alias,
            created=created,
            include_usage=wanted.include_usage,
            sse=sse,
        )
        return EventStream(
            events,
            media_type="text/event-stream" if sse else "application/jsonlines",
            deadline=call.deadline,
            on_timeout=lambda: timeout_frame(call, sse),
        )
    calls = [model.agenerate(source, metadata=metadata, **params) for _ in range(wanted.n)]
    results = await gather_all(call.request.receive, calls, call.deadline, call.timeout)
    render = chat_completion if chat else text_completion
    return json_response(render(results, request_id=call.request_id, model=alias, created=created))


# -- routes -----------------------------------------------------------------------------------


async def _chat(call: Call) -> Response:
    body = _object(await call.json())
    refuse_unknown(body, _CHAT_PARAMETERS)
    alias = _model_name(body)
    model = await call.model(alias)
    return await respond_openai(call, model, alias, body, chat=True)


async def _completions(call: Call) -> Response:
    body = _object(await call.json())
    refuse_unknown(body, _COMPLETION_PARAMETERS)
    alias = _model_name(body)
    model = await call.model(alias)
    return await respond_openai(call, model, alias, body, chat=False)


async def _embeddings(call: Call) -> Response:
    body = _object(await call.json())
    refuse_unknown(body, _EMBEDDING_PARAMETERS)
    alias = _model_name(body)
    model = await call.model(alias)
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise invalid("input", "'input' must be a string or a non-empty list of strings (no token arrays)")
    if any(not t for t in texts):
        raise invalid("input", "'input' must not contain empty strings")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid("encoding_format", "'encoding_format' must be 'float' or 'base64'")
    dimensions = opt_int(body, "dimensions", low=1)
    if dimensions is not None and dimensions != model.info.embedding_dimension:
        raise ServeError(
            400,
            f"'dimensions' must be the model's own ({model.info.embedding_dimension}): vectors are not truncated",
            param="dimensions",
            code="unsupported_parameter",
        )
    tags = end_user(body)
    result = await guarded(
        call.request.receive, model.aembed(texts, metadata=call.metadata(**tags)), call.deadline, call.timeout
    )
    data = []
    for index, vector in enumerate(result.vectors):
        embedding: Any = list(vector)
        if encoding == "base64":
            packed = array("f", vector)
            if sys.byteorder != "little":
                packed.byteswap()  # the wire format is little-endian float32
            embedding = base64.b64encode(packed.tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = result.usage.input_tokens if result.usage else 0
    return json_response(
        {"object": "list", "data": data, "model": alias, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )


def _model_object(state: ServeState, alias: str) -> dict[str, Any]:
    owner = state.models[alias].info.provider if alias in state.models else "byom"
    return {"id": alias, "object": "model", "created": state.created, "owned_by": owner}


async def _list_models(call: Call) -> Response:
    state = call.state
    aliases = [a for a in state.aliases if call.identity.may_use(a)]
    return json_response({"object": "list", "data": [_model_object(state, a) for a in aliases]})


async def _get_model(call: Call) -> Response:
    alias = str(call.request.path_params["model"])
    await call.model(alias, param="model")
    return json_response(_model_object(call.state, alias))


def openai_routes(state: ServeState) -> list[BaseRoute]:
    def wrap(handler: Any) -> Any:
        return endpoint(state, "openai", openai_error, handler, auth=True)

    return [
        Route("/v1/chat/completions", wrap(_chat), methods=["POST"]),
        Route("/v1/completions", wrap(_completions), methods=["POST"]),
        Route("/v1/embeddings", wrap(_embeddings), methods=["POST"]),
        Route("/v1/models", wrap(_list_models), methods=["GET"]),
        Route("/v1/models/{model:path}", wrap(_get_model), methods=["GET"]),
    ]


# -- LLM Open Connector -------------------------------------------------------------------------

_CONNECTOR_PARAMETERS = ("top_p", "top_k", "stop", "seed")


async def _connector(call: Call) -> Response:
    """``POST /chat/completions`` per the LLM Open Connector specification."""
    body = _object(await call.json())
    alias = _model_name(body)
    model = await call.model(alias)
    if opt_bool(body, "stream"):
        raise ServeError(
            400, "the LLM Open Connector does not stream; send stream=false", param="stream", code="unsupported_stream"
        )
    messages = parse_messages(body.get("messages"), connector=True)
    # Provider extras ride in `parameters`; only the ones the contract knows are used,
    # since anything passed through untouched would bypass masking.
    extras = opt_dict(body, "parameters")
    params = sampling({k: extras[k] for k in _CONNECTOR_PARAMETERS if k in extras}, model, where="parameters")
    top = {"max_tokens": body.get("max_tokens"), "temperature": body.get("temperature")}
    params.update(sampling(top, model))
    n = opt_int(body, "n", low=1, high=128) or 1
    if n > call.state.settings.max_n:
        raise invalid("n", f"'n' must be at most {call.state.settings.max_n} on this server")
    metadata = call.metadata()
    calls = [model.agenerate(messages, metadata=metadata, **params) for _ in range(n)]
    results = await gather_all(call.request.receive, calls, call.deadline, call.timeout)
    return json_response(
        chat_completion(results, request_id=call.request_id, model=alias, created=int(time.time()), connector=True)
    )


def connector_routes(state: ServeState) -> list[BaseRoute]:
    return [
        Route(
            "/chat/completions",
            endpoint(state, "open-connector", openai_error, _connector, auth=True),
            methods=["POST"],
        )
    ]
