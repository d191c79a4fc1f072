"""Wire regressions fixed for Vertex over REST: the call's timeout bounds a whole stream
(requests' timeout bounds each read only), a stream is read to its end so its connection is
reused instead of dropped, a container's own error object keeps its class on every REST
path, and a request the endpoint received is not sent again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from byom_vertex import VertexConfig, VertexModel

import byom_sdk
from byom_sdk import BadRequest, TextDelta, Throttled, Timeout, Unavailable


class _Trickle(BaseHTTPRequestHandler):
    """``:streamRawPredict`` answering OpenAI chunks, one every ``gap`` seconds."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable

    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: Any = self.server
        server.peers.add(self.client_address)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index in range(server.chunks):
            record = {"choices": [{"index": 0, "delta": {"content": f"t{index} "}, "finish_reason": None}]}
            self._chunk(b"data: " + json.dumps(record).encode() + b"\n\n")
            time.sleep(server.gap)
        self._chunk(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError:
            pass


@pytest.fixture
def trickle() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.peers = set()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _model(server: Any, **extra: Any) -> VertexModel:
    return VertexModel(
        VertexConfig(
            project="p",
            location="europe-west4",
            endpoint_id="1",
            transport="rest",
            api_endpoint=f"http://127.0.0.1:{server.server_address[1]}",
            insecure=True,
            credentials={"kind": "anonymous"},
            **{"codec": "openai", **extra},
        )
    )


def test_the_timeout_bounds_the_whole_rest_stream(trickle):
    trickle.chunks, trickle.gap = 100, 0.3  # 30 s of pieces, each well inside the read timeout
    with _model(trickle, timeout=1.0) as model:
        model.transport._http_client()  # build the HTTP session (and import google.auth) first
        seen = []
        started = time.perf_counter()
        with pytest.raises(Timeout):
            for event in model.stream([{"role": "user", "content": "hi"}]):
                seen.append(event)
        elapsed = time.perf_counter() - started
    # Before the fix the stream ran its full 30 s: each 0.3 s read was inside the timeout.
    assert 0.8 < elapsed < 2.5, elapsed
    assert 1 <= len(seen) <= 5 and all(isinstance(e, TextDelta) for e in seen)


def test_rest_streams_reuse_their_connection(trickle):
    trickle.chunks, trickle.gap = 2, 0.0
    with _model(trickle) as model:
        for _ in range(3):
            events = list(model.stream([{"role": "user", "content": "hi"}]))
            assert events[-1].finish_reason == "stop"
    assert len(trickle.peers) == 1, trickle.peers


class _JsonHandler(BaseHTTPRequestHandler):
    """A keep-alive handler, silent, that answers JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return None

    def _json(self, status: int, payload: Any, *, cut_after: int | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data if cut_after is None else data[:cut_after])


class _Scripted(_JsonHandler):
    """Answers every POST as ``server.mode`` says: a container's own error object, or a
    connection dropped after the request was read (before the answer, or inside it)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: Any = self.server
        server.requests += 1
        mode = server.mode
        if mode == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if mode == "cut":
            message = {"role": "assistant", "content": "Hello"}
            answer = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
            self._json(200, {"predictions": ["Hello"]} if ":predict" in self.path else answer, cut_after=10)
            self.wfile.flush()
            self.close_connection = True
            self.connection.close()
            return
        status, error = mode
        self._json(status, error)


@pytest.fixture
def scripted() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.daemon_threads = True
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


_TGI_ERRORS = [
    ((429, {"error": "Model is overloaded", "error_type": "overloaded"}), Throttled, True),
    ((503, {"error": "Model is loading", "error_type": "unavailable"}), Unavailable, True),
    ((422, {"error": "Input validation error: too many tokens", "error_type": "validation"}), BadRequest, False),
]


@pytest.mark.parametrize(("mode", "kind", "retryable"), _TGI_ERRORS, ids=["429", "503", "422"])
@pytest.mark.parametrize(("codec", "rest_raw"), [("vllm", "gapic"), ("openai", "gapic"), ("openai", "http")])
def test_a_containers_own_error_object_keeps_its_class_on_every_rest_path(
    scripted, mode, kind, retryable, codec, rest_raw
):
    """google-api-core's from_http_response cannot read a string ``error`` (it failed with an
    AttributeError, a generic ProviderError): a 429 was neither throttled nor retried."""
    scripted.mode = mode
    with _model(scripted, codec=codec, rest_raw=rest_raw) as model:
        for run in (lambda: model.generate("hi"), lambda: list(model.stream("hi"))):
            with pytest.raises(kind) as caught:
                run()
            assert caught.value.retryable is retryable
            assert mode[1]["error"] in str(caught.value)


@pytest.mark.parametrize("mode", ["drop", "cut"])
@pytest.mark.parametrize(("codec", "rest_raw"), [("vllm", "http"), ("openai", "http"), ("openai", "gapic")])
def test_a_request_the_endpoint_received_is_not_sent_again(scripted, mode, codec, rest_raw):
    """A connection dropped once the request was written (before the answer, or inside
    it): the endpoint may have generated the answer; the retry policy resends only what
    never left (architecture.md)."""
    scripted.mode = mode
    config = {
        "provider": "vertex",
        "project": "p",
        "location": "europe-west4",
        "endpoint_id": "1",
        "transport": "rest",
        "codec": codec,
        "rest_raw": rest_raw,
        "api_endpoint": f"http://127.0.0.1:{scripted.server_address[1]}",
        "insecure": True,
        "credentials": {"kind": "anonymous"},
    }
    policy = {"allow_loopback": True, "audit": {"sink": "memory"}}
    client = byom_sdk.Client(models={"m": config}, policy=policy, retry={"max_attempts": 3})
    with client, pytest.raises(Unavailable) as caught:
        client.model("m").generate("hi")
    assert caught.value.request_sent is True
    assert scripted.requests == 1


class _ExpiringToken(_JsonHandler):
    """Answers 401 (Google's shape) until the request carries the refreshed token."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: Any = self.server
        server.seen.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") == "Bearer fresh":
            self._json(200, {"predictions": ["Hello"]})
        else:
            self._json(401, {"error": {"code": 401, "message": "expired", "status": "UNAUTHENTICATED"}})


def test_an_expired_token_is_refreshed_and_the_call_resent_on_the_gapic_rest_path():
    """google-auth refreshes on a 401 and resends: the hook that reads containers' own
    error objects must leave a 401 to it."""
    import google.auth.credentials
    from byom_vertex._gapic import sync_client

    class Expiring(google.auth.credentials.Credentials):
        def __init__(self) -> None:
            super().__init__()
            self.token = "stale"

        @property
        def expired(self) -> bool:
            return False

        @property
        def valid(self) -> bool:
            return True

        def refresh(self, request: Any) -> None:
            self.token = "fresh"

    server = ThreadingHTTPServer(("127.0.0.1", 0), _ExpiringToken)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = VertexConfig(
            project="p",
            location="europe-west4",
            endpoint_id="1",
            transport="rest",
            codec="vllm",
            api_endpoint=f"http://127.0.0.1:{server.server_address[1]}",
            insecure=True,
            credentials={"kind": "anonymous"},
        )
        client = sync_client(config, Expiring())
        answer = client.predict(endpoint=config.resource, instances=[{"prompt": "hi"}], timeout=5)
        assert list(answer.predictions) == ["Hello"]
        assert server.seen == ["Bearer stale", "Bearer fresh"]  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
