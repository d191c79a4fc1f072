"""The OpenAI-compatible wire format: request bodies, responses, SSE chunks and errors.

Pure functions over dicts and bytes, so every server quirk is testable without a socket.
Sources: the OpenAI API reference (chat completions, completions, embeddings, streaming
with ``stream_options.include_usage``) and the vLLM, TGI Messages API, Ollama and
llama.cpp server docs, which implement the same shapes.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from byom_sdk import (
    AuthError,
    BadRequest,
    EmbedRequest,
    FinishEvent,
    FinishReason,
    GenerateRequest,
    ModelError,
    ProviderError,
    StreamEvent,
    TextDelta,
    Throttled,
    Timeout,
    ToolCall,
    ToolCallEvent,
    Unavailable,
    Usage,
    UsageEvent,
    messages_to_openai,
)

__all__ = [
    "PROVIDER",
    "StreamState",
    "chat_body",
    "completion_body",
    "embed_body",
    "error_for_status",
    "finish_reason",
    "iter_sse_data",
    "retry_after_seconds",
    "usage_from",
]

PROVIDER = "openai-compat"

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",  # TGI
    "eos_token": "stop",  # TGI / older vLLM
    "stop_sequence": "stop",  # TGI
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def finish_reason(value: object) -> FinishReason:
    """Map a server's finish reason; unknown or missing reasons count as a normal stop."""
    return _FINISH.get(str(value), "stop") if value else "stop"


def _sampling(request: GenerateRequest) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k  # vLLM, llama.cpp and Ollama accept it; OpenAI does not
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    return body


def _stream_fields(stream: bool, usage: bool) -> dict[str, Any]:
    if not stream:
        return {}
    fields: dict[str, Any] = {"stream": True}
    if usage:
        fields["stream_options"] = {"include_usage": True}
    return fields


def chat_body(request: GenerateRequest, model: str, *, stream: bool, stream_usage: bool) -> dict[str, Any]:
    """The ``/chat/completions`` body for ``request``."""
    messages = messages_to_openai(request.as_messages())
    body: dict[str, Any] = {"model": model, "messages": messages, **_sampling(request)}
    if request.tools:
        body["tools"] = list(request.tools)
    body.update(_stream_fields(stream, stream_usage))
    body.update(request.extra)
    return body


def completion_body(request: GenerateRequest, model: str, *, stream: bool, stream_usage: bool) -> dict[str, Any]:
    """The ``/completions`` body for a plain-prompt ``request``."""
    body: dict[str, Any] = {"model": model, "prompt": request.prompt or "", **_sampling(request)}
    body.update(_stream_fields(stream, stream_usage))
    body.update(request.extra)
    return body


def embed_body(request: EmbedRequest, model: str) -> dict[str, Any]:
    return {"model": model, "input": list(request.texts), "encoding_format": "float", **request.extra}


def usage_from(payload: Mapping[str, Any] | None) -> Usage | None:
    """``usage`` of a response or chunk, when the server sent one."""
    if not isinstance(payload, Mapping):
        return None
    usage = payload.get("usage")
    if not isinstance(usage, Mapping) or "prompt_tokens" not in usage:
        return None
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        source="server",
    )


def tool_calls_from(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"call_{index}"),
                name=str(function.get("name") or ""),
                arguments=str(function.get("arguments") or "{}"),
            )
        )
    return tuple(calls)


# -- streaming ----------------------------------------------------------------------------


