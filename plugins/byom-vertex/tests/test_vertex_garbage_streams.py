"""A stream that answers 200 with no stream at all (an empty body, ``[]``, ``null``, ``"x"``,
``42``), with bytes that are not a stream (random bytes, invalid UTF-8), or that stops
before the container's end is an error naming the endpoint, as SageMaker reports it: a
silent end is an ``Unavailable`` (``StreamEnded``), an unreadable body a ``ModelError``
(``DecodeError``), a dropped connection an ``Unavailable``. Never an empty success, never
a ProviderError wrapping a ValueError or an AttributeError.

Three layers are covered: the container's bytes (on gRPC, GAPIC REST and raw HTTP), the
GAPIC REST framing around them (a JSON array of HttpBody messages), and gRPC messages the
client cannot deserialize.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import pytest
from byom_vertex.testing import LocalVertexServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

REPLY = "one two three four"
POLICY = {"allow_loopback": True, "audit": {"sink": "memory"}}
ONE_TRY = {"max_attempts": 1}
ENDPOINT = "projects/p/locations/europe-west4/endpoints/123"

# case → the container's stream bytes (None: the first event only, then a clean end)
GARBAGE: dict[str, bytes | None] = {
    "empty": b"",
    "empty-array": b"[]",
    "null": b"null",
    "string": b'"x"',
    "number": b"42",
    "random-bytes": random.Random(7).randbytes(48),
    "invalid-utf8": b"\xff\xfenot json!!",
    "first-event-only": None,
}
UNREADABLE = {"random-bytes", "invalid-utf8"}
# transport id → model config overrides
TRANSPORTS: dict[str, dict[str, Any]] = {
    "grpc": {"transport": "grpc"},
    "rest-gapic": {"transport": "rest", "rest_raw": "gapic"},
    "rest-http": {"transport": "rest", "rest_raw": "http"},
}


def _events(model: Any, operation: str) -> list[Any]:
    if operation == "stream":
        return list(model.stream("hi"))

    async def collect() -> list[Any]:
        return [event async for event in model.astream("hi")]

    return asyncio.run(collect())


def _call(config: dict[str, Any], operation: str) -> byom_sdk.ProviderError:
    with byom_sdk.Client(models={"m": config}, policy=POLICY, retry=ONE_TRY) as client:
        model = client.model("m")
        with pytest.raises(byom_sdk.ProviderError) as info:
            events = _events(model, operation)
            pytest.fail(f"a garbage stream was a success: {events!r}")
    error = info.value
    assert error.provider == "vertex"
    return error


def _assert_expected(error: byom_sdk.ProviderError, case: str, resource: str) -> None:
    assert resource in str(error)  # names the endpoint
    if case in UNREADABLE:
        assert type(error) is byom_sdk.ModelError and error.code == "DecodeError", repr(error)
    else:
        assert type(error) is byom_sdk.Unavailable and error.code == "StreamEnded", repr(error)


def _first_event(joined: bytes) -> list[bytes]:
    return [joined.split(b"\n\n", 1)[0] + b"\n\n"]


# -- the container's bytes, through the local Vertex server ------------------------------


@pytest.fixture(scope="module", params=["vllm", "tgi", "openai"])
def garbage_server(request: pytest.FixtureRequest) -> Iterator[LocalVertexServer]:
    with LocalVertexServer(ScriptedModel([REPLY]), codec=request.param) as server:
        yield server


@pytest.fixture
def server(garbage_server: LocalVertexServer) -> Iterator[LocalVertexServer]:
    garbage_server.clear()
    yield garbage_server
    garbage_server.chunker = None
    garbage_server.clear()


@pytest.mark.parametrize("operation", ["stream", "astream"])
@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
@pytest.mark.parametrize("case", list(GARBAGE))
def test_a_garbage_or_unfinished_stream_is_an_error(server, case, transport, operation):
    body = GARBAGE[case]
    server.chunker = _first_event if body is None else (lambda joined: [body] if body else [])
    error = _call(server.model_config(timeout=10, **TRANSPORTS[transport]), operation)
    _assert_expected(error, case, server.resource)
    assert server.count("streamRawPredict") == 1


@pytest.mark.parametrize("operation", ["stream", "astream"])
@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_a_stream_whose_connection_drops_after_the_first_event_is_unavailable(server, transport, operation):
    server.inject("abort", times=1, after_chunks=1)
    error = _call(server.model_config(timeout=10, **TRANSPORTS[transport]), operation)
    assert type(error) is byom_sdk.Unavailable, repr(error)
    assert server.resource in str(error)


@pytest.mark.parametrize("operation", ["stream", "astream"])
@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_a_whole_stream_still_succeeds(server, transport, operation):
    with byom_sdk.Client(
        models={"m": server.model_config(**TRANSPORTS[transport])}, policy=POLICY, retry=ONE_TRY
    ) as client:
        events = _events(client.model("m"), operation)
    text = "".join(e.text for e in events if isinstance(e, byom_sdk.TextDelta))
    assert text == REPLY and isinstance(events[-1], byom_sdk.FinishEvent)


# -- whole HTTP bodies, from a stand-in server ---------------------------------------------


class _Answers:
    """Answers every HTTP request with ``body``: with a Content-Length (``cut`` false) or as
    one chunk of a chunked body after which the connection closes without its last chunk."""

    def __init__(self) -> None:
        self.body = b""
        self.content_type = "application/json"
        self.cut = False
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._socket.getsockname()[1]
        return port

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self._answer(conn)
                except OSError:
                    pass

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(rest) < length:
            rest += conn.recv(65536)
        ctype = self.content_type.encode()
        if self.cut:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % ctype)
            conn.sendall(b"%x\r\n%s\r\n" % (len(self.body), self.body))
            conn.shutdown(socket.SHUT_RDWR)
        else:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            conn.sendall(head % (ctype, len(self.body)) + self.body)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


@pytest.fixture(scope="module")
def answers() -> Iterator[_Answers]:
    server = _Answers()
    yield server
    server.close()


def _standin_config(port: int, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "vertex",
        "project": "p",
        "location": "europe-west4",
        "endpoint_id": "123",
        "api_endpoint": f"127.0.0.1:{port}",
        "insecure": True,
        "codec": "vllm",
        "timeout": 5,
        "credentials": {"kind": "anonymous"},
        **overrides,
    }


FIRST_CHUNK = {"id": "1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "one "}}]}
FIRST_EVENT = f"data: {json.dumps(FIRST_CHUNK)}\n\n".encode()
WRAPPED_FIRST = json.dumps({"contentType": "text/event-stream", "data": base64.b64encode(FIRST_EVENT).decode()})
# GAPIC REST body → (error class, code): the framing is a JSON array of HttpBody messages
GAPIC_BODIES: dict[str, tuple[bytes, type[byom_sdk.ProviderError], str]] = {
    "empty": (b"", byom_sdk.Unavailable, "StreamEnded"),
    "empty-array": (b"[]", byom_sdk.Unavailable, "StreamEnded"),
    "array-of-numbers": (b"[1, 2]", byom_sdk.Unavailable, "StreamEnded"),
    "null": (b"null", byom_sdk.ModelError, "DecodeError"),
    "string": (b'"x"', byom_sdk.ModelError, "DecodeError"),
    "number": (b"42", byom_sdk.ModelError, "DecodeError"),
    "random-bytes": (random.Random(7).randbytes(48), byom_sdk.ModelError, "DecodeError"),
    "invalid-utf8": (b"\xff\xfenot json!!", byom_sdk.ModelError, "DecodeError"),
    "bad-base64": (b'[{"data": "!!!not base64"}]', byom_sdk.ModelError, "DecodeError"),
    "unclosed-array": (b"[" + WRAPPED_FIRST.encode(), byom_sdk.Unavailable, "StreamEnded"),
}


@pytest.mark.parametrize("operation", ["stream", "astream"])
@pytest.mark.parametrize("case", list(GAPIC_BODIES))
def test_a_gapic_rest_stream_body_that_is_not_a_message_array_is_an_error(answers, case, operation):
    answers.body, error_type, code = GAPIC_BODIES[case]
    answers.content_type, answers.cut = "application/json", False
    error = _call(_standin_config(answers.port, transport="rest", rest_raw="gapic"), operation)
    assert type(error) is error_type and error.code == code, repr(error)
    assert ENDPOINT in str(error)


@pytest.mark.parametrize("operation", ["stream", "astream"])
@pytest.mark.parametrize("rest_raw", ["gapic", "http"])
def test_a_rest_stream_cut_after_its_first_event_is_unavailable(answers, rest_raw, operation):
    answers.body = b"[" + WRAPPED_FIRST.encode() if rest_raw == "gapic" else FIRST_EVENT
    answers.content_type = "application/json" if rest_raw == "gapic" else "text/event-stream"
    answers.cut = True
    try:
        error = _call(_standin_config(answers.port, transport="rest", rest_raw=rest_raw), operation)
    finally:
        answers.cut = False
    assert type(error) is byom_sdk.Unavailable, repr(error)
    assert ENDPOINT in str(error)


@pytest.mark.parametrize("operation", ["stream", "astream"])
@pytest.mark.parametrize("case", list(GARBAGE))
def test_a_raw_http_stream_body_of_garbage_is_an_error(answers, case, operation):
    body = GARBAGE[case]
    answers.body = FIRST_EVENT if body is None else body
    answers.content_type, answers.cut = "text/event-stream", False
    error = _call(_standin_config(answers.port, transport="rest", rest_raw="http"), operation)
    _assert_expected(error, case, ENDPOINT)


# -- gRPC messages the client cannot deserialize -------------------------------------------


@pytest.fixture(scope="module")
def undecodable_grpc_port() -> Iterator[int]:
    import grpc

    garbage = b"\xff\xfe\xfd not a protobuf"

    def unary(request: bytes, context: Any) -> bytes:
        return garbage

    def stream(request: bytes, context: Any) -> Iterator[bytes]:
        yield garbage

    handlers = grpc.method_handlers_generic_handler(
        "google.cloud.aiplatform.v1.PredictionService",
        {
            "Predict": grpc.unary_unary_rpc_method_handler(unary),
            "RawPredict": grpc.unary_unary_rpc_method_handler(unary),
            "StreamRawPredict": grpc.unary_stream_rpc_method_handler(stream),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(None).wait(5)


@pytest.mark.parametrize("codec", ["vllm", "openai"])  # predict and rawPredict
@pytest.mark.parametrize("operation", ["generate", "agenerate", "stream", "astream"])
def test_a_grpc_message_the_client_cannot_deserialize_is_a_model_error(undecodable_grpc_port, codec, operation):
    config = _standin_config(undecodable_grpc_port, transport="grpc", codec=codec)
    with byom_sdk.Client(models={"m": config}, policy=POLICY, retry=ONE_TRY) as client:
        model = client.model("m")
        with pytest.raises(byom_sdk.ModelError, match="cannot deserialize") as info:
            if operation == "generate":
                model.generate("hi")
            elif operation == "agenerate":
                asyncio.run(model.agenerate("hi"))
            else:
                _events(model, operation)
    assert info.value.code == "DecodeError" and info.value.provider == "vertex"
    assert ENDPOINT in str(info.value)
