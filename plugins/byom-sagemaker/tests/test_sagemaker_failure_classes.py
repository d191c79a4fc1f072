"""Failure classes a proxy, a gateway or the network produce (not SageMaker itself), each
typed with ``request_sent`` and ``retryable`` right: a gateway's 504 and a stream dropped
after its 200 reached an endpoint that may be generating, so they are not sent again; a TLS
failure happens before anything is sent, so it is retried; a redirect, a body that is no
event stream and header values the HTTP client would refuse are typed, not untyped
``ProviderError``s."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import byom_sagemaker._plugin as plugin
import pytest
from byom_sagemaker import SageMakerConfig, SageMakerModel

from byom_sdk import BadRequest, Client, GenerateRequest, ModelError, Timeout, Unavailable
from byom_sdk.testing import isolated_registry

Script = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.calls.append(self.path)  # type: ignore[attr-defined]
        self.server.script(self)  # type: ignore[attr-defined]


def _answer(status: int, body: bytes, content_type: str = "text/html", **headers: str) -> Script:
    def script(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return script


def _headers_then_reset(handler: BaseHTTPRequestHandler) -> None:
    """A 200 event stream whose connection is reset before its first event."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.flush()
    time.sleep(0.05)
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.rfile.close()
    handler.connection.close()
    handler.close_connection = True


def _stall(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(1.0)


@pytest.fixture
def runtime() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.calls = []  # type: ignore[attr-defined]
    server.script = _answer(200, b"[]")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _config(runtime: Any, scheme: str = "http", **extra: Any) -> dict[str, Any]:
    return {
        "endpoint_name": "ep",
        "region": "eu-west-1",
        "codec": "tgi",
        "endpoint_url": f"{scheme}://127.0.0.1:{runtime.server_address[1]}",
        "credentials": {"access_key_id": "AKID", "secret_access_key": "secret"},
        **extra,
    }


@pytest.fixture
def client_for(runtime: Any) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []
    with isolated_registry(plugin):

        def make(**extra: Any) -> Client:
            client = Client(
                models={"m": {"provider": "sagemaker", **_config(runtime, **extra)}},
                policy={"allow_loopback": True, "audit": {"sink": "memory"}},
                retry={"max_attempts": 3, "initial_backoff": 0.0, "jitter": False},
            )
            clients.append(client)
            return client

        yield make
        for client in clients:
            client.close()


def test_a_gateway_timeout_is_a_timeout_and_not_sent_again(runtime, client_for):
    runtime.script = _answer(504, b"<html>504 Gateway Time-out</html>")
    with pytest.raises(Timeout) as info:
        client_for().model("m").generate("hi")
    assert info.value.status_code == 504 and not info.value.retryable and info.value.request_sent
    assert "SageMaker endpoint 'ep'" in str(info.value)
    assert len(runtime.calls) == 1  # the endpoint behind the gateway may still be generating


@pytest.mark.parametrize("run", ["sync", "async"])
def test_a_stream_dropped_after_its_200_is_not_sent_again(runtime, client_for, run):
    runtime.script = _headers_then_reset
    model = client_for().model("m")

    async def drain() -> list[Any]:
        return [event async for event in model.astream("hi")]

    with pytest.raises(Unavailable) as info:
        list(model.stream("hi")) if run == "sync" else asyncio.run(drain())
    assert info.value.request_sent and info.value.attempts == 1
    assert len(runtime.calls) == 1


def test_a_tls_failure_is_unavailable_and_retried(runtime, client_for):
    # https spoken to a plain-HTTP server: the handshake fails before the request is written.
    with pytest.raises(Unavailable) as info:
        client_for(scheme="https").model("m").generate("hi")
    assert info.value.code == "SSLError" and info.value.retryable and not info.value.request_sent
    assert info.value.attempts == 3
    assert runtime.calls == []


def test_a_stream_answer_that_is_no_event_stream_is_a_model_error(runtime):
    runtime.script = _answer(200, b"<html><body>Please log in to the proxy</body></html>")
    with SageMakerModel(SageMakerConfig(**_config(runtime))) as model, pytest.raises(ModelError) as info:
        list(model.stream("hi"))
    assert info.value.code == "EventStreamCorrupt" and not info.value.retryable and info.value.request_sent


def test_a_redirect_is_a_bad_request_naming_the_target(runtime):
    runtime.script = _answer(307, b"", Location="https://user:pw@elsewhere.example/endpoints/ep/invocations")
    with SageMakerModel(SageMakerConfig(**_config(runtime))) as model, pytest.raises(BadRequest) as info:
        model.generate("hi")
    assert info.value.code == "redirect" and info.value.status_code == 307 and info.value.request_sent
    assert "elsewhere.example" in str(info.value) and "pw" not in str(info.value)


def test_a_read_timeout_says_the_request_was_sent(runtime):
    runtime.script = _stall
    with SageMakerModel(SageMakerConfig(**_config(runtime, read_timeout=0.2))) as model, pytest.raises(Timeout) as info:
        model.generate("hi")
    assert info.value.request_sent and not info.value.retryable


def test_a_request_id_the_header_cannot_carry_is_refused_before_sending(runtime):
    with SageMakerModel(SageMakerConfig(**_config(runtime))) as model, pytest.raises(BadRequest) as info:
        model.generate(GenerateRequest(prompt="hi", metadata={"request_id": "order\n4711"}))
    assert info.value.details["field"] == "metadata.request_id" and not info.value.request_sent
    assert runtime.calls == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endpoint_name", "ep\n"),
        ("region", "eu-west-1\n"),
        ("inference_component", "ic\nX-Injected: 1"),
        ("target_variant", "variant-ä"),
        ("target_model", "model.tar.gz\r\n"),
        ("session_id", "s\t1"),
    ],
)
def test_config_values_sent_in_the_url_or_a_header_must_be_plain(runtime, field, value):
    with pytest.raises(ValueError, match=field):
        SageMakerConfig(**_config(runtime, **{field: value}))
