"""Wire details of byom-openai-compat: SSE parsing, error mapping, faults over real sockets.

The protocol and transport are byom_sdk.wire's (shared with every other provider); these
tests hold them to what real OpenAI-compatible servers send."""

import asyncio
import email.utils
import json
import socket
import subprocess
import sys
import time

import pytest
from byom_openai_compat import OpenAICompatConfig, OpenAICompatModel
from byom_openai_compat.testing import OpenAICompatServer

import byom_sdk
from byom_sdk import (
    AuthError,
    BadRequest,
    GenerateRequest,
    ModelError,
    TextDelta,
    Throttled,
    Timeout,
    Unavailable,
)
from byom_sdk.wire import DONE, LineDecoder, error_for_status
from byom_sdk.wire.openai import OpenAIChat, OpenAICompletions


def error_from_body(status, body, retry_after=None):
    content = json.dumps(body).encode() if body is not None else b""
    return error_for_status(status, content, retry_after=retry_after, provider="openai-compat", where="server")


def iter_sse_data(lines):
    """The JSON payloads the shared line decoder reads from SSE lines, up to [DONE]."""
    decoder = LineDecoder()
    records = []
    for line in lines:
        records.extend(decoder.feed(line.encode() + b"\n"))
    records.extend(decoder.close())
    out = []
    for record in records:
        if record is DONE:
            break
        out.append(json.dumps(record, separators=(",", ":")))
    return out


HELLO = [{"role": "user", "content": "hello there general kenobi"}]


def model_for(url, **kw):
    return OpenAICompatModel(OpenAICompatConfig(base_url=url, model="scripted", **kw))


# -- SSE ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['data: {"a":1}', "", "data: [DONE]", ""], ['{"a":1}']),
        (['data:{"a":1}', ""], ['{"a":1}']),  # TGI: no space after the colon
        ([": keep-alive", "", 'data: {"a":1}', ""], ['{"a":1}']),  # comment lines
        (["event: message", "id: 7", 'data: {"a":1}', ""], ['{"a":1}']),
        (['data: {"a":1}', "", "data: [DONE]", "", 'data: {"b":2}', ""], ['{"a":1}']),
        (['data: {"a":1}'], ['{"a":1}']),  # no trailing blank line at EOF
    ],
)
def test_sse_parser_is_tolerant(lines, expected):
    """Framing variants of real servers all give the same data payloads."""
    assert list(iter_sse_data(iter(lines))) == expected


# -- request bodies ---------------------------------------------------------------------------


def test_chat_body_asks_for_usage_in_streams():
    """Streams send stream_options.include_usage; extra passes through untouched."""
    request = GenerateRequest(messages=HELLO, max_tokens=5, stop=("x",), temperature=0.0, extra={"top_k": 3})
    body = OpenAIChat(model="m").encode_generate(request, stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hello there general kenobi"}]
    assert (body["max_tokens"], body["stop"], body["temperature"], body["top_k"]) == (5, ["x"], 0.0, 3)
    assert "stream" not in OpenAIChat(model="m").encode_generate(request, stream=False)
    plain = OpenAICompletions(model="m", include_usage=False).encode_generate(GenerateRequest(prompt="hi"), stream=True)
    assert plain["prompt"] == "hi" and "stream_options" not in plain


# -- error mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "cls", "retryable"),
    [
        (429, {"error": {"message": "slow", "code": "rate_limit_exceeded"}}, Throttled, True),
        (401, {"error": {"message": "bad key"}}, AuthError, False),
        (403, {"detail": "forbidden"}, AuthError, False),
        (408, None, Timeout, False),
        (400, {"error": {"message": "bad", "type": "invalid_request_error"}}, BadRequest, False),
        (404, {"detail": "no such model"}, BadRequest, False),
        (422, {"error": "Input validation error", "error_type": "validation"}, BadRequest, False),
        (424, {"error": "CUDA error", "error_type": "generation"}, ModelError, False),
        (500, {"message": "boom"}, Unavailable, True),
        (503, {"error": "overloaded", "error_type": "overloaded"}, Unavailable, True),
    ],
)
def test_status_mapping(status, body, cls, retryable):
    """Each HTTP status maps to its core error, keeping the server's message and status."""
    error = error_from_body(status, body)
    assert type(error) is cls and error.retryable is retryable
    assert error.status_code == status and error.provider == "openai-compat"
    if isinstance(body, dict):
        message = body.get("detail") or body.get("message") or body["error"]
        message = message["message"] if isinstance(message, dict) else message
        assert message in str(error)


