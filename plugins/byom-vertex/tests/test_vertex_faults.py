"""Faults injected at the local server surface as typed byom errors with the right
``retryable`` flag, and the core RetryPolicy (the only retry layer) makes the number of
attempts the server log shows."""

from __future__ import annotations

import json

import pytest
from byom_vertex.testing import LocalVertexServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

REPLY = "one two three four five six"
RETRY = {"max_attempts": 3, "initial_backoff": 0.0, "max_backoff": 0.0, "jitter": False}
LOCAL = {"allow_loopback": True}  # the fault server is on 127.0.0.1

# fault → (error class, retryable, attempts made with max_attempts=3 when it never clears)
CASES = {
    "throttled": (byom_sdk.Throttled, True, 3),
    "unavailable": (byom_sdk.Unavailable, True, 3),
    "internal": (byom_sdk.Unavailable, True, 3),
    "deadline": (byom_sdk.Timeout, False, 1),
    "bad_request": (byom_sdk.BadRequest, False, 1),
    "unauthenticated": (byom_sdk.AuthError, False, 1),
    "permission_denied": (byom_sdk.AuthError, False, 1),
    "not_found": (byom_sdk.BadRequest, False, 1),
}


@pytest.fixture(scope="module", params=["vllm", "openai"])
def fault_server(request):
    with LocalVertexServer(ScriptedModel([REPLY]), codec=request.param) as server:
        yield server


@pytest.fixture(params=["grpc", "rest"])
def managed(request, fault_server):
    fault_server.clear()
    with byom_sdk.Client(
        models={"m": fault_server.model_config(transport=request.param)}, retry=RETRY, policy=LOCAL
    ) as client:
        yield fault_server, client.model("m")
    fault_server.clear()


def _gen_method(server):
    return "rawPredict" if server.codec == "openai" else "predict"


@pytest.mark.parametrize("kind", sorted(CASES))
def test_persistent_fault_is_typed_and_retried_per_policy(managed, kind):
    server, model = managed
    error_type, retryable, attempts = CASES[kind]
    server.inject(kind, times=10)
    with pytest.raises(error_type) as caught:
        model.generate([{"role": "user", "content": "hi"}])
    error = caught.value
    assert error.retryable is retryable
    assert error.attempts == attempts
    assert server.count(_gen_method(server)) == attempts
    assert error.provider == "vertex"
    assert server.resource in str(error)  # messages name the endpoint
    assert error.__cause__ is not None  # the google.api_core / requests error is chained
    assert type(error.__cause__).__module__.split(".")[0] in ("google", "requests")


@pytest.mark.parametrize("kind", ["throttled", "unavailable", "internal"])
def test_transient_fault_then_success(managed, kind):
    server, model = managed
    server.inject(kind, times=2)
    reply = model.generate([{"role": "user", "content": "hi"}])
    assert reply.text == REPLY
    assert server.count(_gen_method(server)) == 3


async def test_async_fault_attempts(managed):
    server, model = managed
    server.inject("throttled", times=10)
    with pytest.raises(byom_sdk.Throttled) as caught:
        await model.agenerate([{"role": "user", "content": "hi"}])
    assert caught.value.attempts == 3
    assert server.count() == 3
    server.clear()
    server.inject("deadline", times=10)
    with pytest.raises(byom_sdk.Timeout) as caught:
        await model.agenerate([{"role": "user", "content": "hi"}])
    assert caught.value.attempts == 1 and server.count() == 1


def test_error_body_with_success_status_is_detected(managed):
    server, model = managed
    server.inject("error_body", times=1, status=429)
    reply = model.generate([{"role": "user", "content": "hi"}])
    assert reply.text == REPLY
    assert server.count() == 2  # the 200-with-error body was mapped to Throttled and retried
    server.clear()
    server.inject("error_body", times=5, status=400, message="prompt too long for this container")
    with pytest.raises(byom_sdk.BadRequest, match="prompt too long") as caught:
        model.generate([{"role": "user", "content": "hi"}])
    assert caught.value.attempts == 1 and caught.value.status_code == 400


def test_client_side_deadline_is_a_timeout_and_not_retried(fault_server):
    fault_server.clear()
    config = fault_server.model_config(transport="grpc", timeout=0.3)
    with byom_sdk.Client(models={"m": config}, retry=RETRY, policy=LOCAL) as client:
        fault_server.inject("delay", seconds=1.0, times=5)
        with pytest.raises(byom_sdk.Timeout) as caught:
            client.model("m").generate([{"role": "user", "content": "hi"}])
    assert caught.value.retryable is False and caught.value.attempts == 1
    assert fault_server.count() == 1


