"""What other OpenAI-style servers and gateways send: Azure ML's 424 carrying the
container's own status, rate-limit hints in OpenAI's and Azure's headers, OpenAI's
``error.param``, tool calls without ``index`` each in chunks of their own (Ollama before
0.4.7), base64 embeddings, and a request this side cannot write. Over real sockets."""

from __future__ import annotations

import array
import base64
import json
import sys

import pytest

from byom_sdk import (
    AuthError,
    BadRequest,
    EmbedRequest,
    GenerateRequest,
    ModelError,
    Throttled,
    ToolCallEvent,
    Unavailable,
)
from byom_sdk.wire import HttpTransport, decode_stream
from byom_sdk.wire._http import retry_hint
from byom_sdk.wire.openai import OpenAIChat

from ._servers import HI, RawServer, answer, completion

ERROR = json.dumps({"error": {"message": "container failed", "code": "x"}}).encode()


@pytest.mark.parametrize(
    ("inner", "expected"),
    [("429", Throttled), ("400", BadRequest), ("401", AuthError), ("503", Unavailable), ("", ModelError)],
)
def test_a_424_is_classed_by_the_containers_own_status(serve, inner, expected):
    headers = {"ms-azureml-model-error-statuscode": inner, "ms-azureml-model-error-reason": "model_error"}
    headers = {k: v for k, v in headers.items() if inner}
    provider = serve(lambda conn, _: answer(conn, ERROR, "424 Failed Dependency", **headers))
    with pytest.raises(expected) as error:
        provider.handle_generate(HI)
    assert error.value.status_code == 424
    if inner:
        assert error.value.details["model_error_status"] == int(inner)
        assert f"the model container answered HTTP {inner}" in str(error.value)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "20ms"}, 360.0),
        ({"x-ratelimit-reset-tokens": "1h2m3.5s"}, 3723.5),
        ({"x-ratelimit-reset-tokens": "soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_hints_beyond_retry_after(headers, seconds):
    assert retry_hint(headers) == seconds


def test_a_429_takes_its_hint_from_openais_reset_headers(serve):
    throttled = json.dumps({"error": {"message": "Rate limit reached", "type": "requests"}}).encode()
    provider = serve(lambda conn, _: answer(conn, throttled, "429 Too Many Requests", x_ratelimit_reset_requests="2s"))
    with pytest.raises(Throttled) as error:
        provider.handle_generate(HI)
    assert error.value.retry_after == 2.0


def test_a_400_names_openais_param(serve):
    body = {"error": {"message": "Invalid value: 9", "type": "invalid_request_error", "param": "temperature"}}
    provider = serve(lambda conn, _: answer(conn, json.dumps(body).encode(), "400 Bad Request"))
    with pytest.raises(BadRequest, match=r"Invalid value: 9 \(param: temperature\)"):
        provider.handle_generate(HI)


def test_tool_calls_without_index_in_chunks_of_their_own_stay_apart():
    def call(id_: str, name: str, arguments: str) -> bytes:
        delta = {"tool_calls": [{"id": id_, "function": {"name": name, "arguments": arguments}}]}
        return f"data: {json.dumps({'choices': [{'index': 0, 'delta': delta}]})}\n\n".encode()

    end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    parts = [call("c1", "f", '{"x":1}'), call("c2", "g", "{}"), f"data: {json.dumps(end)}\n\n".encode()]
    calls = [e.tool_call for e in decode_stream(OpenAIChat(), parts) if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [("c1", "f", {"x": 1}), ("c2", "g", {})]


def test_openai_fragments_of_one_call_still_join():
    first = {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"x"'}}]}
    rest = {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}
    again = {"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": ""}}]}  # vLLM repeats the id
    end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    parts = [
        f"data: {json.dumps({'choices': [{'index': 0, 'delta': d}]})}\n\n".encode() for d in (first, rest, again)
    ] + [f"data: {json.dumps(end)}\n\n".encode()]
    calls = [e.tool_call for e in decode_stream(OpenAIChat(), parts) if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [("c1", "f", '{"x":1}')]


def _base64(values: list[float]) -> str:
    packed = array.array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()


def test_base64_embeddings_are_decoded(serve):
    data = [{"index": 1, "embedding": _base64([0.0, 1.0])}, {"index": 0, "embedding": _base64([0.5, -2.0])}]
    provider = serve(lambda conn, _: answer(conn, json.dumps({"data": data}).encode()))
    reply = provider.handle_embed(EmbedRequest(texts=("a", "b")))
    assert reply.vectors == ((0.5, -2.0), (0.0, 1.0))


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"abc").decode()])
def test_an_embedding_string_that_is_no_float32_vector_is_a_model_error(serve, bad):
    provider = serve(lambda conn, _: answer(conn, json.dumps({"data": [{"index": 0, "embedding": bad}]}).encode()))
    with pytest.raises(ModelError):
        provider.handle_embed(EmbedRequest(texts=("a",)))


def test_a_request_this_side_cannot_write_is_a_bad_request_not_a_dropped_connection():
    server = RawServer(lambda conn, _: answer(conn, json.dumps(completion("hi")).encode()))
    transport = HttpTransport(
        f"http://127.0.0.1:{server.port}/v1",
        {"generate": "/chat/completions"},
        headers={"Authorization": "Bearer k\nx"},  # a key read from a file, its newline kept
        timeout=2.0,
        connect_timeout=1.0,
        provider="t",
    )
    try:
        with pytest.raises(BadRequest, match="cannot be sent") as error:
            transport.call("generate", {"messages": []}, GenerateRequest(prompt="hi"))
        assert not error.value.retryable and not error.value.request_sent
        assert server.requests == 0
    finally:
        transport.close()
        server.close()


def test_url_credentials_go_as_a_basic_header_never_in_the_url(caplog):
    import logging

    server = RawServer(lambda conn, _: answer(conn, json.dumps(completion("hi")).encode()))
    transport = HttpTransport(
        f"http://bob:pa%40ss@127.0.0.1:{server.port}/v1",
        {"generate": "/chat/completions"},
        headers={},
        timeout=2.0,
        connect_timeout=1.0,
        provider="t",
    )
    try:
        with caplog.at_level(logging.INFO, logger="httpx"):
            transport.call("generate", {"messages": []}, GenerateRequest(prompt="hi"))
    finally:
        transport.close()
        server.close()
    token = base64.b64encode(b"bob:pa@ss").decode()
    lines = server.heads[0].decode().split("\r\n")[1:]
    sent = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    assert sent["authorization"] == f"Basic {token}"
    assert transport.base_url == f"http://127.0.0.1:{server.port}/v1"
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request" in logged and "bob" not in logged and "pa%40ss" not in logged