def test_retry_after_seconds_and_http_date():
    """Retry-After is read as delta-seconds or as an HTTP date."""
    assert error_from_body(429, None, retry_after="3").retry_after == 3.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= error_from_body(429, None, retry_after=later).retry_after <= 31


# -- over sockets -----------------------------------------------------------------------------


def test_throttled_carries_retry_after(openai_server):
    with model_for(openai_server.fault_url("throttled")) as model, pytest.raises(Throttled) as info:
        model.generate(HELLO)
    assert info.value.retry_after == 1.0 and info.value.status_code == 429


def test_auth_fault_and_wrong_key():
    """401 from a server (scenario or real key check) is AuthError, not retried."""
    with OpenAICompatServer(api_key="sekret") as server:
        with model_for(server.base_url, api_key="wrong") as model, pytest.raises(AuthError):
            model.generate(HELLO)
        with model_for(server.base_url, api_key="sekret") as model:
            assert model.generate(HELLO).text == "echo: hello there general kenobi"


def test_connection_refused_and_disconnect_are_unavailable(openai_server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with model_for(f"http://127.0.0.1:{port}/v1") as model, pytest.raises(Unavailable) as info:
        model.generate(HELLO)
    assert "cannot connect" in str(info.value) and info.value.__cause__ is not None
    with model_for(openai_server.fault_url("disconnect")) as model, pytest.raises(Unavailable):
        model.generate(HELLO)


def test_request_timeout_is_the_read_timeout(openai_server):
    """A request's own timeout (set by the retry policy) cuts the read short."""
    with model_for(openai_server.fault_url("timeout"), timeout=30.0) as model:
        started = time.perf_counter()
        with pytest.raises(Timeout):
            model.generate(GenerateRequest(messages=HELLO, timeout=0.2))
        assert time.perf_counter() - started < 0.9


def test_error_mid_stream_after_first_delta(openai_server):
    """An in-stream error chunk raises ModelError after the text already delivered."""
    with model_for(openai_server.fault_url("stream_error")) as model:
        seen = []
        with pytest.raises(ModelError, match="mid-stream"):
            for event in model.stream(HELLO):
                seen.append(event)
        assert seen and isinstance(seen[0], TextDelta)

        async def drain():
            async for _ in model.astream(HELLO):
                pass

        with pytest.raises(ModelError):
            asyncio.run(drain())


def test_stream_without_usage_still_finishes(openai_server):
    """With stream_usage off the server sends no usage; the stream still ends in one FinishEvent."""
    with model_for(openai_server.base_url, stream_usage=False) as model:
        events = list(model.stream(HELLO, max_tokens=2))
    assert events[-1].type == "finish" and events[-1].usage.source == "estimate"
    assert events[-1].finish_reason == "length"
    assert "".join(e.text for e in events if e.type == "text") == "echo: hello"


def test_client_retries_throttling_through_the_registry(openai_server):
    """Via the entry point and the Client, a 429 is retried by the core policy and then raised."""
    client = byom_sdk.Client(
        models={
            "ok": {"provider": "openai-compat", "base_url": openai_server.base_url, "model": "scripted"},
            "busy": {
                "provider": "openai-compat",
                "base_url": openai_server.fault_url("throttled"),
                "model": "scripted",
                "retry": {"max_attempts": 2, "initial_backoff": 0.0, "max_backoff": 0.0},
            },
        },
        trust="off",
    )
    with client:
        assert client.model("ok").generate(HELLO, max_tokens=1).text == "echo:"
        with pytest.raises(Throttled) as info:
            client.model("busy").generate(HELLO)
        assert info.value.attempts == 2


def test_plugin_module_does_not_import_httpx():
    """Loading the entry point (what byom does at startup) stays light."""
    code = "import sys, byom_openai_compat._plugin; assert 'httpx' not in sys.modules, 'httpx imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_calls_after_close_raise_byom_error(openai_server):
    model = model_for(openai_server.base_url)
    model.close()
    with pytest.raises(byom_sdk.ByomError, match="closed"):
        model.generate(HELLO)
    with pytest.raises(byom_sdk.ByomError, match="closed"):
        asyncio.run(model.agenerate(HELLO))