def iter_sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` payloads of an SSE stream, up to ``[DONE]``.

    Tolerant like the servers it talks to: ``data:`` with or without a space, comments
    (``:``), ``event:``/``id:`` fields and blank lines are skipped; multi-line data is
    joined with newlines as the SSE spec says.
    """
    pending: list[str] = []
    for line in lines:
        if not line:
            if pending:
                data = "\n".join(pending)
                pending = []
                if data.strip() == "[DONE]":
                    return
                yield data
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            pending.append(value[1:] if value.startswith(" ") else value)
    if pending:
        data = "\n".join(pending)
        if data.strip() != "[DONE]":
            yield data


@dataclass
class StreamState:
    """Turns chunk dicts into contract events; call :meth:`finish` when the stream ends."""

    chat: bool
    finish: FinishReason | None = None
    usage: Usage | None = None
    done: bool = False
    _tools: dict[int, dict[str, str]] = field(default_factory=dict)

    def feed(self, data: str) -> list[StreamEvent]:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ModelError(f"server sent a stream chunk that is not JSON: {data[:200]!r}", provider=PROVIDER) from exc
        if not isinstance(chunk, Mapping):
            raise ModelError(f"server sent a stream chunk that is not an object: {data[:200]!r}", provider=PROVIDER)
        if "error" in chunk:
            raise error_from_body(500, chunk, in_stream=True)
        events: list[StreamEvent] = []
        usage = usage_from(chunk)
        if usage is not None:
            self.usage = usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            if self.chat:
                delta = choice.get("delta") or {}
                text = delta.get("content")
                for call in delta.get("tool_calls") or ():
                    slot = self._tools.setdefault(int(call.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                    function = call.get("function") or {}
                    slot["id"] = call.get("id") or slot["id"]
                    slot["name"] += function.get("name") or ""
                    slot["arguments"] += function.get("arguments") or ""
            else:
                text = choice.get("text")
            if text:
                events.append(TextDelta(text=str(text)))
            if choice.get("finish_reason"):
                self.finish = finish_reason(choice["finish_reason"])
        return events

    def close(self) -> list[StreamEvent]:
        """The closing events: tool calls, usage, and the one FinishEvent."""
        if self.finish is None:
            raise Unavailable("stream ended before the server sent a finish reason", provider=PROVIDER)
        events: list[StreamEvent] = []
        for index in sorted(self._tools):
            slot = self._tools[index]
            events.append(
                ToolCallEvent(
                    tool_call=ToolCall(
                        id=slot["id"] or f"call_{index}",
                        name=slot["name"],
                        arguments=slot["arguments"] or "{}",
                    )
                )
            )
        if self.usage is not None:
            events.append(UsageEvent(usage=self.usage))
        events.append(FinishEvent(finish_reason=self.finish, usage=self.usage))
        return events


# -- errors -------------------------------------------------------------------------------


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _message_of(body: Any) -> tuple[str, str | None]:
    """(message, code) from OpenAI ``{"error": {...}}``, TGI ``{"error": "...",
    "error_type"}`` or FastAPI ``{"detail": ...}`` bodies."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            code = error.get("code") or error.get("type")
            return str(error.get("message") or error), str(code) if code else None
        if isinstance(error, str):
            kind = body.get("error_type")
            return error, str(kind) if kind else None
        if "detail" in body:
            return str(body["detail"]), None
        if "message" in body:
            return str(body["message"]), None
    return (str(body)[:500] if body else "no error body"), None


def error_from_body(
    status: int, body: Any, *, retry_after: str | None = None, in_stream: bool = False
) -> ProviderError:
    """The core error for an HTTP error status (or an in-stream error chunk)."""
    message, code = _message_of(body)
    where = "in stream" if in_stream else f"HTTP {status}"
    text = f"openai-compat server error ({where}): {message}"
    kwargs: dict[str, Any] = {
        "provider": PROVIDER,
        "status_code": None if in_stream else status,
        "code": code,
        "details": {"body": body} if isinstance(body, Mapping) else {},
    }
    if in_stream:
        if code in ("overloaded", "rate_limit_exceeded"):
            return Unavailable(text, **kwargs)
        return ModelError(text, **kwargs)
    if status == 429:
        return Throttled(text, retry_after=retry_after_seconds(retry_after), **kwargs)
    if status in (401, 403):
        return AuthError(text, **kwargs)
    if status == 408:
        return Timeout(text, **kwargs)
    if status == 424:  # TGI: the generation itself failed
        return ModelError(text, **kwargs)
    if 400 <= status < 500:
        return BadRequest(text, **kwargs)
    return Unavailable(text, retry_after=retry_after_seconds(retry_after), **kwargs)


def error_for_status(status: int, content: bytes, retry_after: str | None) -> ProviderError:
    try:
        body: Any = json.loads(content) if content else None
    except ValueError:
        body = content.decode("utf-8", "replace")[:500]
    return error_from_body(status, body, retry_after=retry_after)