def test_rest_read_timeout_is_a_timeout(fault_server):
    fault_server.clear()
    model = fault_server.vertex_model(transport="rest", timeout=0.3)
    fault_server.inject("delay", seconds=1.0)
    try:
        with pytest.raises(byom_sdk.Timeout):
            model.generate([{"role": "user", "content": "hi"}])
    finally:
        model.close()


def test_request_timeout_from_the_retry_deadline_is_honoured(fault_server):
    fault_server.clear()
    retry = {**RETRY, "deadline": 0.4}
    with byom_sdk.Client(models={"m": fault_server.model_config()}, retry=retry, policy=LOCAL) as client:
        fault_server.inject("delay", seconds=1.5)
        with pytest.raises(byom_sdk.Timeout):
            client.model("m").generate([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("kind", ["throttled", "unavailable"])
def test_stream_fault_before_first_event_is_retried(managed, kind):
    server, model = managed
    server.inject(kind, times=1, method="streamRawPredict")
    events = list(model.stream([{"role": "user", "content": "hi"}]))
    assert "".join(e.text for e in events if isinstance(e, byom_sdk.TextDelta)) == REPLY
    assert server.count("streamRawPredict") == 2


def test_midstream_abort_is_typed_after_the_deltas_and_not_retried(managed):
    server, model = managed
    server.inject("abort", after_chunks=3, method="streamRawPredict")
    seen = []
    with pytest.raises(byom_sdk.Unavailable) as caught:
        for event in model.stream([{"role": "user", "content": "hi"}]):
            seen.append(event)
    assert seen and all(isinstance(e, byom_sdk.TextDelta) for e in seen)
    assert REPLY.startswith("".join(e.text for e in seen))
    assert caught.value.attempts == 1
    assert server.count("streamRawPredict") == 1


async def test_async_midstream_abort(managed):
    server, model = managed
    server.inject("abort", after_chunks=2, method="streamRawPredict")
    seen = []
    with pytest.raises(byom_sdk.Unavailable):
        async for event in model.astream([{"role": "user", "content": "hi"}]):
            seen.append(event)
    assert seen and server.count("streamRawPredict") == 1


def test_error_event_in_stream_is_typed(managed):
    server, model = managed
    server.inject("error_body", status=503, method="streamRawPredict", times=5)
    with pytest.raises(byom_sdk.Unavailable) as caught:
        list(model.stream([{"role": "user", "content": "hi"}]))
    assert caught.value.attempts == 3  # nothing reached the caller, so the policy retried


def test_unreachable_endpoint_is_unavailable():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for transport, endpoint in (("grpc", f"127.0.0.1:{port}"), ("rest", f"http://127.0.0.1:{port}")):
        config = {
            "provider": "vertex",
            "project": "p",
            "location": "us-central1",
            "endpoint_id": "1",
            "transport": transport,
            "api_endpoint": endpoint,
            "insecure": True,
            "credentials": {"kind": "anonymous"},
            "timeout": 2.0,
        }
        with (
            byom_sdk.Client(models={"m": config}, retry={**RETRY, "max_attempts": 2}, policy=LOCAL) as client,
            pytest.raises(byom_sdk.Unavailable) as caught,
        ):
            client.model("m").generate("hi")
        assert caught.value.retryable and caught.value.attempts == 2


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, {"error": "Model is overloaded", "error_type": "overloaded"}, "Throttled"),
        (503, {"error": "Model is overloaded", "error_type": "overloaded"}, "Unavailable"),
        (
            422,
            {"error": "Input validation error: `max_new_tokens` must be <= 2048", "error_type": "validation"},
            "BadRequest",
        ),
        (424, {"error": "the container failed"}, "ModelError"),
        (400, {"object": "error", "message": "maximum context length is 4096 tokens", "code": 400}, "BadRequest"),
    ],
)
def test_container_error_bodies_on_raw_predict_keep_their_status_and_message(status, body, expected):
    import requests
    from byom_vertex._errors import map_exception
    from byom_vertex._http import _http_error

    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.request = requests.Request("POST", "http://127.0.0.1:9/v1/x:rawPredict").prepare()
    error = map_exception(_http_error(response), endpoint="projects/p/locations/l/endpoints/1", operation="rawPredict")
    assert type(error).__name__ == expected and error.status_code == status
    assert str(body.get("error") or body.get("message")) in str(error)
